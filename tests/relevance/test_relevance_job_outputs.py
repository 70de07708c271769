"""`polarlab status`, `report` and `export` of a relevance project (a job of its own, :mod:`polarlab.jobs`): real
runs on the tiny SciFact folder, a real SQLite state; the embedded LLM in the slow test."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from polarlab.cli.main import app


def _project(tmp_path, beir, relevance: str) -> str:
    (tmp_path / "p.toml").write_text(f'[task]\nkind = "relevance"\n[data]\nbeir = "{beir}"\n[relevance]\n{relevance}'
                                     '[project]\nstate_dir = "st"\n', encoding="utf-8")
    return str(tmp_path / "p.toml")


def _status(project: str) -> dict:
    res = CliRunner().invoke(app, ["status", project, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_status_report_and_export_of_a_bm25_relevance_project(tiny_beir, tmp_path):
    """A bm25 run: metrics.json current (stale once the settings change), the report's nDCG@10 is metrics.json's,
    and export says that only the POLAR methods label pairs."""
    project = _project(tmp_path, tiny_beir, 'methods = ["bm25"]\n')
    res = CliRunner().invoke(app, ["run", project, "--no-progress"])
    assert res.exit_code == 0, res.output
    st = _status(project)
    assert st["kind"] == "relevance" and st["runs"]["count"] == 1
    assert st["outputs"] == {"metrics": {"path": str((tmp_path / "out" / "metrics.json").resolve()),
                                         "status": "current"}}
    assert st["llm"] == {"last_run": {}, "total": {}} and st["counts"] == {}
    res = CliRunner().invoke(app, ["report", project])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "out" / "report.html").read_text()
    ndcg = json.loads((tmp_path / "out" / "metrics.json").read_text())["retrievers"]["bm25"]["ndcg@10"]
    assert f"<td>bm25</td><td>{ndcg:.3f}</td>" in html and "Retrieval quality" in html
    res = CliRunner().invoke(app, ["export", project, "--format", "csv"])
    assert res.exit_code != 0 and "wrote no relevance labels" in res.output
    (tmp_path / "p.toml").write_text((tmp_path / "p.toml").read_text().replace('["bm25"]', '["bm25", "dense"]'))
    assert _status(project)["outputs"]["metrics"]["status"] == "stale"
    import shutil

    shutil.rmtree(tmp_path / "st")          # as a run from before runs were recorded left the project
    st = _status(project)
    assert st["runs"]["count"] == 0 and st["outputs"]["metrics"]["status"] == "predates run records"
    assert st["outputs"]["metrics"]["path"] == str((tmp_path / "out" / "metrics.json").resolve())



def test_status_tracks_every_file_a_relevance_run_writes(tiny_beir, tmp_path):
    """A bm25 + supervised run writes metrics.json and the trained retriever (its folder in the state); status
    tracks both, where the project says the run writes them: the retriever moved away is "missing", back
    "current", a file of it removed "changed since written"; without run records both predate them."""
    import shutil

    from polarlab.relevance.job import paths

    project = _project(tmp_path, tiny_beir, 'methods = ["bm25", "supervised"]\n')
    res = CliRunner().invoke(app, ["run", project, "--no-progress"])
    assert res.exit_code == 0, res.output
    model = tmp_path / "st" / "models" / "supervised"
    st = _status(project)
    assert {k: (o["status"], o["path"]) for k, o in st["outputs"].items()} == {
        "metrics": ("current", str((tmp_path / "out" / "metrics.json").resolve())),
        "model (supervised)": ("current", str(model.resolve()))}
    assert {k: str(p.resolve()) for k, p in paths(project).outputs.items()} == {
        k: o["path"] for k, o in st["outputs"].items()}
    assert f"wrote model (supervised): {model}" in " ".join(res.output.split())
    model.rename(tmp_path / "moved")
    st = _status(project)
    assert st["outputs"]["model (supervised)"]["status"] == "missing" and st["outputs"]["metrics"]["status"] == "current"
    (tmp_path / "moved").rename(model)
    assert _status(project)["outputs"]["model (supervised)"]["status"] == "current"
    weights = max((p for p in model.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    weights.unlink()
    assert _status(project)["outputs"]["model (supervised)"]["status"] == "changed since written"
    for p in (tmp_path / "st").glob("state.sqlite*"):         # as a run from before runs were recorded left it
        p.unlink()
    st = _status(project)
    assert st["runs"]["count"] == 0 and {k: o["status"] for k, o in st["outputs"].items()} == {
        "metrics": "predates run records", "model (supervised)": "predates run records"}
    shutil.rmtree(model)

@pytest.mark.slow
def test_a_polar_relevance_run_records_its_llm_calls_and_exports_its_labels(tiny_beir, tmp_path):
    """The embedded LLM judges the pool pairs: the first run's judgements are model calls, the second run's cache
    hits; status, metrics.json and the report say so; export holds every labelled pair with its method."""
    pytest.importorskip("llama_cpp")
    project = _project(tmp_path, tiny_beir, 'methods = ["polar"]\nbudget = 4\npool_depth = 2\nllm_threads = 1\n'
                                            'hard_negatives = 1\n')
    assert CliRunner().invoke(app, ["run", project, "--no-progress"]).exit_code == 0
    st = _status(project)
    first = st["llm"]["last_run"]["relevance judge"]
    assert first["calls"] >= 4 and first["cache_hits"] == 0       # 4 pairs (+ content-free calibration prompts)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["llm_usage"]["relevance judge"] == first
    labels = pd.read_csv(tmp_path / "out" / "labels_polar.csv")
    assert st["counts"]["pairs (polar)"] == len(labels) and st["counts"]["llm_judged (polar)"] == 4
    assert CliRunner().invoke(app, ["run", project, "--no-progress"]).exit_code == 0
    st = _status(project)
    again = st["llm"]["last_run"]["relevance judge"]
    assert again["calls"] == 0 and again["cache_hits"] == first["calls"]
    assert st["llm"]["total"]["relevance judge"]["calls"] == first["calls"]
    res = CliRunner().invoke(app, ["report", project])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>relevance judge</td>" in html and "<td>polar</td><td>polar</td><td>4</td>" in html
    res = CliRunner().invoke(app, ["export", project, "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    got = pd.read_json(tmp_path / "out" / "export" / "relevance.jsonl", lines=True, dtype=False)
    assert list(got.columns) == ["method", *labels.columns] and len(got) == len(labels)
    assert set(got["method"]) == {"polar"} and f"wrote {len(labels)} pairs" in res.output
    # status tracks every file the run wrote, where the project says it writes them; one deleted is "missing"
    from polarlab.relevance.job import paths

    assert set(st["outputs"]) == {"labels (polar)", "metrics", "model (polar)"}
    assert {k: str(p.resolve()) for k, p in paths(project).outputs.items()} == {
        k: o["path"] for k, o in st["outputs"].items()}
    (tmp_path / "out" / "labels_polar.csv").unlink()
    st = _status(project)
    assert st["outputs"]["labels (polar)"]["status"] == "missing"
    assert {o["status"] for k, o in st["outputs"].items() if k != "labels (polar)"} == {"current"}

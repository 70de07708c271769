"""`polarlab status`, `report` and `export` of a linking project (a job of its own, :mod:`polarlab.jobs`): real runs
of the tiny corpus (exact and sparse linkers, POLAR, the LLM linker over a registered scoring backend as in
test_linking_llm.py), a real SQLite state and answer cache."""
from __future__ import annotations

import json

import pandas as pd
from test_linking import corpus  # noqa: F401  (the tiny ontology and corpus fixture)
from test_linking_llm import FakeBackend
from typer.testing import CliRunner

from polarlab.cli.main import app


def _status(project) -> dict:
    res = CliRunner().invoke(app, ["status", str(project), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_status_report_and_export_of_a_linking_project(corpus, monkeypatch):  # noqa: F811
    """Two runs: status lists the labels, review, metrics and candidates files as current, the mentions linked, and the LLM
    linker's calls (first run) against its cache hits (second run, no call); metrics.json records them too. The
    report has acc@1/@5 and the risk's calibration; the exports hold the labels file's rows."""
    from polarlab.llm.backends import LLM_BACKENDS, BackendSettings, register_llm_backend

    class FakeSettings(BackendSettings):
        prefer: str = "carcinoma"

    monkeypatch.setattr("polarlab.llm.backends.LLM_BACKENDS", dict(LLM_BACKENDS))   # registered for this test only
    register_llm_backend("fake_linking", FakeSettings, lambda cfg: FakeBackend(cfg.prefer))
    project = corpus / "link.toml"
    project.write_text('[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\n'
                       'corpus = ["corpus/test_corpus.txt"]\nlinkers = ["exact", "sparse"]\nself_train_risk = 0\n'
                       'review = 3\n[linking.llm]\nbackend = "fake_linking"\n[output]\ndir = "out"\n', encoding="utf-8")
    assert _status(project)["runs"]["count"] == 0
    res = CliRunner().invoke(app, ["run", str(project)])
    assert res.exit_code == 0, res.output
    st = _status(project)
    assert {k: o["status"] for k, o in st["outputs"].items()} == {"labels": "current", "review": "current",
                                                                  "metrics": "current", "candidates": "current"}
    frame = pd.read_csv(corpus / "out" / "links.csv", dtype=str, keep_default_na=False)
    assert len(frame) == 7 and st["counts"] == {"mentions": 7, "linked": int((frame["linked_id"] != "").sum())}
    first = st["llm"]["last_run"]["llm linker"]
    assert first["calls"] > 0 and first["cache_hits"] == 0 and first["requests"] == first["calls"]
    metrics = json.loads((corpus / "out" / "metrics.json").read_text())
    assert metrics["llm_usage"] == st["llm"]["last_run"]

    res = CliRunner().invoke(app, ["run", str(project)])
    assert res.exit_code == 0, res.output
    st = _status(project)
    again = st["llm"]["last_run"]["llm linker"]
    assert again["calls"] == 0 and again["cache_hits"] == first["calls"]
    assert st["llm"]["total"]["llm linker"] == {"calls": first["calls"], "cache_hits": first["calls"],
                                                "tokens_in": 0, "tokens_out": 0, "cost": 0.0}
    text = CliRunner().invoke(app, ["status", str(project)], terminal_width=200)
    assert f"LLM llm linker: last run 0 calls, {first['calls']} cache hits" in text.output

    res = CliRunner().invoke(app, ["report", str(project)])
    assert res.exit_code == 0, res.output
    html = (corpus / "out" / "report.html").read_text()
    h = json.loads((corpus / "out" / "metrics.json").read_text())["harmonized"]
    assert "acc@1 mappable" in html and f"<td>harmonized (POLAR)</td><td>{h['acc1_mappable']:.3f}</td>" in html
    assert f"<td>{h['calibration']['ece']:.3f}</td>" in html and h["risk_ece"] == h["calibration"]["ece"]
    assert "<td>llm linker</td>" in html

    for fmt in ("jsonl", "parquet"):
        res = CliRunner().invoke(app, ["export", str(project), "--format", fmt])
        assert res.exit_code == 0, res.output
        path = corpus / "out" / "export" / f"linking.{fmt}"
        got = pd.read_json(path, lines=True, dtype=False) if fmt == "jsonl" else pd.read_parquet(path)
        assert got["mention"].tolist() == frame["mention"].tolist() and "wrote 7 links" in res.output
        assert got["linked_id"].tolist() == frame["linked_id"].tolist()
    res = CliRunner().invoke(app, ["export", str(project), "--format", "conll"])
    assert res.exit_code == 2 and "use one of ['csv', 'jsonl', 'parquet']" in res.output

    # the same outputs left by a run from before runs were recorded: they exist, predating the records
    recorded = st["outputs"]
    import shutil

    shutil.rmtree(corpus / ".polarlab")
    st = _status(project)
    assert st["runs"]["count"] == 0 and {k: (o["path"], o["status"]) for k, o in st["outputs"].items()} == {
        k: (o["path"], "predates run records") for k, o in recorded.items()}

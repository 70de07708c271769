"""`polarlab run` on a relevance project prints the table of `polarlab bench relevance`, from its metrics.json,
when the project has qrels to score against, and none when it has none."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from polarlab.cli.main import app


def _table_rows(output: str, n_columns: int) -> dict[str, list[str]]:
    """A rich table's body rows in ``output``: first cell -> the other cells."""
    return {cells[0]: cells[1:] for ln in output.splitlines() if ln.count("│") == n_columns + 1
            for cells in [[c.strip() for c in ln.split("│")[1:-1]]]}


def _project(path, beir) -> None:
    """The retrievers that need no LLM (the packaged MiniLM is real, fine-tuned on the train qrels by
    ``supervised``): seconds on the tiny SciFact cut."""
    path.write_text(f'[task]\nkind = "relevance"\n[data]\nbeir = "{beir}"\n[relevance]\n'
                    'methods = ["bm25", "dense", "fusion", "supervised"]\n[project]\nstate_dir = "state"\n')


def test_run_prints_the_retrieval_table_of_its_metrics_when_there_are_qrels(tiny_beir, tmp_path):
    _project(tmp_path / "polarlab.toml", tiny_beir)
    res = CliRunner().invoke(app, ["run", str(tmp_path / "polarlab.toml"), "--no-progress"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert f"{tiny_beir.name}: test split" in res.output
    rows = _table_rows(res.output, 6)
    assert set(rows) == set(metrics["retrievers"]) == {"bm25", "dense", "fusion", "supervised"}
    for name, m in metrics["retrievers"].items():
        hy = m.get("with_bm25")
        assert rows[name] == [f"{m['ndcg@10']:.3f}", f"{m['recall@100']:.3f}",
                              f"{hy['ndcg@10']:.3f} / {hy['recall@100']:.3f}" if hy else "", str(m["llm_calls"]),
                              f"{m['seconds']:.0f}"], name
    assert len({r[0] for r in rows.values()}) > 1           # the rows are the methods' own, not one copied
    assert rows["supervised"][2]                             # a trained retriever's fusion with BM25
    out = " ".join(res.output.split())
    compared = {k: c for k, c in metrics["comparisons"].items() if k != "target"}
    assert compared
    for name, c in compared.items():
        assert f"nDCG@10 {name}: {c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}]" in out
    assert res.output.index("test split") < res.output.index("wrote metrics")


def test_run_prints_no_table_without_qrels(tiny_beir_no_qrels, tmp_path):
    _project(tmp_path / "polarlab.toml", tiny_beir_no_qrels)
    res = CliRunner().invoke(app, ["run", str(tmp_path / "polarlab.toml")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["skipped"]["methods"]) == {"bm25", "dense", "fusion", "supervised"}
    assert "test split" not in res.output and not _table_rows(res.output, 6) and "nDCG@10 /" not in res.output
    assert "bm25: skipped, no test qrels" in res.output and "wrote metrics" in res.output


def _strict_json(path) -> dict:
    """``path`` read as strict JSON (NaN / Infinity refused)."""
    def refuse(token: str):
        raise ValueError(f"{path} holds {token}, not strict JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_run_with_train_qrels_only_says_what_it_skipped_and_why(tiny_beir_train_qrels_only, tmp_path):
    """Train qrels and no test qrels: `supervised` trains on them, the methods that only measure are skipped, and
    the report (not only the progress log, off here) names each skip and its reason; no table of empty scores."""
    _project(tmp_path / "polarlab.toml", tiny_beir_train_qrels_only)
    res = CliRunner().invoke(app, ["run", str(tmp_path / "polarlab.toml"), "--no-progress"])
    assert res.exit_code == 0, res.output
    metrics = _strict_json(tmp_path / "out" / "metrics.json")
    assert set(metrics["skipped"]["methods"]) == {"bm25", "dense", "fusion"}
    assert set(metrics["skipped"]["metrics"]) == {"test metrics"}
    assert set(metrics["retrievers"]) == {"supervised"} and "ndcg@10" not in metrics["retrievers"]["supervised"]
    out = " ".join(res.output.split())
    for group in ("methods", "metrics"):
        for what, why in metrics["skipped"][group].items():
            assert "test.tsv" in why
            assert f"skipped {what}: {' '.join(why.split())}" in out, what
    assert "test split" not in res.output and not _table_rows(res.output, 6)
    assert f"supervised: trained on {metrics['retrievers']['supervised']['triplets']} triplets, model " \
           f"{metrics['retrievers']['supervised']['model']} (no test metrics)" in out
    assert out.index("skipped test metrics") < out.index("wrote metrics")

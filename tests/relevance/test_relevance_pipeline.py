"""A small end-to-end run with the real parts: the packaged MiniLM (fine-tuned for a step or two), the
embedded Gemma 3 270M judging a handful of pairs, POLAR, ARL2 self-training, `polarlab retrieve`."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.relevance import load_beir, make_config, run_relevance
from polarlab.relevance.candidates import DenseRetriever

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.slow


def test_recipe_check_is_gold_free_and_picks_a_recipe(tiny_beir, tmp_path):
    """benchmarks/relevance_recipe.py trains a recipe on the fit claims and scores it on held-out claims'
    harmonized labels (of the qrels it reads only which claims are train claims); it runs without train qrels."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "relevance_recipe.py"
    r = subprocess.run([sys.executable, str(script), str(tiny_beir), "--state-dir", str(tmp_path / "s"),
                        "--recipes", "hn1,hn3", "--threads", "1", "--hold-every", "2"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["chosen"] in ("hn1", "hn3") and out["held_out"] == 4
    for name in ("hn1", "hn3"):
        assert 0 <= out["recipes"][name]["agreement"] <= 1 and out["recipes"][name]["train_seconds"] > 0
    assert out["recipes"]["hn3"]["hard_negatives"] == 3 and "train_claims" not in out

    # the same folder without qrels/train.tsv: the train claims are the queries that are not test queries (here the
    # same 8), so the same pools, labels and triplets: the saved models are reused and every figure is the same
    import shutil

    no_train = tmp_path / "no_train"
    shutil.copytree(tiny_beir, no_train)
    (no_train / "qrels" / "train.tsv").unlink()
    r = subprocess.run([sys.executable, str(script), str(no_train), "--state-dir", str(tmp_path / "s"),
                        "--recipes", "hn1,hn3", "--threads", "1", "--hold-every", "2"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    again = json.loads(r.stdout.strip().splitlines()[-1])
    assert again["train_claims"].startswith("no train qrels") and "not a test query" in again["train_claims"]
    assert again["recipes"] == out["recipes"] and again["chosen"] == out["chosen"] and again["held_out"] == 4


def test_end_to_end_tiny_run(tiny_beir, tmp_path):
    cfg = make_config(data=str(tiny_beir), methods=["fusion", "polar", "polar_self_training", "supervised"],
                      budget=6, pool_depth=3, rounds=1, per_query=1, llm_threads=1,
                      hard_negatives=2)
    state = tmp_path / "state"
    logs: list[str] = []
    res = run_relevance(cfg, state_dir=state, log=logs.append, labels_dir=tmp_path / "out")
    ret = res["retrievers"]
    # the relevance labels themselves: one row per pool pair, P(relevant), the LLM's vote and the risk of its answer
    import pandas as pd

    for m in ("polar", "polar_self_training"):
        labels = pd.read_csv(res["labels"][m], keep_default_na=True)
        assert list(labels.columns) == ["query_id", "doc_id", "p_relevant", "llm_vote", "llm_p_yes", "llm_risk",
                                        "rank_fused"]
        assert labels["p_relevant"].between(0, 1).all() and labels["doc_id"].astype(str).isin(
            load_beir(tiny_beir).doc_ids).all()
        asked = labels["llm_vote"] >= 0
        assert asked.sum() == ret[m]["llm_calls"] and labels.loc[asked, "llm_risk"].between(0, 1).all()
        assert labels.loc[~asked, "llm_risk"].isna().all()
    assert list(ret) == ["fusion", "polar", "polar_self_training", "supervised"]
    for m in ret.values():
        assert 0 <= m["ndcg@10"] <= 1 and 0 <= m["recall@100"] <= 1
    for m in ("polar", "polar_self_training", "supervised"):     # trained models: also fused with BM25
        assert 0 <= ret[m]["with_bm25"]["ndcg@10"] <= 1
    assert not ret["polar"]["reused_model"] and ret["polar"]["train_seconds"] > 0
    assert ret["polar"]["llm_calls"] == 6 and ret["supervised"]["llm_calls"] == 0
    assert 0 < ret["polar_self_training"]["llm_calls"] <= 6
    rounds = ret["polar_self_training"]["rounds"]
    assert rounds[0]["asked"] == 3 and len(rounds) >= 1
    assert res["llm_backend_calls"] > 0
    risk = res["risk"]["polar"]
    assert risk["n"] == 6 and {"ece", "auroc"} <= set(risk["polar"])
    # paired bootstrap comparisons of the trained retrievers with what they replace, and the target's verdict
    comp = res["comparisons"]
    for key in ("polar_self_training vs dense", "polar_self_training vs fusion",
                "polar_self_training+bm25 vs fusion", "supervised vs dense"):
        c = comp[key]
        assert c["queries"] == 4 and c["lo"] <= c["diff"] <= c["hi"]
    assert comp["target"]["retriever"] == "polar_self_training" and comp["target"]["within_call_limit"]

    # the trained retrievers are saved, loadable, and changed by training
    data = load_beir(tiny_beir)
    q = data.split_queries("test")
    base = DenseRetriever().encode_queries(data, q)
    sup = DenseRetriever(ret["supervised"]["model"]).encode_queries(data, q)
    assert sup.shape == base.shape and not np.allclose(sup, base, atol=1e-4)

    # polarlab retrieve MODEL CORPUS QUERIES writes a TREC run file
    out = tmp_path / "run.txt"
    r = CliRunner().invoke(app, ["retrieve", ret["polar_self_training"]["model"], str(tiny_beir / "corpus.jsonl"),
                                 str(tiny_beir / "queries.jsonl"), "--out", str(out), "--k", "5"])
    assert r.exit_code == 0, r.output
    lines = [x.split() for x in out.read_text().splitlines()]
    assert len(lines) == 5 * len(data.queries)
    assert all(x[1] == "Q0" and x[2] in data.doc_index for x in lines)
    assert [int(x[3]) for x in lines[:5]] == [1, 2, 3, 4, 5]

    # kill/resume: the same run again asks the LLM nothing new (answers come from the SQLite cache)
    again = run_relevance(make_config(data=str(tiny_beir), methods=["polar"], budget=6, pool_depth=3, llm_threads=1,
                                      hard_negatives=2), state_dir=state)
    assert again["llm_backend_calls"] == 0
    assert again["risk"]["polar"]["n"] == 6
    # ... and trains nothing: the saved model's manifest matches the same triplets and settings
    assert again["retrievers"]["polar"]["reused_model"]
    assert again["retrievers"]["polar"]["ndcg@10"] == ret["polar"]["ndcg@10"]
    assert again["retrievers"]["polar"]["train_seconds"] == ret["polar"]["train_seconds"]
    # a changed setting retrains
    third = run_relevance(make_config(data=str(tiny_beir), methods=["polar"], budget=6, pool_depth=3, llm_threads=1,
                                      hard_negatives=2, lr=3e-5), state_dir=state)
    assert not third["retrievers"]["polar"]["reused_model"]


GOLD_METRICS = {"ndcg@10", "recall@100", "with_bm25", "ece", "auroc", "brier", "ece_floor", "llm_error_rate",
                "relevant_rate", "llm_p_yes_auroc", "llm_p_yes_auroc_noise", "risk_auroc_noise"}


def _keys(x) -> set[str]:
    if isinstance(x, dict):
        return set(x) | set().union(*(_keys(v) for v in x.values()))
    if isinstance(x, list):
        return set().union(*(_keys(v) for v in x))
    return set()


def test_project_without_any_qrels_labels_every_query(tiny_beir_no_qrels, tmp_path):
    """A user's own corpus and queries, no relevance judgements: `polarlab run` still builds the pool, asks the
    real embedded LLM, harmonizes with POLAR, writes the labels file and trains the retriever; the methods and
    metrics that need gold are skipped, each with one log line and a reason in metrics.json."""
    import json

    import pandas as pd

    (tmp_path / "polarlab.toml").write_text(
        f'[task]\nkind = "relevance"\n\n[data]\nbeir = "{tiny_beir_no_qrels}"\n\n'
        '[relevance]\nmethods = ["fusion", "polar", "supervised", "llm_rerank"]\nbudget = 4\npool_depth = 2\n'
        'llm_threads = 1\n\n[project]\nstate_dir = "state"\n')
    r = CliRunner().invoke(app, ["run", str(tmp_path / "polarlab.toml")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for m in ("fusion", "supervised", "llm_rerank", "test metrics", "risk calibration"):
        assert sum(x.startswith(f"{m}: skipped, no ") for x in lines) == 1, (m, r.output)
    assert "test split" not in r.output and "│" not in r.output     # no qrels: no table after polarlab run

    labels = pd.read_csv(tmp_path / "out" / "labels_polar.csv", dtype={"query_id": str, "doc_id": str})
    assert list(labels.columns) == ["query_id", "doc_id", "p_relevant", "llm_vote", "llm_p_yes", "llm_risk",
                                    "rank_fused"]
    data = load_beir(tiny_beir_no_qrels, ())
    assert set(labels["query_id"]) == set(data.queries) and len(labels) == 2 * len(data.queries)  # every query
    assert labels["doc_id"].isin(data.doc_ids).all() and labels["p_relevant"].between(0, 1).all()
    asked = labels["llm_vote"] >= 0
    assert asked.sum() == 4 and (labels.loc[asked, "rank_fused"] == 1).all()
    assert np.isfinite(labels.loc[asked, "llm_risk"]).all() and labels.loc[asked, "llm_risk"].between(0, 1).all()
    assert labels.loc[~asked, "llm_risk"].isna().all()

    res = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert list(res["retrievers"]) == ["polar"] and res["retrievers"]["polar"]["llm_calls"] == 4
    assert (tmp_path / "state" / "models" / "polar" / "modules.json").is_file()     # the trained retriever
    assert not GOLD_METRICS & _keys(res["retrievers"]) and not GOLD_METRICS & _keys(res["risk"])
    assert res["risk"]["polar"]["n"] == 4 and 0 <= res["risk"]["polar"]["polar"]["mean_risk"] <= 1
    assert not [k for k in res["comparisons"] if " vs " in k]
    assert set(res["skipped"]["methods"]) == {"fusion", "supervised", "llm_rerank"}
    assert set(res["skipped"]["metrics"]) == {"test metrics", "risk calibration"}
    assert all("qrels" in why for why in res["skipped"]["methods"].values())

    # the bench command on the same folder: the table, the risk line and the skips, no crash on missing metrics;
    # --out writes the files a project run writes (its default pool is deeper: 20 pairs per query)
    b = CliRunner().invoke(app, ["bench", "relevance", str(tiny_beir_no_qrels), "--methods", "bm25,polar,supervised",
                                 "--budget", "4", "--llm-threads", "1", "--state-dir", str(tmp_path / "state"),
                                 "--out", str(tmp_path / "bench_out")])
    assert b.exit_code == 0, b.output
    last = json.loads(b.output.strip().splitlines()[-1])
    assert list(last["retrievers"]) == ["polar"] and not GOLD_METRICS & _keys(last["retrievers"])
    assert "risk of the LLM judgements (polar, 4 pairs, no train qrels)" in b.output
    assert "skipped supervised: no train qrels" in b.output and "skipped bm25: no test qrels" in b.output
    bench = pd.read_csv(tmp_path / "bench_out" / "labels_polar.csv", dtype={"query_id": str, "doc_id": str})
    assert list(bench.columns) == list(labels.columns) and set(bench["query_id"]) == set(data.queries)
    assert len(bench) > len(labels) and bench["p_relevant"].between(0, 1).all()
    # the same four rank-1 pairs judged, answered from the project run's cache: the same votes and P(yes)
    key = ["query_id", "doc_id"]
    same = bench[bench["llm_vote"] >= 0].merge(labels[asked], on=key, suffixes=("", "_project"))
    assert len(same) == 4 and (same["llm_vote"] == same["llm_vote_project"]).all()
    np.testing.assert_allclose(same["llm_p_yes"], same["llm_p_yes_project"])
    assert last["llm_backend_calls"] == 0
    written = json.loads((tmp_path / "bench_out" / "metrics.json").read_text())
    assert written["labels"] == {"polar": str(tmp_path / "bench_out" / "labels_polar.csv")} == last["labels"]
    assert written["retrievers"] == last["retrievers"] and written["skipped"] == last["skipped"]
    assert f"wrote metrics: {tmp_path / 'bench_out' / 'metrics.json'}" in b.output

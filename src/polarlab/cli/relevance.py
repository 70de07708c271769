"""CLI of the relevance task: ``polarlab bench relevance`` and ``polarlab retrieve``.

Registered on the main app by :func:`register` (one line in main.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import PolarlabError
from ..io.jsonout import dumps


def bench_relevance_cmd(
        directory: Path = typer.Argument(..., help="a BEIR folder (corpus.jsonl, queries.jsonl, "
                                                            "qrels/{train,test}.tsv; without qrels what needs "
                                                            "them is skipped)"),
        llm: str = typer.Option("local", help="local | an OpenAI-compatible base URL"),
        llm_model: Optional[str] = typer.Option(None, help="model name on a remote server"),
        budget: int = typer.Option(3000, help="LLM judgements for training, per LLM-labelled method"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="also write the JSON result here"),
        out: Optional[Path] = typer.Option(None, "--out", help="also write the files a project run writes to this "
                                                               "folder: labels_<method>.csv of each POLAR method "
                                                               "(the relevance labels of the training pairs) and "
                                                               "metrics.json"),
        state_dir: Path = typer.Option(Path(".polarlab"), help="caches (LLM answers, embeddings) and trained models"),
        methods: Optional[str] = typer.Option(None, help="comma-separated subset of bm25,dense,fusion,llm_labels,"
                                                          "polar,polar_self_training,supervised,llm_rerank"),
        rounds: int = typer.Option(1, help="self-training rounds after round 0"),
        rerank_depth: int = typer.Option(20, help="llm_rerank: fused top-k the LLM reorders"),
        rerank_queries: Optional[int] = typer.Option(None, help="llm_rerank: only the first N test queries"),
        train_queries: Optional[int] = typer.Option(None, help="only the first N training queries"),
        hard_negatives: Optional[int] = typer.Option(None, help="hard negatives per training positive "
                                                               "(default: the config's)"),
        pool_depth: Optional[int] = typer.Option(None, help="fused top-k per training query that gets labels "
                                                           "(default: the config's pool_depth)"),
        llm_threads: int = typer.Option(2, help="CPU threads of the embedded LLM"),
        threads: int = typer.Option(1, help="torch threads")) -> None:
    """Retrievers trained on LLM relevance labels (raw, POLAR-harmonized, ARL2 self-trained) vs BM25, MiniLM,
    their fusion, the supervised bound and the LLM as reranker: nDCG@10 / Recall@100 on the test split.

    Prints a table, then the JSON result as the last line: {"retrievers": {method: {"ndcg@10", "recall@100",
    "llm_calls", "seconds", ...}}, "risk": {...}, "config": {...}}. A trained retriever's entry also has
    "with_bm25" (its RRF fusion with BM25: the hybrid that "fusion" is for off-the-shelf MiniLM) and
    "train_seconds" (its training time, also when a re-run reused the saved model). With --out DIR the relevance labels
    of each POLAR method (query id, document id, P(relevant), the LLM's vote, its P(yes), the POLAR risk of its
    answer, fused rank) are written to DIR/labels_<method>.csv and the result to DIR/metrics.json, as `polarlab run`
    writes them for a relevance project. Without qrels the gold-free part runs (the labels, the trained retrievers);
    what needs them is listed under "skipped" with the reason.
    """
    from ..export.atomic import write_text
    from ..relevance import make_config, run_relevance
    from ..io.outputs import check_writable
    from ..relevance.experiment import write_outputs
    from .main import _fail, console, err

    try:
        if out is not None:
            check_writable(out, None, "--out")
        kw = dict(data=str(directory), llm=llm, llm_model=llm_model, budget=budget, rounds=rounds,
                  rerank_depth=rerank_depth, rerank_queries=rerank_queries, train_queries=train_queries,
                  llm_threads=llm_threads, threads=threads)
        if hard_negatives is not None:
            kw["hard_negatives"] = hard_negatives
        if pool_depth is not None:
            kw["pool_depth"] = pool_depth
        if methods:
            kw["methods"] = [m.strip() for m in methods.split(",") if m.strip()]
        config = make_config(None, **kw)
        result = run_relevance(config, state_dir=state_dir, log=lambda s: err.print(s, highlight=False),
                               labels_dir=out)
        written = write_outputs(result, out) if out is not None else {}
    except PolarlabError as e:
        _fail(e)
    print_relevance(console, result, directory.name)
    for name, path in written.items():
        console.print(f"wrote {name}: {path}", highlight=False, soft_wrap=True)
    line = dumps(result, separators=(",", ":"), default=str)
    if json_out:
        write_text(json_out, line + "\n")
    print(line)


def print_relevance_metrics(console, metrics: dict) -> None:
    """The retrieval table of a relevance project's run (``polarlab run``) from its ``metrics.json``, when it had
    qrels to score against: test qrels (nDCG@10, Recall@100) or train qrels (the risk calibration of the LLM
    judgements). When it had neither, no table: each retriever it trained (where its model is) and what it skipped
    and why (as in the file's ``"skipped"``; the progress log says it too, and may be off)."""
    scored = any("ndcg@10" in r for r in metrics.get("retrievers", {}).values())
    calibrated = any("ece" in r.get("polar", {}) for r in metrics.get("risk", {}).values())
    if not (scored or calibrated):
        for method, r in metrics.get("retrievers", {}).items():
            if "model" in r:
                console.print(f"{method}: trained on {r.get('triplets', '?')} triplets, model {r['model']} "
                              "(no test metrics)", highlight=False, soft_wrap=True)
        print_skipped(console, metrics)
        return
    data = (metrics.get("config") or {}).get("data")
    print_relevance(console, metrics, Path(data).name if data else "relevance")


def print_relevance(console, result: dict, name: str) -> None:
    """Retrieval table (nDCG@10, Recall@100, the fusion with BM25, LLM calls, seconds; "-" without test qrels), then
    the risk of the LLM judgements, the paired comparisons, what was skipped and why, and the target's verdict.

    Args:
        result: the result of :func:`polarlab.relevance.run_relevance` (``bench relevance``'s JSON, a relevance
            project's ``metrics.json``).
        name: the data set's name, the table's title.
    """
    from rich.table import Table

    t = Table(title=f"{name}: test split")
    for c in ("retriever", "nDCG@10", "Recall@100", "+ BM25 (RRF) nDCG@10 / R@100", "LLM calls", "seconds"):
        t.add_column(c)
    for method, r in result["retrievers"].items():
        hy = r.get("with_bm25")
        if "ndcg@10" not in r:                   # no test qrels
            t.add_row(method, "-", "-", "", str(r["llm_calls"]), f"{r['seconds']:.0f}")
            continue
        t.add_row(method, f"{r['ndcg@10']:.3f}", f"{r['recall@100']:.3f}",
                  f"{hy['ndcg@10']:.3f} / {hy['recall@100']:.3f}" if hy else "", str(r["llm_calls"]),
                  f"{r['seconds']:.0f}")
    console.print(t)
    for method, r in result["risk"].items():
        p, o = r["polar"], r["llm_confidence"]
        if "ece" not in p:                       # no train qrels: no calibration
            console.print(f"risk of the LLM judgements ({method}, {r['n']} pairs, no train qrels): mean POLAR risk "
                          f"{p['mean_risk']:.3f}, mean of the LLM's own {o['mean_risk']:.3f}")
            continue
        console.print(f"risk of the LLM judgements ({method}, {r['n']} pairs, LLM error rate "
                      f"{r['llm_error_rate']:.3f} vs train qrels): POLAR ECE {p['ece']:.3f} (noise floor "
                      f"{p['ece_floor']:.3f}), AUROC {p['auroc']:.3f}; LLM's own confidence ECE {o['ece']:.3f}, "
                      f"AUROC {o['auroc']:.3f} (noise: 0.5 ± {r['risk_auroc_noise']:.3f}); AUROC of P(yes) for "
                      f"relevance {r['llm_p_yes_auroc']:.3f} (noise: 0.5 ± {r['llm_p_yes_auroc_noise']:.3f})")
    for what, c in result.get("comparisons", {}).items():
        if what != "target":
            console.print(f"nDCG@10 {what}: {c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}] "
                          f"(paired bootstrap 95 %, {c['queries']} test queries)")
    print_skipped(console, result)
    if "target" in result.get("comparisons", {}):
        console.print(f"target: {result['comparisons']['target']}")


def print_skipped(console, result: dict) -> None:
    """One line per method and metric a relevance run skipped, with the reason (its ``"skipped"`` entries)."""
    for group in ("methods", "metrics"):
        for what, why in result.get("skipped", {}).get(group, {}).items():
            console.print(f"skipped {what}: {why}", highlight=False, soft_wrap=True)


def retrieve_cmd(
        model: Path = typer.Argument(..., help="a sentence-transformers folder "
                                                 "(e.g. STATE/models/polar_self_training/round1)"),
        corpus: Path = typer.Argument(..., help="corpus.jsonl (BEIR)"),
        queries: Path = typer.Argument(..., help="queries.jsonl (BEIR)"),
        out: Path = typer.Option(Path("run.txt"), help="the TREC run file to write"),
        k: int = typer.Option(100, help="documents per query"),
        max_seq_length: int = typer.Option(128, help="tokens per text"),
        threads: int = typer.Option(1, help="torch threads")) -> None:
    """Rank the corpus for every query with a bi-encoder and write a TREC run file (qid Q0 docid rank score tag)."""
    import torch

    from ..errors import InputError
    from ..relevance.beir import BeirData, load_corpus, load_queries
    from ..relevance.candidates import DenseRetriever
    from ..relevance.ranking import write_run
    from .main import _fail, console

    try:
        if not (model / "modules.json").is_file():
            raise InputError("not a sentence-transformers model folder (no modules.json)", file=str(model),
                             fix="give a folder written by polarlab bench relevance (STATE/models/<method>)")
        data = BeirData(*load_corpus(corpus), load_queries(queries))
    except PolarlabError as e:
        _fail(e)
    torch.set_num_threads(threads)
    ranking = DenseRetriever(model, max_seq_length=max_seq_length).retrieve(data, list(data.queries), k)
    write_run(out, ranking, data, tag=model.name)
    console.print(f"wrote {out}: {len(ranking.qids)} queries x {ranking.depth} documents")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``retrieve`` to ``app`` and ``relevance`` to ``bench_app``."""
    bench_app.command("relevance")(bench_relevance_cmd)
    app.command("retrieve")(retrieve_cmd)

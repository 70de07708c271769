"""``polarlab bench spans``: the NCBI-disease span benchmark (sources, MV, Dawid–Skene, skweak HMM,
harmonized spans; risk calibration). Registered in main.py with one line."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..errors import PolarlabError


def register(bench_app: typer.Typer) -> None:
    bench_app.command("spans")(bench_spans_cmd)


def bench_spans_cmd(
        data: Path = typer.Argument(Path("../shared/data/ncbi_disease/NCBItestset_corpus.txt"),
                                    help="a PubTator file with gold spans (NCBI-disease test split)"),
        ontology: Path = typer.Option(Path("../shared/data/disease_ontology"), help="Disease Ontology folder"),
        llm_docs: int = typer.Option(0, help="also run with the embedded LLM on the first N documents (slow)"),
        features: str = typer.Option("minilm", help="token features of the harmonizer: minilm | shape"),
        limit: Optional[int] = typer.Option(None, help="the first N documents only"),
        correct: float = typer.Option(0.1, help="share of the harmonized spans of the LLM run re-asked"),
        mention_type: list[str] = typer.Option([], "--mention-type",
                                               help="keep only the gold mentions of this PubTator type (e.g. "
                                                    "Disease; a project's [data] mention_types); repeatable or "
                                                    "comma-separated"),
        state_dir: Path = typer.Option(Path(".polarlab"), help="cache folder (LLM answers, token features)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="also write the JSON result here"),
        out: Optional[Path] = typer.Option(None, "--out", help="also write the files a spans project run writes, per "
                                                               "run: DIR/<run>/spans.jsonl (the harmonized spans "
                                                               "with probability and risk) and "
                                                               "DIR/<run>/metrics.json")) -> None:
    """Span P/R/F1 (exact, partial) per source, MV, Dawid–Skene, skweak HMM, harmonized; risk ECE/AUROC.

    Prints tables, then the JSON result as the last line. With --out DIR each run (rules, with_llm) is written as a
    spans project run (`polarlab run`) writes it: DIR/<run>/spans.jsonl (the harmonized spans, each with its
    probability and POLAR risk) and DIR/<run>/metrics.json (the run's result, when the documents have gold spans);
    a "wrote NAME: PATH" line for each comes before the JSON line, and the JSON result lists them under "outputs".
    --mention-type Disease keeps only that type's mentions as gold (BC5CDR's Disease, not its Chemical), as a
    project's [data] mention_types does; a type no mention has is refused before any work, naming the file's types.
    """
    from ..data.pubtator import check_file_types
    from ..export.labels import to_json, write_json
    from ..io.outputs import check_writable
    from ..spans.bench import bench_spans
    from .main import _compact_json, _fail, _setup_logging, console

    _setup_logging(False)
    types = [t.strip() for arg in mention_type for t in arg.split(",") if t.strip()]
    try:
        if out is not None:
            check_writable(out, None, "--out")
        check_file_types(types, [data], "--mention-type")
        res = bench_spans(data, ontology, llm_docs=llm_docs, state_dir=state_dir, features=features, limit=limit,
                          correct_budget=correct, out_dir=out, mention_types=types)
    except PolarlabError as e:
        _fail(e)
    for run in ("rules", "with_llm"):
        if run in res:
            print_span_result(console, res[run], run)
    if json_out is not None:
        write_json(res, json_out)
    for name, path in res.get("outputs", {}).items():
        console.print(f"wrote {name}: {path}", highlight=False, soft_wrap=True)
    print(_compact_json(to_json(res)))


def print_span_metrics(console, metrics: dict) -> None:
    """The span table of a spans project's run (``polarlab run``) from its metrics (as in its ``metrics.json``),
    when the documents carried gold spans, and how many documents had none and were not scored (JSONL lines
    without "spans", "entities" or annotations; PubTator documents that ``[data] annotated`` / ``annotated_ids``
    mark as not annotated); nothing when no document had gold (the run then writes no metrics)."""
    if "labels" not in metrics:
        return
    print_span_result(console, metrics, "spans")
    left = metrics.get("n_docs_without_gold")
    if left:
        console.print(f"{left} of {left + metrics['n_docs']} documents have no gold (not annotated: JSONL lines "
                      "without \"spans\", \"entities\" or annotations, or PubTator documents [data] annotated / "
                      "annotated_ids leaves out) and are not scored; their spans are in the spans file",
                      highlight=False, soft_wrap=True)


def print_span_result(console, r: dict, name: str) -> None:
    """Span scores: one row per method (exact P/R/F1, partial F1, the risk's ECE and AUROC where the method has a
    probability), then the harmonizer's choices when ``r`` has them.

    Args:
        r: one run of ``bench spans`` (``rules``, ``with_llm``) or a spans project's metrics: ``labels`` (method ->
            :func:`polarlab.spans.evaluate.span_scores`), ``risk`` (method -> calibration report), optionally
            ``n_docs``, ``n_gold``, ``harmonizer`` and ``skweak``.
        name: the table's title before the counts.
    """
    def fmt(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    t = Table(title=f"{name}: {r.get('n_docs', '?')} documents, {r.get('n_gold', '?')} gold spans")
    for c in ("method", "exact P", "exact R", "exact F1", "partial F1", "risk ECE", "risk AUROC"):
        t.add_column(c)
    for method, m in r["labels"].items():
        rk = r.get("risk", {}).get(method, {})
        t.add_row(method, fmt(m["exact"]["precision"]), fmt(m["exact"]["recall"]), fmt(m["exact"]["f1"]),
                  fmt(m["partial"]["f1"]), fmt(rk.get("ece")), fmt(rk.get("auroc")))
    console.print(t)
    h = r.get("harmonizer")
    if h:
        line = (f"harmonizer: level = {h.get('level')}, held-out agreement = {h.get('agreement')}, "
                f"fallback to majority vote = {h['fallback_to_majority']}, tau = {h['tau']}, "
                f"temperature = {h['temperature']}")
        console.print(line + (f"; skweak: {r['skweak']}" if "skweak" in r else ""))

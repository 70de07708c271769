"""A relevance project as ``polarlab status``, ``report`` and ``export`` read it (:class:`polarlab.jobs.kind.JobKind`)."""
from __future__ import annotations

from pathlib import Path

from ..jobs.export import write_table
from ..jobs.kind import ExportFormat, JobKind, JobPaths


def paths(project_file: Path) -> JobPaths:
    """The state folder and the BEIR folder a relevance run reads."""
    from ..project import read_toml
    from .config import load_relevance_project

    config = load_relevance_project(project_file)
    state = read_toml(project_file).get("project", {}).get("state_dir", ".polarlab")
    out = Path(project_file).parent / "out"         # run_project's default output folder
    return JobPaths(Path(project_file).parent / state, (Path(config.data),), {"metrics": out / "metrics.json"})


def _pairs(outputs: dict[str, Path], dest: Path) -> int:
    """The relevance labels of every POLAR method the run wrote (``labels (<method>)``) as one table, with a
    ``method`` column first: query id, document id, P(relevant), the LLM's vote, its P(yes) and risk, fused rank."""
    import pandas as pd

    from ..errors import DataError

    files = {name[len("labels ("):-1]: p for name, p in outputs.items() if name.startswith("labels (")}
    if not files:
        raise DataError("the last run wrote no relevance labels (only the polar and polar_self_training methods "
                        "label pairs)", fix="add polar or polar_self_training to [relevance] methods and run again")
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise DataError("the last run's labels file is not there", file=missing[0], fix="run the project again")
    frames = [pd.read_csv(p, dtype={"query_id": str, "doc_id": str}).assign(method=m) for m, p in files.items()]
    frame = pd.concat(frames, ignore_index=True)
    return write_table(frame[["method", *[c for c in frame.columns if c != "method"]]], dest)


def quality(metrics: dict) -> list[tuple[str, str]]:
    """Each retriever's test metrics (nDCG@10, Recall@100, fused with BM25) and LLM calls, the calibration of the
    POLAR risk of the LLM's judgements (and of the LLM's own confidence), and what was skipped without qrels."""
    from ..report.html import note, table

    ret = metrics.get("retrievers", {})
    rows = [[m, r.get("ndcg@10"), r.get("recall@100"), (r.get("with_bm25") or {}).get("ndcg@10"), r.get("llm_calls"),
             r.get("seconds")] for m, r in ret.items()]
    out = (table(["method", "nDCG@10", "Recall@100", "nDCG@10 fused with BM25", "LLM calls", "seconds"], rows)
           if rows else note("no retriever in this run"))
    skipped = {**metrics.get("skipped", {}).get("methods", {}), **metrics.get("skipped", {}).get("metrics", {})}
    out += "".join(note(f"skipped {k}: {why}") for k, why in skipped.items())
    keys = ("ece", "ece_floor", "auroc", "brier", "mean_risk")
    risk = metrics.get("risk", {})
    rrows = [[m, who, r.get("n"), *[(r.get(who) or {}).get(k) for k in keys]]
             for m, r in risk.items() for who in ("polar", "llm_confidence")]
    cal = (table(["method", "risk", "n", *keys], rrows)
           + note("error = the LLM's judgement disagrees with the train qrels (measuring only); without train qrels "
                  "only the mean risks") if rrows else note("no POLAR method in this run: no risk"))
    return [("Retrieval quality", out), ("Risk calibration", cal)]


JOB = JobKind(name="relevance", paths=paths, quality=quality, unit="pair", exports={
    fmt: ExportFormat(f".{fmt}", _pairs) for fmt in ("csv", "jsonl", "parquet")})

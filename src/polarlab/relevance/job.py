"""A relevance project as ``polarlab status``, ``report`` and ``export`` read it (:class:`polarlab.jobs.kind.JobKind`)."""
from __future__ import annotations

from pathlib import Path

from ..jobs.export import write_table
from ..jobs.kind import ExportFormat, JobKind, JobPaths


#: The methods that write pair labels (``labels_<method>.csv``) and those that train a retriever
#: (``models/<method>`` in the state folder).
LABELLING = ("polar", "polar_self_training")
TRAINING = ("llm_labels", "polar", "polar_self_training", "supervised")


def _last_round(folder: Path) -> Path:
    """Self-training's retriever: its last round's folder (``round<r>``, the highest r there; ``round0`` if none)."""
    rounds = [p for p in folder.glob("round*") if p.name[5:].isdigit()] if folder.is_dir() else []
    return max(rounds, key=lambda p: int(p.name[5:]), default=folder / "round0")


def output_paths(methods, out: Path, state: Path) -> dict[str, Path]:
    """Where a run of ``methods`` writes each of its outputs, by the names
    :func:`polarlab.relevance.experiment.write_outputs` gives them: the labels of each POLAR method, metrics.json,
    each trained retriever's folder."""
    labels = {f"labels ({m})": out / f"labels_{m}.csv" for m in methods if m in LABELLING}
    models = {f"model ({m})": _last_round(state / "models" / m) if m == "polar_self_training"
              else state / "models" / m for m in methods if m in TRAINING}
    return {**labels, "metrics": out / "metrics.json", **models}


def paths(project_file: Path) -> JobPaths:
    """The state folder, the BEIR folder a relevance run reads and every file it writes (without ``--out``)."""
    from ..project import read_toml
    from .config import load_relevance_project

    config = load_relevance_project(project_file)
    state = Path(project_file).parent / read_toml(project_file).get("project", {}).get("state_dir", ".polarlab")
    out = Path(project_file).parent / "out"         # run_project's default output folder
    return JobPaths(state, (Path(config.data),), output_paths(config.methods, out, state))


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

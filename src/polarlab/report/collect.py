"""Gather a project's :class:`ReportData`: its final labels (state or outputs folder, via
:func:`polarlab.export.project.load_project_labels`), the run's ``metrics.json`` and ``analysis.csv``,
the LLM risk columns of the labels file, the stage records in the state, and the end model saved by the
end-model stage (``<output_dir>/endmodel/endmodel.json``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..export.project import ProjectLabels, load_project_labels, open_state
from ..export.provenance import HumanVote
from ..llm.stats import totals_over_runs
from ..project import Project
from .data import Calibration, EndModelReport, ReportData

END_MODEL_DIR = "endmodel"


def read_table(path: Path) -> pd.DataFrame:
    """A CSV / JSONL / Parquet table, ids as strings, empty cells as NaN."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype={"id": str})
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise DataError(f"unknown table type {suffix!r}", file=str(path), fix="use .csv, .jsonl or .parquet")


def sources_table(labels: ProjectLabels, analysis: pd.DataFrame | None, fit_split: str) -> pd.DataFrame | None:
    """Per-source statistics (the run's ``analysis.csv``, else computed on the fit split) plus ``est_acc``:
    the share of the source's votes that agree with the final label (gold-free)."""
    from ..matrix.analysis import analyze

    d = labels.data
    if d.votes is None or not d.votes.names:
        return analysis
    rows = labels.rows(fit_split) if fit_split in labels.splits else np.arange(len(d.ids))
    if analysis is None:
        sub = d.votes.rows(rows)
        g = labels.gold[rows]
        analysis = analyze(sub, g if (g >= 0).any() else None)
    final = d.proba.argmax(1)
    est = {}
    for j, name in enumerate(d.votes.names):
        v = d.votes.L[rows, j]
        ok = v >= 0
        est[name] = float((v[ok] == final[rows][ok]).mean()) if ok.any() else float("nan")
    analysis = analysis.copy()
    analysis["est_acc"] = [est.get(s, float("nan")) for s in analysis.index]
    return analysis


def calibration_from_labels_file(frame: pd.DataFrame, metrics: dict[str, Any]) -> list[Calibration]:
    """Risk of each LLM's answers vs their errors (``risk_<llm>``, ``vote_<llm>``, ``gold`` columns)."""
    if "gold" not in frame.columns:
        return []
    out = []
    splits = frame["split"].astype(str) if "split" in frame.columns else pd.Series("all", index=frame.index)
    for col in [c for c in frame.columns if c.startswith("risk_")]:
        name = col[len("risk_"):]
        votes = frame.get(f"vote_{name}")
        if votes is None:
            continue
        split = "test" if (splits == "test").any() else splits.iloc[0]
        sel = (splits == split) & frame[col].notna() & votes.notna() & frame["gold"].notna()
        if sel.sum() < 10:
            continue
        risk = frame.loc[sel, col].to_numpy(dtype=float)
        err = (votes[sel].astype(str) != frame.loc[sel, "gold"].astype(str)).to_numpy(dtype=float)
        out.append(Calibration(name, split, risk, err, metrics.get("risk", {}).get(name, {}).get(split, {})))
    return out


def end_model_report(directory: Path) -> EndModelReport | None:
    """The saved end model's evaluation (None when there is none or it had no gold to score)."""
    meta_path = directory / "endmodel.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    ev = meta.get("evaluation")
    if not ev:
        return None
    return EndModelReport(meta.get("kind", "?"), ev.get("split", "test"), ev.get("metrics", {}),
                          np.asarray(ev.get("confusion", []), dtype=np.int64), meta.get("self_training"))


def review_summary(project: Project) -> tuple[list[tuple[int, int]], dict[str, Any] | None]:
    """The review loop's answers in the project state: per reviewed item (the review model's label when it was first
    answered, the people's label), and the review's status (:meth:`ReviewStore.status` without its chart); ([], None)
    when no review has started.

    Not the final labels: once ``polarlab run`` has read the answers, a reviewed row's final label *is* the people's,
    and comparing the two would report every reviewed label right."""
    from ..review.session import store_path
    from ..review.store import ReviewStore

    path = store_path(project)
    if not path.exists():
        return [], None
    store = ReviewStore(path)
    n = store.n_items()
    if n == 0:
        return [], None
    human, _, machine, _ = store.human_labels(n)
    pairs = [(int(machine[r]), int(human[r])) for r in np.flatnonzero(human >= 0)]
    status = store.status()
    status.pop("chart", None)
    return pairs, status


def imported_pairs(human: list[HumanVote]) -> list[tuple[int, int, str]]:
    """(shown machine label, answer, ``shown_from``) of every imported answer that has a machine label to compare
    with (:class:`HumanVote` ``shown``; the review loop's answers are compared in :func:`review_summary`)."""
    return [(int(v.shown), int(v.label), str(v.shown_from)) for v in human
            if v.tool != "review" and v.shown is not None and v.shown_from in ("export", "import")]


def project_report_data(project: Project, title: str | None = None) -> ReportData:
    """Everything the report shows, from the project's state and outputs folder."""
    from ..pipeline import choose_fit_split

    labels = load_project_labels(project)
    out_dir = Path(project.output_dir)
    metrics: dict[str, Any] = dict(labels.metrics)
    if labels.origin == "state" and (out_dir / "metrics.json").exists():
        metrics = {**json.loads((out_dir / "metrics.json").read_text(encoding="utf-8")), **metrics}
    analysis = None
    if (out_dir / "analysis.csv").exists():
        analysis = pd.read_csv(out_dir / "analysis.csv").set_index("source")
    fit_split = metrics.get("fit_split") or choose_fit_split({s: None for s in labels.splits}, project.fit_split)
    calibration: list[Calibration] = []
    labels_path = out_dir / project.labels_file
    if labels_path.exists():
        calibration = calibration_from_labels_file(read_table(labels_path), metrics)
    d = labels.data
    frame = pd.DataFrame({"label": d.frame()["label"], "split": d.split})
    pairs, review = review_summary(project)
    timeline = {k: v for k, v in metrics.get("seconds", {}).items() if k != "total"}
    state = open_state(project)
    llm_total: dict[str, dict[str, Any]] = {}
    if state is not None:
        try:
            for rec in state.stages():
                timeline.setdefault(rec.name, rec.seconds)
            llm_total = totals_over_runs(state.runs()["report"])
        finally:
            state.close()
    end_model = end_model_report(out_dir / END_MODEL_DIR)
    notes = [f"labels from the project {labels.origin} ({len(d.ids)} examples, splits {', '.join(labels.splits)}); "
             f"final method: {d.method}"]
    return ReportData(task=project.task, title=title or f"polarlab report: {project.task.name}",
                      sources=sources_table(labels, analysis, fit_split), labels=frame, calibration=calibration,
                      label_metrics=metrics.get("metrics", {}), correction=metrics.get("correction", {}),
                      human=list(d.human), review_pairs=pairs, imported_pairs=imported_pairs(d.human),
                      review=review, llm=metrics.get("llm", {}),
                      llm_total=llm_total, end_model=end_model, timeline=timeline, notes=notes)

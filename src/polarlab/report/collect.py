"""Gather :class:`ReportData` from a finished run's output folder.

Reads what :func:`polarlab.pipeline.write_outputs` writes — the labels file (votes, risk, gold),
``metrics.json`` (label metrics, correction, risk calibration, LLM stats, stage seconds) and
``analysis.csv`` — plus, when present, the end model saved by the end-model stage
(``endmodel/endmodel.json`` with its test metrics) and the human votes file (``human_votes.jsonl``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..export.provenance import HumanVote, human_label
from ..task import Task
from .data import Calibration, EndModelReport, ReportData

HUMAN_VOTES = "human_votes.jsonl"
END_MODEL_DIR = "endmodel"


def read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype={"id": str})
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise DataError(f"unknown table type {suffix!r}", file=str(path), fix="use .csv, .jsonl or .parquet")


def read_human_votes(path: Path) -> list[HumanVote]:
    """Human votes stored one JSON object per line (``HumanVote`` fields)."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            try:
                out.append(HumanVote(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as e:
                raise DataError(f"not a human vote: {e}", file=str(path), row=n,
                                fix="remove the line or import the annotations again") from None
    return out


def _est_acc(labels: pd.DataFrame, sources: list[str]) -> dict[str, float]:
    out = {}
    for s in sources:
        col = labels.get(f"vote_{s}")
        if col is None:
            continue
        voted = col.notna() & (col.astype(str) != "")
        out[s] = float((col[voted].astype(str) == labels.loc[voted, "label"].astype(str)).mean()) if voted.any() \
            else float("nan")
    return out


def _calibration(labels: pd.DataFrame, metrics: dict[str, Any]) -> list[Calibration]:
    if "gold" not in labels.columns:
        return []
    out = []
    for col in [c for c in labels.columns if c.startswith("risk_")]:
        name = col[len("risk_"):]
        votes = labels.get(f"vote_{name}")
        if votes is None:
            continue
        splits = labels["split"].astype(str) if "split" in labels.columns else pd.Series("all", index=labels.index)
        split = "test" if (splits == "test").any() else splits.iloc[0]
        sel = (splits == split) & labels[col].notna() & votes.notna() & (votes.astype(str) != "") \
            & labels["gold"].notna() & (labels["gold"].astype(str) != "")
        if sel.sum() < 10:
            continue
        risk = labels.loc[sel, col].to_numpy(dtype=float)
        err = (votes[sel].astype(str) != labels.loc[sel, "gold"].astype(str)).to_numpy(dtype=float)
        out.append(Calibration(name, split, risk, err, metrics.get("risk", {}).get(name, {}).get(split, {})))
    return out


def _end_model(directory: Path) -> EndModelReport | None:
    meta_path = directory / "endmodel.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    ev = meta.get("evaluation")
    if not ev:
        return None
    return EndModelReport(meta.get("kind", "?"), ev.get("split", "test"), ev.get("metrics", {}),
                          np.asarray(ev.get("confusion", []), dtype=np.int64), meta.get("self_training"))


def from_outputs(out_dir: str | Path, task: Task, labels_file: str = "labels.csv", title: str | None = None
                 ) -> ReportData:
    """The report data of the run whose outputs are in ``out_dir``."""
    out_dir = Path(out_dir)
    labels_path = out_dir / labels_file
    if not labels_path.exists():
        raise DataError("no labels file: the project has not been run", file=str(labels_path),
                        fix="run `polarlab run PROJECT` first")
    labels = read_table(labels_path)
    metrics: dict[str, Any] = {}
    if (out_dir / "metrics.json").exists():
        metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    sources = None
    if (out_dir / "analysis.csv").exists():
        sources = pd.read_csv(out_dir / "analysis.csv").set_index("source")
        est = _est_acc(labels, list(sources.index))
        sources["est_acc"] = [est.get(s, float("nan")) for s in sources.index]
    human = read_human_votes(out_dir / HUMAN_VOTES)
    pairs = []
    if human:
        model = dict(zip(labels["id"].astype(str), labels["label_index"].astype(int)))
        by_id: dict[str, list[HumanVote]] = {}
        for v in human:
            by_id.setdefault(v.example_id, []).append(v)
        pairs = [(model[ex], human_label(vs)) for ex, vs in by_id.items() if ex in model]
    return ReportData(
        task=task, title=title or f"polarlab report: {task.name}", sources=sources, labels=labels,
        calibration=_calibration(labels, metrics), label_metrics=metrics.get("metrics", {}),
        correction=metrics.get("correction", {}), human=human, review_pairs=pairs, llm=metrics.get("llm", {}),
        end_model=_end_model(out_dir / END_MODEL_DIR), timeline=metrics.get("seconds", {}),
        notes=[f"outputs: {out_dir.resolve()}"])

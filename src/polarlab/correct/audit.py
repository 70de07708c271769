"""The audit trail: one record per re-asked (or harmonizer-replaced) row; old answers are kept."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..task import Task

AUDIT_COLUMNS = ("row", "id", "strategy", "old_label", "new_label", "asked_label", "old_risk", "new_risk",
                 "cache_key", "cached", "error")


@dataclass(frozen=True)
class AuditRecord:
    """What the correction did to one row.

    Attributes:
        row: position in the corrected dataset.
        id: example id.
        strategy: the strategy's name (e.g. ``"evidence+fewshot"``).
        old_label: the LLM's answer before (-1 = it had abstained).
        new_label: the label the row carries after (the old one when the re-ask abstained or failed).
        asked_label: what the re-ask answered (-1 = abstain / failure; for ``harmonizer``: h's label).
        old_risk: POLAR risk of the old answer (NaN for an abstain).
        new_risk: POLAR risk of the new label after the update (rescore or refit).
        cache_key: the LLM cache key of the re-ask ("" for ``harmonizer``).
        cached: the re-ask was answered from the cache (no backend call).
        error: why the re-ask failed, else None.
    """

    row: int
    id: str
    strategy: str
    old_label: int
    new_label: int
    asked_label: int
    old_risk: float
    new_risk: float
    cache_key: str = ""
    cached: bool = False
    error: str | None = None


def audit_frame(records: Sequence[AuditRecord], task: Task | None = None) -> pd.DataFrame:
    """The records as a table (columns :data:`AUDIT_COLUMNS`; with ``task`` also
    ``old_label_name``/``new_label_name``, "" for -1)."""
    frame = pd.DataFrame([asdict(r) for r in records], columns=list(AUDIT_COLUMNS))
    if task is not None:
        names = list(task.labels) + [""]
        frame["old_label_name"] = [names[int(v)] for v in frame["old_label"]]
        frame["new_label_name"] = [names[int(v)] for v in frame["new_label"]]
    return frame


def write_audit(records: Sequence[AuditRecord], path: str | Path, task: Task | None = None) -> Path:
    """Write the audit table atomically (``.csv``, ``.jsonl`` or ``.parquet`` by suffix)."""
    from ..export.labels import write_table

    return write_table(audit_frame(records, task), path)

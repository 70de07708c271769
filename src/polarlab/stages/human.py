"""Human answers inside ``polarlab run``: the ``human`` column of the label matrix and the reviewed labels.

Answers from the review app and from Label Studio / Argilla imports are vote events of the source
``"human"`` in the project state (:func:`polarlab.export.project.human_votes_from_state` reads them: each
reviewer's latest answer per example, an undo removes it). Per example they give one vote
(:func:`polarlab.export.provenance.human_label`: majority across reviewers, a tie to the latest). The
``sources`` stage appends that vote as a column ``human`` (only when someone answered) and lists the
answers among its inputs, so a new answer re-runs everything downstream; the harmonizer gives the column the
review loop's top weight (:func:`polarlab.review.rounds.with_human_weight`), and a reviewed row's final
distribution is its human label with probability 1 (:func:`apply_human`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..export.project import HUMAN_SOURCE, human_votes_from_state
from ..export.provenance import HumanVote, human_disagreement, human_label
from ..state import ProjectState, content_hash


@dataclass
class HumanColumn:
    """The human answers of one split.

    Attributes:
        votes: (n,) reviewed label per example, -1 where nobody answered.
        reviewers: n strings, the reviewers of each example (sorted, comma-separated; "" where none).
        disagreement: (n,) share of an example's reviewers who gave another label (0.0 where they agree,
            NaN where nobody answered): the risk of a reviewed label (:func:`human_disagreement`).
    """

    votes: np.ndarray
    reviewers: list[str]
    disagreement: np.ndarray

    @property
    def reviewed(self) -> np.ndarray:
        """(n,) bool: someone answered."""
        return self.votes >= 0


def human_columns(state: ProjectState, ids: dict[str, list[str]]) -> dict[str, HumanColumn]:
    """split -> :class:`HumanColumn` for the splits of ``ids`` (split -> n example ids); {} when nobody
    answered anything."""
    by_key: dict[tuple[str | None, str], list[HumanVote]] = {}
    for v in human_votes_from_state(state):
        by_key.setdefault((v.split, v.example_id), []).append(v)
    if not any(split in ids for split, _ in by_key):
        return {}
    out = {}
    for split, split_ids in ids.items():
        answers = [by_key.get((split, str(i)), []) for i in split_ids]
        out[split] = HumanColumn(np.asarray([human_label(a) for a in answers], dtype=np.int64),
                                 [",".join(sorted({v.annotator for v in a})) for a in answers],
                                 np.asarray([human_disagreement(a) for a in answers], dtype=np.float64))
    return out


def human_key(columns: dict[str, HumanColumn]) -> str:
    """Hash of the answers (an input of the ``sources`` stage)."""
    return content_hash({s: [c.votes.tolist(), c.reviewers] for s, c in sorted(columns.items())})


def apply_human(proba: np.ndarray, column: HumanColumn) -> np.ndarray:
    """(n, k) ``proba`` with each reviewed row replaced by its human label at probability 1 (a copy)."""
    out = np.array(proba, dtype=np.float64, copy=True)
    rows = np.flatnonzero(column.reviewed)
    out[rows] = 0.0
    out[rows, column.votes[rows]] = 1.0
    return out


def human_label_columns(columns: dict[str, HumanColumn], split: str, n: int, method: str,
                        risk: np.ndarray) -> dict[str, Any]:
    """Extra columns of the labels file for ``split`` (as :meth:`LabeledData.frame` names them):
    ``risk`` (``risk``, the final model's, n values; a reviewed row: its reviewers' disagreement),
    ``label_source`` (``"human"`` or ``method``), ``reviewed``, ``reviewed_by``."""
    col = columns.get(split)
    reviewed = col.reviewed if col is not None else np.zeros(n, dtype=bool)
    risk = np.where(reviewed, col.disagreement, risk) if col is not None else np.asarray(risk)
    return {"risk": risk, "label_source": [HUMAN_SOURCE if r else method for r in reviewed],
            "reviewed": [bool(r) for r in reviewed],
            "reviewed_by": list(col.reviewers) if col is not None else [""] * n}

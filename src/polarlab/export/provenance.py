"""Labels with their provenance: which sources voted what, which answers were corrected, who reviewed.

:class:`LabeledData` is what every export format writes; :class:`HumanVote` is one person's answer
(from the review loop or imported from Label Studio / Argilla), with who and when.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.jsonout import dumps
from ..matrix.label_matrix import LabelMatrix
from ..task import Task

HUMAN = "human"      # the label source of a reviewed row (and the human votes' source in the project state)


def utc_now() -> str:
    """The current time as ISO-8601 UTC (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class HumanVote:
    """One person's label for one example.

    Attributes:
        example_id: the example's id in the project.
        label: class index.
        annotator: who (user name, e-mail or tool user id).
        time: when, ISO-8601.
        tool: where it came from: ``"review"``, ``"label_studio"``, ``"argilla"``.
        split: the example's split, when known (ids are unique only within a split).
        shown: an imported answer's machine label, the one the tool showed next to the example (class index), to
            compare the answer with; None when unknown, or when the export showed the reviewers' label instead.
        shown_from: where ``shown`` came from: ``"export"`` (the file carries the label polarlab exported to the
            tool), ``"import"`` (the file does not: the row's machine label when the answer was imported, which
            may differ from what the tool showed), ``"people"`` (the export showed the reviewers' label: nothing
            to compare), None (not an import, or not known).
    """

    example_id: str
    label: int
    annotator: str
    time: str
    tool: str = "review"
    split: str | None = None
    shown: int | None = None
    shown_from: str | None = None

    def to_dict(self, task: Task) -> dict[str, Any]:
        """JSON-able, with the label as its name."""
        return {"label": task.labels[self.label], "annotator": self.annotator, "time": self.time, "tool": self.tool}


def shown_in_export(task: Task, label: Any, source: Any) -> tuple[int | None, str | None]:
    """``(shown, shown_from)`` of :class:`HumanVote` for an answer to a row polarlab exported with the label name
    ``label`` whose label source was ``source`` (``"human"``: the reviewers' label, else a method's): (None, None)
    when the file does not say (then :func:`polarlab.export.project.add_human_votes` reads the row's machine label)."""
    if not isinstance(label, str) or label not in task.labels:
        return None, None
    if source == HUMAN:
        return None, "people"
    return task.labels.index(label), "export"


def latest_per_annotator(votes: list[HumanVote]) -> list[HumanVote]:
    """Each annotator's latest vote (earlier answers of the same person are replaced)."""
    latest: dict[str, HumanVote] = {}
    for v in sorted(votes, key=lambda v: v.time):
        latest[v.annotator] = v
    return list(latest.values())


def human_label(votes: list[HumanVote]) -> int:
    """The reviewed label of one example: each annotator's latest vote, then the majority
    (a tie goes to the most recent vote)."""
    if not votes:
        return -1
    latest = latest_per_annotator(votes)
    counts = Counter(v.label for v in latest)
    top = max(counts.values())
    tied = {c for c, n in counts.items() if n == top}
    return max((v for v in latest if v.label in tied), key=lambda v: v.time).label


def human_disagreement(votes: list[HumanVote]) -> float:
    """The risk of a reviewed label: the share of annotators (latest vote each) who gave another label
    than :func:`human_label`; 0.0 for one annotator or a unanimous review, NaN when nobody answered."""
    if not votes:
        return float("nan")
    latest = latest_per_annotator(votes)
    label = human_label(votes)
    return sum(v.label != label for v in latest) / len(latest)


@dataclass
class FinalLabels:
    """What an export says about each of n rows: the reviewed label where people answered, else the model's.

    Attributes:
        label: (n,) class index.
        proba: (n, k) the final distribution: the model's, or the reviewed label at probability 1 (as
            ``polarlab run`` makes a reviewed row's final distribution, :func:`polarlab.stages.human.apply_human`).
        risk: (n,) the chance the label is wrong: the model's, or the reviewers' disagreement
            (:func:`human_disagreement`).
        source: n strings, ``"human"`` or the model's method.
        reviewers: n strings, the annotators of each row (sorted, comma-separated; "" where none).
    """

    label: np.ndarray
    proba: np.ndarray
    risk: np.ndarray
    source: list[str]
    reviewers: list[str]

    @property
    def reviewed(self) -> np.ndarray:
        """(n,) bool: someone answered."""
        return np.asarray([bool(r) for r in self.reviewers], dtype=bool)


@dataclass
class LabeledData:
    """Final labels of n examples, ready to export.

    Attributes:
        task: the task.
        ids, texts: n example ids and texts.
        proba: (n, k) the final model's class distributions.
        risk: (n,) chance the final label is wrong (default ``1 - max proba``).
        votes: the sources' votes (n × m label matrix), or None.
        human: human votes (any order; several per example allowed).
        split: n split names, or None.
        corrections: example id (``"<split>/<id>"`` when splits are given) -> list of
            ``{"source", "strategy", "before", "after"}`` (LLM answers re-asked).
        method: the name of the model that made ``proba`` (e.g. ``"polar"``).
    """

    task: Task
    ids: list[str]
    texts: list[str]
    proba: np.ndarray
    risk: np.ndarray | None = None
    votes: LabelMatrix | None = None
    human: list[HumanVote] = field(default_factory=list)
    split: list[str] | None = None
    corrections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    method: str = "polar"

    def __post_init__(self) -> None:
        self.ids = [str(i) for i in self.ids]
        self.proba = np.asarray(self.proba, dtype=np.float64)
        n = len(self.ids)
        if self.proba.shape != (n, self.task.n_classes) or len(self.texts) != n:
            raise InputError(f"{n} ids, {len(self.texts)} texts, proba {self.proba.shape}", column="proba",
                             fix=f"give one text and one row of {self.task.n_classes} probabilities per id")
        if self.risk is None:
            self.risk = 1.0 - self.proba.max(axis=1)
        self.risk = np.asarray(self.risk, dtype=np.float64)
        if self.votes is not None and self.votes.L.shape[0] != n:
            raise InputError(f"votes have {self.votes.L.shape[0]} rows for {n} examples", column="votes",
                             fix="pass the label matrix of the same rows")
        self.human = [self._place(v) for v in self.human]

    def keys(self) -> list[tuple[str | None, str]]:
        """(split, id) of every row (split None when unknown)."""
        splits = self.split if self.split is not None else [None] * len(self.ids)
        return list(zip(splits, self.ids))

    def _place(self, v: HumanVote) -> HumanVote:
        """``v`` with its split filled in (an id found in exactly one split), or an error."""
        keys = set(self.keys())
        if (v.split, v.example_id) in keys:
            return v
        where = [s for s, i in keys if i == v.example_id]
        if len(where) == 1 and (v.split is None or self.split is None):
            return replace(v, split=where[0])
        why = "is in several splits" if len(where) > 1 else "is not an example of this project"
        raise InputError(f"human vote for id {v.example_id!r} (split {v.split}): the id {why}", column="example_id",
                         fix="import annotations of this project's examples, with their split")

    def human_by_id(self) -> dict[tuple[str | None, str], list[HumanVote]]:
        """(split, id) -> that example's human votes."""
        out: dict[tuple[str | None, str], list[HumanVote]] = {}
        for v in self.human:
            out.setdefault((v.split, v.example_id), []).append(v)
        return out

    def provenance(self, i: int, human: list[HumanVote]) -> dict[str, Any]:
        """Row ``i``'s provenance: method, sources' votes (abstains left out), corrections, human votes."""
        sources: dict[str, str] = {}
        if self.votes is not None:
            for j, name in enumerate(self.votes.names):
                v = int(self.votes.L[i, j])
                if v >= 0:
                    sources[name] = self.task.labels[v]
        return {"method": self.method, "sources": sources,
                "corrections": list(self.corrections.get(self.ids[i] if self.split is None
                                                         else f"{self.split[i]}/{self.ids[i]}", [])),
                "human": [h.to_dict(self.task) for h in sorted(human, key=lambda h: h.time)]}

    def final(self) -> FinalLabels:
        """Each row's exported label, distribution and risk (see :class:`FinalLabels`): a reviewed row
        carries its reviewers' label at probability 1 and their disagreement as its risk, whatever the
        model said (its distribution in the state is the model's until the next ``polarlab run``)."""
        by_id = self.human_by_id()
        label = self.proba.argmax(axis=1)
        proba, risk = self.proba.copy(), np.asarray(self.risk, dtype=np.float64).copy()
        source, reviewers = [], []
        for i, key in enumerate(self.keys()):
            votes = by_id.get(key, [])
            h = human_label(votes)
            if h >= 0:
                label[i] = h
                proba[i] = 0.0
                proba[i, h] = 1.0
                risk[i] = human_disagreement(votes)
            source.append(HUMAN if h >= 0 else self.method)
            reviewers.append(",".join(sorted({v.annotator for v in votes})))
        return FinalLabels(label, proba, risk, source, reviewers)

    def frame(self) -> pd.DataFrame:
        """The export table, one row per example.

        Columns: ``id``, ``text``, ``split`` (if known), ``label`` (the reviewed label where people
        answered, else the model's), ``label_index``, ``label_source`` (``"human"`` or the method),
        ``probability`` of ``label`` and ``p_<label>`` per class (the model's distribution; a reviewed
        row: 1 for its reviewed label), ``risk`` (the model's; a reviewed row: the share of reviewers who
        gave another label, 0 when they agree), ``reviewed``, ``reviewed_by``, ``provenance`` (JSON text,
        see :meth:`provenance`). See :meth:`final`.
        """
        fin = self.final()
        by_id = self.human_by_id()
        prov = [dumps(self.provenance(i, by_id.get(key, [])), ensure_ascii=False, sort_keys=True)
                for i, key in enumerate(self.keys())]
        out = pd.DataFrame({"id": self.ids, "text": list(self.texts)})
        if self.split is not None:
            out["split"] = list(self.split)
        out["label"] = [self.task.labels[c] for c in fin.label]
        out["label_index"] = fin.label
        out["label_source"] = fin.source
        out["probability"] = fin.proba[np.arange(len(fin.label)), fin.label]
        for c, name in enumerate(self.task.labels):
            out[f"p_{name}"] = fin.proba[:, c]
        out["risk"] = fin.risk
        out["reviewed"] = [bool(r) for r in fin.reviewed]
        out["reviewed_by"] = fin.reviewers
        out["provenance"] = prov
        return out


def parse_provenance(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``provenance`` JSON text parsed back to dicts (a copy)."""
    out = frame.copy()
    out["provenance"] = [json.loads(p) if isinstance(p, str) else p for p in out["provenance"]]
    return out


def votes_from_provenance(frame: pd.DataFrame, task: Task) -> list[HumanVote]:
    """The human votes an exported table carries (its ``provenance`` column)."""
    out = []
    splits = frame["split"].astype(str) if "split" in frame.columns else [None] * len(frame)
    for ex, split, p in zip(frame["id"].astype(str), splits, frame["provenance"]):
        p = json.loads(p) if isinstance(p, str) else p
        for h in p.get("human", []):
            out.append(HumanVote(ex, task.label_index(h["label"]), h["annotator"], h["time"], h.get("tool", "review"),
                                 split))
    return out

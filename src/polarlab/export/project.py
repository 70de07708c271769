"""A project's final labels with provenance, read from its saved state or its outputs folder.

Source of truth, in order:

1. the project state (:class:`polarlab.state.ProjectState` in ``state_dir``): examples per split, the
   final method's distributions, the sources' votes, and the vote events — corrections and human
   answers (the review loop's, and annotations imported from Label Studio / Argilla), with who and when;
2. when the state holds no distributions yet (the run wrote only files), the outputs folder of the last
   ``polarlab run``: the labels file (``p_<label>``, ``vote_<source>``, ``split``) and
   ``corrections.csv``, with texts and gold from the project's data. Human answers still come from
   the state.

Human answers are written to the state as vote events of the source ``"human"`` (``kind="human"``,
``who`` = the annotator, ``created`` = when they answered), the same events the review loop writes; an
imported answer's ``strategy`` is the tool and its ``note`` JSON ``{"tool", "shown", "shown_from"}``: the
machine label the tool showed (:class:`HumanVote` ``shown``), which the report compares the answers with.
(Imports before that stored only the tool, in ``note``.)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..matrix.label_matrix import LabelMatrix
from ..project import Project
from .provenance import HUMAN as HUMAN_SOURCE, HumanVote, LabeledData


@dataclass
class ProjectLabels:
    """What a project labelled: every split's rows in one :class:`LabeledData` (``split`` set).

    Attributes:
        data: the labels, votes, human answers and corrections.
        gold: (n,) gold class index, -1 where none.
        metrics: the run's report (``metrics.json``), {} when none.
        origin: ``"state"`` or ``"outputs"`` (where the labels were read).
        inputs: the texts as models see them (relation tasks: entities marked), n strings.
    """

    data: LabeledData
    gold: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    origin: str = "outputs"
    inputs: list[str] = field(default_factory=list)

    def rows(self, split: str) -> np.ndarray:
        """Positions of ``split``'s rows."""
        return np.flatnonzero(np.asarray(self.data.split) == split)

    @property
    def splits(self) -> list[str]:
        return list(dict.fromkeys(self.data.split or []))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(float(t), timezone.utc).isoformat(timespec="seconds")


def _unix(iso: str) -> float:
    try:
        dt = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(timezone.utc).timestamp()
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def open_state(project: Project, readonly: bool = True):
    """The project's :class:`ProjectState`, or None when none exists yet (read-only use)."""
    from ..state import ProjectState

    if readonly and not (Path(project.state_dir) / "state.sqlite").exists():
        return None
    return ProjectState(project.state_dir, readonly=readonly)


def human_votes_from_state(state) -> list[HumanVote]:
    """Every valid human answer in the state: each annotator's latest event per example (an undo,
    value -1, removes the answer)."""
    if state is None:
        return []
    ev = state.vote_events(kind="human")
    latest: dict[tuple[str, str, str], Any] = {}
    for e in ev.itertuples():
        latest[(e.split, e.example_id, e.who or "")] = e
    out = []
    for e in latest.values():
        if int(e.value) >= 0:
            # the review store names itself in ``strategy`` (its ``note`` is JSON); imports name the tool in
            # ``strategy`` with the shown label in ``note`` (older imports: the tool in ``note``)
            tool = (e.strategy if isinstance(e.strategy, str) and e.strategy
                    else e.note if isinstance(e.note, str) and e.note else "review")
            shown = _shown_note(e.note) if tool != "review" else {}
            out.append(HumanVote(str(e.example_id), int(e.value), e.who or "unknown", _iso(e.created), tool, e.split,
                                 shown.get("shown"), shown.get("shown_from")))
    return sorted(out, key=lambda v: v.time)


def _shown_note(note: Any) -> dict[str, Any]:
    """``shown`` and ``shown_from`` of an imported answer's event note ({} for an older import's plain tool name)."""
    if not isinstance(note, str) or not note.startswith("{"):
        return {}
    try:
        got = json.loads(note)
    except json.JSONDecodeError:
        return {}
    shown = got.get("shown")
    return {"shown": int(shown) if isinstance(shown, int) else None, "shown_from": got.get("shown_from")}


def add_human_votes(project: Project, votes: list[HumanVote], known: ProjectLabels | None = None) -> int:
    """Store ``votes`` in the project state as human vote events (one transaction); returns how many.

    Every vote's split is resolved first (``known`` = the project's labels, to check the ids), so a bad
    file stores nothing. A vote whose file did not say which label the tool showed (``shown_from`` None) gets
    the row's machine label now (``known``'s distribution, people's answers left out; ``shown_from`` ``"import"``).
    """
    if known is not None:
        placed = LabeledData(known.data.task, known.data.ids, known.data.texts, known.data.proba,
                             split=known.data.split, human=list(votes)).human
        row = {key: i for i, key in enumerate(known.data.keys())}
        machine = known.data.proba.argmax(axis=1)
        placed = [replace(v, shown=int(machine[row[(v.split, v.example_id)]]), shown_from="import")
                  if v.shown_from is None and (v.split, v.example_id) in row else v for v in placed]
    else:
        placed = list(votes)
    missing = [v for v in placed if v.split is None]
    if missing:
        raise DataError(f"no split for example {missing[0].example_id!r}", column="split",
                        fix="run the project first so its examples are known")
    state = open_state(project, readonly=False)
    try:
        state.add_vote_events([{"split": v.split, "example_id": v.example_id, "source": HUMAN_SOURCE,
                                "value": int(v.label), "kind": "human", "who": v.annotator, "strategy": v.tool,
                                "note": json.dumps({"tool": v.tool, "shown": v.shown, "shown_from": v.shown_from}),
                                "time": _unix(v.time)} for v in placed])
    finally:
        state.close()
    return len(placed)


def _corrections_from_state(state, task) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    names = list(task.labels) + [""]
    for e in state.vote_events(kind="correction").itertuples():
        prev = -1 if e.previous is None or pd.isna(e.previous) else int(e.previous)
        out.setdefault(f"{e.split}/{e.example_id}", []).append(
            {"source": e.source, "strategy": e.strategy, "before": names[prev], "after": names[int(e.value)]})
    return out


def _from_state(project: Project, state, method: str) -> ProjectLabels | None:
    splits = state.splits()
    if not splits or any(state.distribution(method, s) is None for s in splits):
        return None
    task = project.task
    from ..data.dataset import Dataset
    from ..features.embedding import texts_of

    ids, texts, proba, split_col, gold, Ls, inputs = [], [], [], [], [], [], []
    names: list[str] | None = None
    for s in splits:
        ex = state.examples(s)
        P = state.distribution(method, s)
        L, src = state.votes(s, events=True)
        keep = [j for j, n in enumerate(src) if n != HUMAN_SOURCE]
        L, src = L[:, keep], [src[j] for j in keep]
        if names is None:
            names = src
        if src != names:   # a source missing on one split: align by name
            full = np.full((len(ex), len(names)), -1, dtype=np.int64)
            for j, n in enumerate(src):
                if n in names:
                    full[:, names.index(n)] = L[:, j]
            L = full
        ids += ex["id"].astype(str).tolist()
        texts += ex["text"].astype(str).tolist()
        frame = ex if "label" in ex.columns else ex.assign(label=-1)
        inputs += texts_of(Dataset(frame.reset_index(drop=True), name=s))
        gold.append(ex["label"].to_numpy(dtype=np.int64) if "label" in ex.columns else np.full(len(ex), -1))
        proba.append(P)
        split_col += [s] * len(ex)
        Ls.append(L)
    L = np.vstack(Ls)
    matrix = LabelMatrix(L, list(names or []), ids, task.n_classes)
    data = LabeledData(task, ids, texts, np.vstack(proba), votes=matrix, human=human_votes_from_state(state),
                       split=split_col, corrections=_corrections_from_state(state, task), method=method)
    metrics = {}
    for rec in state.stages():
        metrics.setdefault("stages", {})[rec.name] = {"seconds": rec.seconds, "report": rec.report}
    return ProjectLabels(data, np.concatenate(gold), metrics, "state", inputs)


def _read_table(path: Path) -> pd.DataFrame:
    from ..report.collect import read_table

    return read_table(path)


def _from_outputs(project: Project, state) -> ProjectLabels:
    task = project.task
    path = Path(project.output_dir) / project.labels_file
    if not path.exists():
        raise DataError("no labels yet: the project has not been run", file=str(path),
                        fix="run `polarlab run PROJECT` first")
    frame = _read_table(path)
    frame["id"] = frame["id"].astype(str)
    missing = [f"p_{lab}" for lab in task.labels if f"p_{lab}" not in frame.columns]
    if missing:
        raise DataError(f"the labels file lacks {missing}", file=str(path), column=missing[0],
                        fix="run the project again (its labels do not match the task)")
    if "split" not in frame.columns:
        frame["split"] = "train"
    frame["split"] = frame["split"].astype(str)
    datasets = project.load_splits()
    from ..features.embedding import texts_of

    texts, gold, inputs = [], [], []
    lookup = {s: {i: r for r, i in enumerate(ds.ids)} for s, ds in datasets.items()}
    marked = {s: texts_of(ds) for s, ds in datasets.items()}
    for s, ex in zip(frame["split"], frame["id"]):
        if s not in lookup or ex not in lookup[s]:
            raise DataError(f"example {ex!r} of split {s!r} is not in the project's data", file=str(path),
                            column="id", fix="run the project again (its data changed since)")
        r = lookup[s][ex]
        texts.append(datasets[s].frame["text"].iat[r])
        inputs.append(marked[s][r])
        gold.append(int(datasets[s].frame["label"].iat[r]))
    proba = frame[[f"p_{lab}" for lab in task.labels]].to_numpy(dtype=np.float64)
    vote_cols = [c for c in frame.columns if c.startswith("vote_") and c != f"vote_{HUMAN_SOURCE}"]  # humans: state
    L = np.full((len(frame), len(vote_cols)), -1, dtype=np.int64)
    index = {lab: c for c, lab in enumerate(task.labels)}
    for j, c in enumerate(vote_cols):
        L[:, j] = [index.get(str(v), -1) if isinstance(v, str) else -1 for v in frame[c]]
    matrix = LabelMatrix(L, [c[len("vote_"):] for c in vote_cols], frame["id"].tolist(), task.n_classes)
    corrections: dict[str, list[dict[str, Any]]] = {}
    cpath = Path(project.output_dir) / "corrections.csv"
    if cpath.exists():
        audit = pd.read_csv(cpath, dtype={"id": str}, keep_default_na=False)
        for r in audit.itertuples():
            src = str(getattr(r, "source", ""))
            split = next((s for s in datasets if src.endswith(f"_{s}")), None)
            key = f"{split}/{r.id}" if split else str(r.id)
            corrections.setdefault(key, []).append({"source": src[: -len(split) - 1] if split else src,
                                                    "strategy": r.strategy, "before": r.old_label_name,
                                                    "after": r.new_label_name})
    metrics = {}
    mpath = Path(project.output_dir) / "metrics.json"
    if mpath.exists():
        metrics = json.loads(mpath.read_text(encoding="utf-8"))
    method = metrics.get("final", project.labelmodel.get("final", "polar"))
    data = LabeledData(task, frame["id"].tolist(), texts, proba, votes=matrix, human=human_votes_from_state(state),
                       split=frame["split"].tolist(), corrections=corrections, method=str(method))
    return ProjectLabels(data, np.asarray(gold, dtype=np.int64), metrics, "outputs", inputs)


def final_method(project: Project) -> str:
    methods = list(project.labelmodel.get("methods", ["mv", "snorkel", "dawid_skene", "polar"]))
    return str(project.labelmodel.get("final", "polar" if "polar" in methods else methods[-1]))


def load_project_labels(project: Project) -> ProjectLabels:
    """The project's final labels (state first, else the outputs folder); see the module docstring."""
    state = open_state(project)
    try:
        if state is not None:
            got = _from_state(project, state, final_method(project))
            if got is not None:
                return got
        return _from_outputs(project, state)
    finally:
        if state is not None:
            state.close()

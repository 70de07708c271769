"""The review queue and the answers in the project's SQLite state (``<state_dir>/state.sqlite``, WAL).

The review tables live in the same database as :class:`polarlab.state.ProjectState` (which creates
and migrates it), and every answer is also a *vote event* of the source ``"human"`` with its
provenance (``who`` = the reviewer, the time, the previous value; an undo is an event back to -1),
written in the same transaction, so ``ProjectState.votes(split)`` has a ``human`` column and
``ProjectState.vote_events(split, kind="human")`` the history. Without a ``split`` (unit tests,
benchmarks) the store is a plain SQLite file and writes no vote events.

Every write is one ``BEGIN IMMEDIATE`` transaction, so an answer is on disk before the page
moves on and concurrent reviewers (threads or processes) serialise cleanly. Tables:

- ``review_items``: one row per item: position ``row``, ``item_id``, ``kind`` (``risk`` = from the
  risk-ordered queue, ``audit`` = drawn at random within a risk stratum for the estimate),
  ``priority`` (higher first), the current machine ``label`` and its ``risk``, the ``payload``
  a reviewer sees (JSON; its optional ``choices``, a list of ``{"label": ...}`` dicts, are that item's answers
  in place of the review's ``labels``: a mention's candidate entities), and ``accept_score``: the loop's value of an answer (``SelfPacedReview.priority_``,
  the risk recalibrated on the answers so far), which decides the automatic acceptance (``accept_score <
  threshold``) exactly as in the loop; NULL = the plain ``risk`` (a store written before the column).
- ``review_answers``: every answer with ``reviewer``, ``time``, the ``answer`` (label index,
  NULL = skipped), the machine label and its risk at that moment, ``undone`` (time of undo, NULL = valid) and
  the client's ``request_id`` (a retried request is stored once).
- ``review_leases``: who is looking at what until when; nobody else gets an item while it is
  leased (unless each item is to be reviewed twice).
- ``review_meta``: settings (labels, budget, target, reviews per item, audit share, and the review's
  ``scope``: the slice name and its ``scope_rows`` when the queue is restricted to a slice).
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from ..errors import InputError
from ..state.store import DB_NAME, ProjectState
from .estimate import DEFAULT_ESTIMATOR, StoppingRule, estimate_accuracy

if TYPE_CHECKING:  # only for the annotation of final_labels (pandas is imported there when it runs)
    import pandas as pd


SCHEMA = """
CREATE TABLE IF NOT EXISTS review_items(
    row INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, priority REAL NOT NULL,
    label INTEGER NOT NULL, risk REAL NOT NULL, payload TEXT NOT NULL, answered INTEGER NOT NULL DEFAULT 0,
    accept_score REAL);
CREATE INDEX IF NOT EXISTS review_items_queue ON review_items(kind, priority DESC, row);
CREATE INDEX IF NOT EXISTS review_items_answered ON review_items(answered, kind) WHERE answered > 0;
CREATE TABLE IF NOT EXISTS review_answers(
    id INTEGER PRIMARY KEY AUTOINCREMENT, row INTEGER NOT NULL REFERENCES review_items(row),
    reviewer TEXT NOT NULL, answer INTEGER, machine_label INTEGER NOT NULL, machine_risk REAL NOT NULL,
    kind TEXT NOT NULL, time REAL NOT NULL, undone REAL, request_id TEXT UNIQUE);
CREATE INDEX IF NOT EXISTS review_answers_row ON review_answers(row, undone);
CREATE INDEX IF NOT EXISTS review_answers_reviewer ON review_answers(reviewer, undone);
CREATE TABLE IF NOT EXISTS review_leases(
    row INTEGER NOT NULL, reviewer TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY(row, reviewer));
CREATE TABLE IF NOT EXISTS review_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: after the migration below: what status() reads after every answer, without the payloads
SCORES_INDEX = "CREATE INDEX IF NOT EXISTS review_items_accept ON review_items(row, risk, label, accept_score)"

#: the open items (fewer valid answers + leases than reviews per item), not seen by :reviewer, within :scope
#: (a JSON list of rows, NULL = all); ``answered`` counts the valid (not undone, not skipped) answers, kept in
#: step by answer() and undo()
_OPEN = """
SELECT i.row FROM review_items i
WHERE i.kind = :kind AND i.answered < :per_item
  AND (:scope IS NULL OR i.row IN (SELECT value FROM json_each(:scope)))
  AND i.answered + (SELECT count(*) FROM review_leases l WHERE l.row = i.row) < :per_item
  AND NOT EXISTS (SELECT 1 FROM review_answers a WHERE a.row = i.row AND a.reviewer = :reviewer AND a.undone IS NULL)
ORDER BY i.priority DESC, i.row LIMIT 1
"""


def _meta(con: sqlite3.Connection) -> dict[str, Any]:
    return {r["key"]: json.loads(r["value"]) for r in con.execute("SELECT key, value FROM review_meta")}


class Conflict(Exception):
    """An answer that cannot be taken (item done by others, not this reviewer's, ...)."""


@dataclass
class Item:
    """One item of the queue, as the store holds it."""

    row: int
    item_id: str
    kind: str
    priority: float
    label: int
    risk: float
    payload: dict[str, Any]
    accept_score: float | None = None     # the loop's acceptance score (None = the risk)


def check_reviewer(name: str) -> str:
    """A reviewer name: 1-64 printable characters."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 64 or not name.isprintable():
        raise InputError(f"reviewer name {name!r}", column="reviewer", fix="use 1-64 printable characters")
    return name


HUMAN_SOURCE = "human"


def stop_message(why: str, status: dict[str, Any]) -> str:
    """What the page and the terminal say when the stopping rule ends the review.

    Args:
        why: ``"target"`` (the estimate's lower bound reached the target, or nothing is left unreviewed) or
            ``"budget"`` (as many items reviewed as the budget allows).
        status: :meth:`ReviewStore.status` (its ``budget``, ``target``, ``estimate`` and ``next_step``: what to do
            with the answers, when the review's kind says it (meta ``next_step``)).
    """
    after = status.get("next_step") or ("`polarlab run` on the project uses the answers; `polarlab review status` "
                                        "shows the estimate")
    if why == "budget":
        n = status["budget"]
        return (f"The review budget is spent ({n} review{'' if n == 1 else 's'}). {after}. To review more, start "
                f"`polarlab review` again with a larger --budget")
    lower = (status.get("estimate") or {}).get("lower")
    if lower is None or lower != lower:         # no unreviewed item left to estimate
        return f"Every item is reviewed. {after}"
    return (f"The review is done: the estimated accuracy's lower bound reached the target ({100 * lower:.1f}% >= "
            f"{100 * status['target']:.1f}%). {after}. To review more, start `polarlab review` again with a higher "
            f"--target")


class ReviewStore:
    """The review state of one project (see the module docstring).

    Args:
        path: the SQLite file (created with its folder); for a project, ``<state_dir>/state.sqlite``
            (:meth:`for_project`).
        lease_seconds: how long an item stays reserved for the reviewer it was shown to.
        split: the reviewed split's name in the project state; when given, answers are also written
            as ``"human"`` vote events (the state's ``vote_events`` table must exist).
    """

    def __init__(self, path: str | Path, lease_seconds: float = 600.0, split: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lease_seconds = float(lease_seconds)
        self.split = split
        self._local = threading.local()
        if split is not None:            # answers become vote events: the project state must be there
            ProjectState.ensure(self.path)
        con = self._connect()
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            cols = {r["name"] for r in con.execute("PRAGMA table_info(review_items)")}
            # columns added since the first stores: accept_score (NULL = the risk), locked (the label an item was
            # accepted with, SelfPacedReview(accepted="lock"/"source"); NULL = not accepted yet)
            for col, kind in (("accept_score", "REAL"), ("locked", "INTEGER")):
                if col not in cols:
                    try:
                        con.execute(f"ALTER TABLE review_items ADD COLUMN {col} {kind}")
                    except sqlite3.OperationalError:    # another process added it in between
                        pass
            con.execute("DROP INDEX IF EXISTS review_items_scores")
            con.execute(SCORES_INDEX)
        finally:
            con.close()

    @classmethod
    def for_project(cls, state_dir: str | Path, split: str, lease_seconds: float = 600.0) -> "ReviewStore":
        """The review store inside the project's state (created or migrated by ``ProjectState`` first)."""
        return cls(Path(state_dir) / DB_NAME, lease_seconds, split=split)

    def _vote_event(self, con: sqlite3.Connection, row: int, value: int, reviewer: str, now: float,
                    note: dict[str, Any]) -> None:
        """A ``"human"`` vote event in the project state, in the caller's transaction (``ProjectState`` writes it)."""
        if self.split is None:
            return
        item_id = con.execute("SELECT item_id FROM review_items WHERE row = ?", (row,)).fetchone()[0]
        ProjectState.add_vote_event_in(con, self.split, item_id, HUMAN_SOURCE, int(value), kind="human", who=reviewer,
                                       strategy="review", note=json.dumps(note), created=now)

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA synchronous=NORMAL")
        con.row_factory = sqlite3.Row
        return con

    def _con(self) -> sqlite3.Connection:
        """This thread's connection (server threads are pooled, so connections are reused)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on an exception."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        yield self._con()

    # ------------------------------------------------------------------ settings
    def set_meta(self, **values: Any) -> None:
        with self._write() as con:
            con.executemany("INSERT OR REPLACE INTO review_meta(key, value) VALUES (?, ?)",
                            [(k, json.dumps(v)) for k, v in values.items()])

    def meta(self) -> dict[str, Any]:
        with self._read() as con:
            return _meta(con)

    # ------------------------------------------------------------------ items
    def put_items(self, items: Sequence[Item]) -> None:
        """Insert items, or update the kind/priority/label/risk/payload/acceptance score of existing ones (answers
        are kept)."""
        with self._write() as con:
            con.executemany(
                "INSERT INTO review_items(row, item_id, kind, priority, label, risk, payload, accept_score) "
                "VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT(row) DO UPDATE SET item_id=excluded.item_id, kind=excluded.kind, "
                "priority=excluded.priority, label=excluded.label, risk=excluded.risk, payload=excluded.payload, "
                "accept_score=excluded.accept_score",
                [(it.row, it.item_id, it.kind, float(it.priority), int(it.label), float(it.risk),
                  json.dumps(it.payload), None if it.accept_score is None else float(it.accept_score))
                 for it in items])

    def update_scores(self, rows: np.ndarray, labels: np.ndarray, risks: np.ndarray, priorities: np.ndarray,
                      probabilities: np.ndarray, accept_scores: np.ndarray | None = None,
                      locked: np.ndarray | None = None) -> None:
        """After a refit: new machine labels, risks, priorities (queue ranks) and acceptance scores (the loop's
        ``priority_``; None = the risks) in one transaction (payloads follow); ``locked``: see :meth:`set_locked`."""
        accept = np.asarray(risks if accept_scores is None else accept_scores, dtype=np.float64)
        with self._write() as con:
            if locked is not None:
                self._set_locked(con, locked)
            for r, lab, risk, pr, p, acc in zip(rows.tolist(), labels.tolist(), risks.tolist(), priorities.tolist(),
                                                probabilities.tolist(), accept.tolist()):
                row = con.execute("SELECT payload FROM review_items WHERE row = ?", (r,)).fetchone()
                if row is None:
                    continue
                payload = json.loads(row["payload"])
                payload.update(label=int(lab), probability=float(p), risk=float(risk))
                con.execute("UPDATE review_items SET label=?, risk=?, priority=?, payload=?, accept_score=? WHERE row=?",
                            (int(lab), float(risk), float(pr), json.dumps(payload), float(acc), r))

    def n_items(self) -> int:
        with self._read() as con:
            return int(con.execute("SELECT count(*) FROM review_items").fetchone()[0])

    def items(self) -> list[Item]:
        with self._read() as con:
            return [Item(r["row"], r["item_id"], r["kind"], r["priority"], r["label"], r["risk"],
                         json.loads(r["payload"]), r["accept_score"])
                    for r in con.execute("SELECT * FROM review_items ORDER BY row")]

    # ------------------------------------------------------------------ reviewing
    def next_item(self, reviewer: str, now: float | None = None) -> dict[str, Any] | None:
        """Lease the next item to ``reviewer`` and return its payload (None when nothing is left).

        A reviewer who already holds a lease gets that item again (a reload shows the same item).
        Audits are interleaved so that they make up the ``audit_share`` of the answers. When the review has a
        scope (``set_meta(scope_rows=[...])``, a slice), only items in it are given.
        """
        reviewer = check_reviewer(reviewer)
        now = time.time() if now is None else now
        with self._write() as con:
            meta = _meta(con)
            per_item = int(meta.get("reviews_per_item", 1))
            share = float(meta.get("audit_share", 0.0))
            scope = meta.get("scope_rows")
            scope = None if scope is None else json.dumps(scope)
            con.execute("DELETE FROM review_leases WHERE expires < ?", (now,))
            held = con.execute("SELECT row FROM review_leases WHERE reviewer = ? ORDER BY expires DESC LIMIT 1",
                               (reviewer,)).fetchone()
            if held is not None:
                row = held["row"]
            else:
                n_all, n_audit = con.execute(
                    "SELECT coalesce(sum(answered), 0), coalesce(sum(answered * (kind = 'audit')), 0) "
                    "FROM review_items WHERE answered > 0").fetchone()
                kinds = ("audit", "risk") if n_audit < share * (n_all + 1) else ("risk", "audit")
                row = None
                for kind in kinds:
                    hit = con.execute(_OPEN, {"kind": kind, "per_item": per_item, "reviewer": reviewer,
                                             "scope": scope}).fetchone()
                    if hit is not None:
                        row = hit["row"]
                        break
                if row is None:
                    return None
            con.execute("INSERT OR REPLACE INTO review_leases(row, reviewer, expires) VALUES (?, ?, ?)",
                        (row, reviewer, now + self.lease_seconds))
            item = con.execute("SELECT * FROM review_items WHERE row = ?", (row,)).fetchone()
        payload = json.loads(item["payload"])
        payload.update(row=item["row"], id=item["item_id"], kind=item["kind"], label=item["label"],
                       risk=item["risk"])
        return payload

    def answer(self, reviewer: str, row: int, answer: int | None, request_id: str | None = None,
               now: float | None = None, choice: dict[str, Any] | None = None) -> int:
        """Store ``reviewer``'s answer (label index, or the index of one of the item's own ``choices`` when its
        payload has them; None = skip) for item ``row``; returns the answer id.

        ``choice``: an answer outside the item's ``choices`` (a dict with ``id`` and ``label``, e.g. another entity
        of a linking project's ontology, already checked by the caller) in place of ``answer``: the item's choice
        with that ``id`` when it has one, else it is appended to the item's ``choices`` (in the same transaction, so
        the answer, the export and a second reviewer read it as one more choice).

        Raises:
            Conflict: the item is already answered by as many reviewers as it needs, or by this one.
            InputError: unknown item, an answer that is not a label index, or a ``choice`` for an item without
                ``choices``.
        """
        reviewer = check_reviewer(reviewer)
        now = time.time() if now is None else now
        with self._write() as con:
            meta = _meta(con)
            per_item = int(meta.get("reviews_per_item", 1))
            if request_id is not None:
                done = con.execute("SELECT id FROM review_answers WHERE request_id = ?", (request_id,)).fetchone()
                if done is not None:
                    return int(done["id"])
            if choice is not None:
                answer = self._choice_index(con, row, choice)
            item = con.execute("SELECT label, risk, kind, json_array_length(payload, '$.choices') AS choices "
                               "FROM review_items WHERE row = ?", (row,)).fetchone()
            if item is None:
                raise InputError(f"no item {row}", column="row", fix="answer the item the queue gave you")
            k = item["choices"] or len(meta.get("labels", [])) or None    # the item's own choices, else the labels
            if answer is not None and (answer < 0 or (k is not None and answer >= k)):
                what = f"one of item {row}'s {k} choices" if item["choices"] else "a label index"
                raise InputError(f"answer {answer} is not {what}", column="answer", fix=f"use 0..{(k or 1) - 1}, or skip")
            mine = con.execute("SELECT 1 FROM review_answers WHERE row = ? AND reviewer = ? AND undone IS NULL",
                               (row, reviewer)).fetchone()
            if mine is not None:
                raise Conflict(f"{reviewer} already answered item {row}")
            if answer is not None:
                answered = con.execute("SELECT answered FROM review_items WHERE row = ?", (row,)).fetchone()[0]
                if answered >= per_item:
                    raise Conflict(f"item {row} is already answered")
                held = con.execute("SELECT 1 FROM review_leases WHERE row = ? AND reviewer = ?",
                                   (row, reviewer)).fetchone()
                leased = con.execute("SELECT count(*) FROM review_leases WHERE row = ? AND reviewer != ? "
                                     "AND expires >= ?", (row, reviewer, now)).fetchone()[0]
                if held is None and answered + leased >= per_item:
                    raise Conflict(f"item {row} is taken by another reviewer")
            cur = con.execute(
                "INSERT INTO review_answers(row, reviewer, answer, machine_label, machine_risk, kind, time, request_id) "
                "VALUES (?,?,?,?,?,?,?,?)", (row, reviewer, answer, item["label"], item["risk"], item["kind"], now,
                                             request_id))
            if answer is not None:
                con.execute("UPDATE review_items SET answered = answered + 1 WHERE row = ?", (row,))
                self._vote_event(con, row, answer, reviewer, now, {"answer_id": cur.lastrowid, "check": item["kind"]})
            con.execute("DELETE FROM review_leases WHERE row = ? AND reviewer = ?", (row, reviewer))
            return int(cur.lastrowid)

    @staticmethod
    def _choice_index(con: sqlite3.Connection, row: int, choice: dict[str, Any]) -> int:
        """The index of ``choice`` (by ``id``) among item ``row``'s ``choices``, appended to them when new (in the
        caller's transaction)."""
        got = con.execute("SELECT payload FROM review_items WHERE row = ?", (row,)).fetchone()
        if got is None:
            raise InputError(f"no item {row}", column="row", fix="answer the item the queue gave you")
        payload = json.loads(got["payload"])
        choices = payload.get("choices")
        if not choices:
            raise InputError(f"item {row} has no choices to add {choice.get('id')!r} to", column="other",
                             fix="answer with a label index")
        for i, c in enumerate(choices):
            if c.get("id") == choice["id"]:
                return i
        choices.append(dict(choice))
        con.execute("UPDATE review_items SET payload = ? WHERE row = ?", (json.dumps(payload), row))
        return len(choices) - 1

    def undo(self, reviewer: str, now: float | None = None) -> int | None:
        """Withdraw ``reviewer``'s latest valid answer and lease its item back; returns its row (None: nothing)."""
        reviewer = check_reviewer(reviewer)
        now = time.time() if now is None else now
        with self._write() as con:
            last = con.execute("SELECT id, row, answer FROM review_answers WHERE reviewer = ? AND undone IS NULL "
                               "ORDER BY id DESC LIMIT 1", (reviewer,)).fetchone()
            if last is None:
                return None
            con.execute("UPDATE review_answers SET undone = ? WHERE id = ?", (now, last["id"]))
            if last["answer"] is not None:
                con.execute("UPDATE review_items SET answered = answered - 1 WHERE row = ?", (last["row"],))
                self._vote_event(con, last["row"], -1, reviewer, now, {"undo_of": last["id"]})
            con.execute("DELETE FROM review_leases WHERE reviewer = ?", (reviewer,))
            con.execute("INSERT OR REPLACE INTO review_leases(row, reviewer, expires) VALUES (?, ?, ?)",
                        (last["row"], reviewer, now + self.lease_seconds))
            return int(last["row"])

    def budget_spent(self) -> bool:
        """Whether the review's budget (``meta`` ``budget``, over its scope) is used up: one count, exact after
        every answer and undo (:meth:`status` computes the estimate as well, too slow to run before every item)."""
        meta = self.meta()
        scope = meta.get("scope_rows")
        with self._read() as con:
            n, reviewed = con.execute(
                "SELECT count(*), coalesce(sum(answered > 0), 0) FROM review_items "
                "WHERE :scope IS NULL OR row IN (SELECT value FROM json_each(:scope))",
                {"scope": None if scope is None else json.dumps(scope)}).fetchone()
        rule = StoppingRule(float(meta.get("target", 0.95)), float(meta.get("budget", 0.05)))
        return n > 0 and reviewed >= rule.allowed(n)

    # ------------------------------------------------------------------ reading the answers
    def answers(self, valid_only: bool = True) -> list[dict[str, Any]]:
        """Stored answers (oldest first), as dicts of the ``review_answers`` columns."""
        q = "SELECT * FROM review_answers" + (" WHERE undone IS NULL" if valid_only else "") + " ORDER BY id"
        with self._read() as con:
            return [dict(r) for r in con.execute(q)]

    @staticmethod
    def _set_locked(con: sqlite3.Connection, locked: np.ndarray) -> None:
        locked = np.asarray(locked)
        con.executemany("UPDATE review_items SET locked=? WHERE row=?",
                        [(int(locked[r]), int(r)) for r in np.flatnonzero(locked >= 0).tolist()])

    def set_locked(self, locked: np.ndarray) -> None:
        """(n,) the label each item was accepted with (-1: none; items are never unlocked), kept for a resumed review."""
        with self._write() as con:
            self._set_locked(con, locked)

    def locked_labels(self, n: int) -> np.ndarray:
        """(n,) the label each item was accepted with in an earlier round (-1: not accepted yet)."""
        out = np.full(n, -1, dtype=np.int64)
        with self._read() as con:
            for r in con.execute("SELECT row, locked FROM review_items WHERE locked IS NOT NULL"):
                if 0 <= r["row"] < n:
                    out[r["row"]] = r["locked"]
        return out

    def human_labels(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per item position (n items): the people's label (-1 = none; with several answers the most
        frequent, earliest on ties), whether it was an audit, and the machine label and its risk when
        first answered.

        Returns:
            (human (n,) int, audited (n,) bool, machine_at_answer (n,) int, risk_at_answer (n,) float, NaN = none).
        """
        human = np.full(n, -1, dtype=np.int64)
        audited = np.zeros(n, dtype=bool)
        machine = np.full(n, -1, dtype=np.int64)
        machine_risk = np.full(n, np.nan)
        votes: dict[int, list[int]] = {}
        for a in self.answers():
            if a["answer"] is None:
                continue
            votes.setdefault(a["row"], []).append(a["answer"])
            if machine[a["row"]] < 0:
                machine[a["row"]] = a["machine_label"]
                machine_risk[a["row"]] = a["machine_risk"]
                audited[a["row"]] = a["kind"] == "audit"
        for r, v in votes.items():
            vals, counts = np.unique(v, return_counts=True)
            best = vals[counts == counts.max()]
            human[r] = next(x for x in v if x in best)
        return human, audited, machine, machine_risk

    def final_labels(self) -> "pd.DataFrame":
        """One row per item: ``id``, ``label`` (label name: the people's answer where reviewed, else the current
        machine label), ``source`` (``human`` | ``machine``), ``risk`` (of ``label``: the machine label's, or on a
        reviewed item the share of its answers that gave another label, 0 when they agree), ``machine_label``,
        ``machine_risk`` (of the machine label), ``reviewers`` (comma-separated)."""
        import pandas as pd

        labels = self.meta().get("labels", [])
        name = (lambda i: labels[i] if 0 <= i < len(labels) else str(i))
        with self._read() as con:
            items = con.execute("SELECT row, item_id, label, risk FROM review_items ORDER BY row").fetchall()
        n = (items[-1]["row"] + 1) if items else 0
        human = self.human_labels(n)[0]
        who: dict[int, list[str]] = {}
        given: dict[int, list[int]] = {}
        for a in self.answers():
            if a["answer"] is not None:
                who.setdefault(a["row"], []).append(a["reviewer"])
                given.setdefault(a["row"], []).append(int(a["answer"]))

        def risk(it) -> float:
            h = human[it["row"]]
            if h < 0:
                return float(it["risk"])
            answers = given[it["row"]]
            return sum(x != h for x in answers) / len(answers)

        return pd.DataFrame({
            "id": [it["item_id"] for it in items],
            "label": [name(int(human[it["row"]])) if human[it["row"]] >= 0 else name(it["label"]) for it in items],
            "source": ["human" if human[it["row"]] >= 0 else "machine" for it in items],
            "risk": [risk(it) for it in items],
            "machine_label": [name(it["label"]) for it in items],
            "machine_risk": [float(it["risk"]) for it in items],
            "reviewers": [",".join(who.get(it["row"], [])) for it in items]})

    def agreement(self) -> dict[str, Any]:
        """Agreement on items answered by two or more reviewers: share of agreeing pairs and Cohen's
        kappa of the first two answers (None when fewer than 2 such items)."""
        per_row: dict[int, list[int]] = {}
        for a in self.answers():
            if a["answer"] is not None:
                per_row.setdefault(a["row"], []).append(a["answer"])
        multi = [v for v in per_row.values() if len(v) >= 2]
        if not multi:
            return {"items": 0, "pairwise": None, "kappa": None}
        pairs = [(v[i], v[j]) for v in multi for i in range(len(v)) for j in range(i + 1, len(v))]
        kappa = None
        if len(multi) >= 2:
            from sklearn.metrics import cohen_kappa_score

            a, b = [v[0] for v in multi], [v[1] for v in multi]
            kappa = float(cohen_kappa_score(a, b)) if len(set(a) | set(b)) > 1 else 1.0
        return {"items": len(multi), "pairwise": float(np.mean([x == y for x, y in pairs])), "kappa": kappa}

    def status(self, bins: int = 10, rows: Sequence[int] | None = None, scope: str | None = None) -> dict[str, Any]:
        """Reviewed / accepted / remaining, the estimate with its interval, budget left, agreement, and the
        risk-vs-errors chart (per risk bin: reviewed items and errors the reviewers found).

        "Accepted" is what the loop accepts (:meth:`SelfPacedReview.accepted`): not reviewed and the acceptance
        score (the loop's ``priority_``, column ``accept_score``) under the round's threshold; the estimate of
        the accepted labels is over the same items.

        Counted over the item positions ``rows`` (named ``scope``, e.g. a slice); by default over the review's own
        scope (the slice it was started on), else over all items.
        """
        meta = self.meta()
        scope_rows = rows
        if scope_rows is None:
            scope_rows, scope = meta.get("scope_rows"), meta.get("scope")
        with self._read() as con:     # no payloads: this runs after every answer
            rows = np.array(con.execute("SELECT row, risk, label, coalesce(accept_score, risk) FROM review_items "
                                        "INDEXED BY review_items_accept").fetchall(), dtype=np.float64)
        rows = rows.reshape(-1, 4)
        n = int(rows[:, 0].max()) + 1 if len(rows) else 0
        at = rows[:, 0].astype(np.int64)
        risk = np.zeros(n)
        label = np.full(n, -1, dtype=np.int64)
        present = np.zeros(n, dtype=bool)
        score = np.zeros(n)
        risk[at], label[at], score[at], present[at] = rows[:, 1], rows[:, 2].astype(np.int64), rows[:, 3], True
        if scope_rows is not None:
            present &= np.isin(np.arange(n), np.asarray(scope_rows, dtype=np.int64))
        human, audited, machine, machine_risk = self.human_labels(n)
        reviewed, audited = (human >= 0) & present, audited & present
        threshold = float(meta.get("threshold", 0.0))
        target, budget = float(meta.get("target", 0.95)), float(meta.get("budget", 0.05))
        rule = StoppingRule(target=target, budget=budget)
        pop = present & (~reviewed | audited)
        err = audited & (label != human)      # audits are kept out of refits: check the current label
        # the review's estimator (written by the session; a review without one: the library's default)
        calib = dict(calib_risk=machine_risk[reviewed], calib_error=machine[reviewed] != human[reviewed],
                     estimator=meta.get("estimator", DEFAULT_ESTIMATOR))
        est_all = estimate_accuracy(risk, pop, audited, err, **calib)
        est_acc = estimate_accuracy(risk, pop & (score < threshold), audited, err, **calib)
        accepted = int((present & ~reviewed & (score < threshold)).sum())
        edges = np.linspace(0.0, 1.0, bins + 1)
        which = np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, bins - 1)
        found = reviewed & (machine != human)
        chart = [{"risk_from": float(edges[b]), "risk_to": float(edges[b + 1]),
                  "reviewed": int((reviewed & (which == b)).sum()), "errors": int((found & (which == b)).sum())}
                 for b in range(bins)]
        n_items = int(present.sum())
        allowed = rule.allowed(n_items)
        stop = rule.check(est_all, int(reviewed.sum()), n_items) if n_items else None
        answers = self.answers()
        return {
            "items": n_items, "reviewed": int(reviewed.sum()), "audited": int(audited.sum()),
            "accepted": accepted, "remaining": int(n_items - reviewed.sum() - accepted), "threshold": threshold,
            "answers": sum(a["answer"] is not None for a in answers),
            "skips": sum(a["answer"] is None for a in answers),
            "errors_found": int(found.sum()),
            "estimate_accepted": est_acc.to_dict(), "estimate": est_all.to_dict(),
            "target": target, "budget": allowed, "budget_left": max(allowed - int(reviewed.sum()), 0),
            "stop": stop, "agreement": self.agreement(), "chart": chart,
            "labels": meta.get("labels", []), "reviews_per_item": int(meta.get("reviews_per_item", 1)),
            "scope": scope if scope_rows is not None else None, "next_step": meta.get("next_step"),
        }

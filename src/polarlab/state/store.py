"""``ProjectState``: the one object that reads and writes a project's saved state (see :mod:`polarlab.state`)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ..errors import StateError
from .artifacts import ArtifactStore, frame_bytes, sha256
from .schema import MIGRATIONS, SCHEMA_VERSION, TABLES

DB_NAME = "state.sqlite"
ARTIFACTS = "artifacts"
EVENT_KINDS = ("source", "human", "correction")


def content_hash(*parts: Any) -> str:
    """SHA-256 (hex) of ``parts``: arrays by their bytes, frames by their Parquet bytes, the rest as JSON."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str((p.dtype.str, p.shape)).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, pd.DataFrame):
            h.update(sha256(frame_bytes(p)).encode())
        elif isinstance(p, bytes):
            h.update(p)
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class SourceVotes:
    """One source's stored output on one split.

    Attributes:
        votes: (n,) int64, class index or -1 (abstain).
        proba: (n, k) float64 distributions (NaN rows where none), or None.
        key: the hash the writer gave (source config + data), to decide whether to re-apply.
        position: the source's column position in the project's matrix.
        info: JSON-able extras (e.g. ``{"failures": [...]}``).
    """

    votes: np.ndarray
    proba: np.ndarray | None
    key: str
    position: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageRecord:
    """The last completed run of a stage.

    Attributes:
        name: the stage.
        config_hash: hash of the config section the stage read.
        inputs: input name -> hash of what it read (upstream outputs).
        output_hash: hash of what it wrote (downstream stages list it among their inputs).
        seconds: wall time of that run.
        report: the stage's JSON-able report.
        finished: UNIX time it finished.
    """

    name: str
    config_hash: str
    inputs: dict[str, str]
    output_hash: str
    seconds: float
    report: dict[str, Any]
    finished: float


class ProjectState:
    """A project's state folder: ``state.sqlite`` (WAL) plus content-addressed NPY/Parquet artifacts.

    Every ``put_*`` call is one transaction; wrap several in ``with state.transaction():`` to commit
    them together (a stage's whole result). Safe to share between threads of one process (one
    connection, one lock) and between processes (SQLite WAL, busy timeout).

    Args:
        root: the state folder (created when missing).
        readonly: open without creating or migrating anything (``polarlab status``).
    """

    def __init__(self, root: str | Path, readonly: bool = False) -> None:
        self.root = Path(root)
        self.db_path = self.root / DB_NAME
        self.artifacts = ArtifactStore(self.root / ARTIFACTS)
        self._lock = threading.RLock()
        self._depth = 0
        if readonly and not self.db_path.exists():
            raise StateError("no project state here yet", file=str(self.db_path), fix="run the project first")
        try:
            if not readonly:
                self.root.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.db_path}?mode=ro" if readonly else str(self.db_path)
            self._db = sqlite3.connect(uri, uri=readonly, isolation_level=None, check_same_thread=False,
                                       timeout=30.0)
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._prepare(readonly)
        except sqlite3.DatabaseError as e:
            raise StateError(f"the state database cannot be read ({e})", file=str(self.db_path),
                             fix="move the state folder aside (its caches are rebuilt on the next run)") from None
        except OSError as e:
            raise StateError(f"the state folder cannot be written ({e.strerror or e})", file=str(self.root),
                             fix="choose a writable [project] state_dir") from None

    # ---------------------------------------------------------------- plumbing
    def _prepare(self, readonly: bool) -> None:
        row = self._db.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone()
        version = None
        if row:
            got = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(got[0]) if got else None
        if version is not None and version > SCHEMA_VERSION:
            raise StateError(f"the state was written by a newer polarlab (schema v{version}; this one reads "
                             f"v{SCHEMA_VERSION})", file=str(self.db_path),
                             fix="upgrade polarlab, or give the project another [project] state_dir")
        if readonly:
            if version != SCHEMA_VERSION:
                raise StateError(f"the state has schema v{version}, this polarlab reads v{SCHEMA_VERSION}",
                                 file=str(self.db_path), fix="run the project once to migrate it")
            return
        with self.transaction():
            if version is None:
                for stmt in filter(str.strip, TABLES.split(";")):
                    self._db.execute(stmt)
                self._set_meta("schema_version", str(SCHEMA_VERSION))
                self._set_meta("created", str(time.time()))
            else:
                while version < SCHEMA_VERSION:
                    if version not in MIGRATIONS:
                        raise StateError(f"no migration from state schema v{version}", file=str(self.db_path),
                                         fix="move the state folder aside and run again")
                    for stmt in MIGRATIONS[version]:
                        self._db.execute(stmt)
                    version += 1
                    self._set_meta("schema_version", str(version))

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def schema_version(self) -> int:
        return int(self._q1("SELECT value FROM meta WHERE key='schema_version'")[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator["ProjectState"]:
        """Group writes into one transaction (nested calls join the outer one)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _q1(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        rows = self._q(sql, args)
        return rows[0] if rows else None

    def _w(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self.transaction():
            return self._db.execute(sql, tuple(args)).lastrowid or 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "ProjectState":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- examples
    def put_examples(self, split: str, frame: pd.DataFrame) -> str:
        """Store split ``split``'s examples (a Dataset's frame: ``id``, ``text``, …; gold in ``label``).

        Returns:
            the content hash of the frame (changes whenever any row or column does).
        """
        if "id" not in frame.columns:
            raise ValueError("examples need an 'id' column")
        ref = self.artifacts.put_frame(frame)
        digest = ref.split(".", 1)[0]
        self._w("INSERT OR REPLACE INTO examples VALUES (?, ?, ?, ?, ?)",
                (split, ref, len(frame), digest, time.time()))
        return digest

    def splits(self) -> list[str]:
        """Names of the stored splits, in the order they were first stored."""
        return [r[0] for r in self._q("SELECT split FROM examples ORDER BY rowid")]

    def examples(self, split: str) -> pd.DataFrame:
        """The stored frame of ``split`` (KeyError when none)."""
        row = self._q1("SELECT ref FROM examples WHERE split=?", (split,))
        if row is None:
            raise KeyError(f"no examples stored for split {split!r}")
        return self.artifacts.get_frame(row[0])

    def example_ids(self, split: str) -> list[str]:
        return [str(i) for i in self.examples(split)["id"]]

    def examples_hash(self, split: str) -> str | None:
        row = self._q1("SELECT content_hash FROM examples WHERE split=?", (split,))
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        """Rows per stored split."""
        return {s: n for s, n in self._q("SELECT split, n FROM examples ORDER BY rowid")}

    # ---------------------------------------------------------------- source votes
    def put_source_votes(self, split: str, source: str, votes: np.ndarray, proba: np.ndarray | None = None, *,
                         key: str, position: int = 0, info: dict[str, Any] | None = None) -> None:
        """Store (replace) source ``source``'s votes (n,) and optional distributions (n, k) on ``split``."""
        votes = np.asarray(votes, dtype=np.int64)
        vref = self.artifacts.put_array(votes)
        pref = None if proba is None else self.artifacts.put_array(np.asarray(proba, dtype=np.float64))
        self._w("INSERT OR REPLACE INTO source_votes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (split, source, int(position), key, vref, pref, len(votes), json.dumps(info or {}), time.time()))

    def source_votes(self, split: str, source: str) -> SourceVotes | None:
        row = self._q1("SELECT votes_ref, proba_ref, key, position, info FROM source_votes WHERE split=? AND source=?",
                       (split, source))
        if row is None:
            return None
        return SourceVotes(self.artifacts.get_array(row[0]), None if row[1] is None else self.artifacts.get_array(row[1]),
                           row[2], int(row[3]), json.loads(row[4]))

    def source_key(self, split: str, source: str) -> str | None:
        row = self._q1("SELECT key FROM source_votes WHERE split=? AND source=?", (split, source))
        return row[0] if row else None

    def sources(self, split: str) -> list[str]:
        """Sources stored for ``split``, by column position."""
        return [r[0] for r in self._q("SELECT source FROM source_votes WHERE split=? ORDER BY position, source",
                                      (split,))]

    def drop_sources(self, split: str, keep: Sequence[str]) -> list[str]:
        """Forget the stored sources of ``split`` not in ``keep`` (removed from the project); returns them."""
        gone = [s for s in self.sources(split) if s not in set(keep)]
        with self.transaction():
            for s in gone:
                self._db.execute("DELETE FROM source_votes WHERE split=? AND source=?", (split, s))
        return gone

    # ---------------------------------------------------------------- vote events (humans, corrections)
    def add_vote_events(self, events: Sequence[dict[str, Any]]) -> list[int]:
        """Record vote events in one transaction; returns their ids.

        Each event: ``split``, ``example_id``, ``source`` (e.g. ``"gemma"`` for a correction of its
        answer, ``"human"`` or ``"human:alice"`` for a reviewer), ``value`` (class index, -1 = abstain),
        ``kind`` (``"human"`` | ``"correction"`` | ``"source"``), optional ``who``, ``strategy`` (prompt
        or correction strategy), ``note``, ``previous`` (default: the effective vote just before this event).
        """
        ids = []
        with self.transaction():
            for ev in events:
                prev = ev["previous"] if "previous" in ev else self.effective_vote(ev["split"], str(ev["example_id"]),
                                                                                    ev["source"])
                ids.append(_insert_vote_event(self._db, ev["split"], str(ev["example_id"]), ev["source"], ev["value"],
                                              prev, ev.get("kind", "human"), ev.get("who"), ev.get("strategy"),
                                              ev.get("note"), float(ev.get("time", time.time()))))
        return ids

    @staticmethod
    def add_vote_event_in(con: sqlite3.Connection, split: str, example_id: str, source: str, value: int, *,
                          kind: str = "human", who: str | None = None, strategy: str | None = None,
                          note: str | None = None, created: float | None = None) -> tuple[int, int | None]:
        """Record one vote event on ``con``: a connection to a state's ``state.sqlite`` with a transaction open.

        For a writer that keeps its own tables in the state file and must commit its rows and the event
        together (the review store: a reviewer's answer and its ``"human"`` vote event). The previous value is
        the source's last event on the example, looked up inside that same transaction.

        Returns:
            (the event's id, the previous value or None).
        """
        row = con.execute("SELECT value FROM vote_events WHERE split=? AND example_id=? AND source=? "
                          "ORDER BY id DESC LIMIT 1", (split, str(example_id), source)).fetchone()
        prev = None if row is None else int(row[0])
        return _insert_vote_event(con, split, str(example_id), source, value, prev, kind, who, strategy, note,
                                  time.time() if created is None else float(created)), prev

    @staticmethod
    def ensure(path: str | Path) -> Path:
        """Create or migrate the state whose database is the file ``path`` (must be named ``state.sqlite``)."""
        path = Path(path)
        if path.name != DB_NAME:
            raise StateError(f"{path.name!r} is not a project state database", file=str(path),
                             fix=f"use <state_dir>/{DB_NAME} (e.g. ReviewStore.for_project(state_dir, split))")
        ProjectState(path.parent).close()
        return path

    def add_vote_event(self, split: str, example_id: str, source: str, value: int, *, kind: str = "human",
                       who: str | None = None, strategy: str | None = None, note: str | None = None) -> int:
        """One vote event (see :meth:`add_vote_events`); returns its id."""
        return self.add_vote_events([{"split": split, "example_id": example_id, "source": source, "value": value,
                                      "kind": kind, "who": who, "strategy": strategy, "note": note}])[0]

    def vote_events(self, split: str | None = None, source: str | None = None, kind: str | None = None
                    ) -> pd.DataFrame:
        """Events in the order they happened: id, split, example_id, source, value, previous, kind, who,
        strategy, note, created (UNIX time)."""
        where, args = [], []
        for col, val in (("split", split), ("source", source), ("kind", kind)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(val)
        sql = "SELECT * FROM vote_events" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
        with self._lock:
            cur = self._db.execute(sql, args)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    def clear_vote_events(self, split: str | None = None, kind: str = "correction", source: str | None = None) -> int:
        """Delete events of ``kind`` (e.g. a correction stage re-running from scratch); returns how many."""
        where, args = ["kind=?"], [kind]
        for col, val in (("split", split), ("source", source)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(val)
        with self.transaction():
            return self._db.execute(f"DELETE FROM vote_events WHERE {' AND '.join(where)}", args).rowcount

    def effective_vote(self, split: str, example_id: str, source: str) -> int | None:
        """The vote of ``source`` on one example after every event; None when it never voted."""
        row = self._q1("SELECT value FROM vote_events WHERE split=? AND example_id=? AND source=? ORDER BY id DESC",
                       (split, example_id, source))
        if row is not None:
            return int(row[0])
        sv = self.source_votes(split, source)
        if sv is None:
            return None
        try:
            return int(sv.votes[self.example_ids(split).index(example_id)])
        except ValueError:
            return None

    def votes(self, split: str, events: bool = True) -> tuple[np.ndarray, list[str]]:
        """The label matrix of ``split``: stored source columns, then every event applied in order.

        Sources that exist only through events (reviewers) become extra columns (abstain elsewhere).

        Returns:
            (L of shape (n, m), int64 with -1 = abstain; the m source names).
        """
        names = self.sources(split)
        n = len(self.example_ids(split)) if self.examples_hash(split) else 0
        cols = [self.source_votes(split, s).votes for s in names]  # type: ignore[union-attr]
        if cols:
            n = len(cols[0])
        L = np.column_stack(cols).astype(np.int64) if cols else np.zeros((n, 0), dtype=np.int64)
        if events:
            ev = self.vote_events(split)
            if len(ev):
                pos = {i: r for r, i in enumerate(self.example_ids(split))}
                for s in ev["source"].unique():
                    if s not in names:
                        names.append(s)
                        L = np.column_stack([L, np.full(n, -1, dtype=np.int64)])
                for e in ev.itertuples():
                    if e.example_id in pos:
                        L[pos[e.example_id], names.index(e.source)] = e.value
        return L, names

    # ---------------------------------------------------------------- distributions, features, risk
    def put_distribution(self, method: str, split: str, proba: np.ndarray, key: str = "") -> None:
        """Store a label model's or the harmonizer's (n, k) class distributions on ``split``."""
        ref = self.artifacts.put_array(np.asarray(proba, dtype=np.float64))
        self._w("INSERT OR REPLACE INTO distributions VALUES (?, ?, ?, ?, ?)", (method, split, ref, key, time.time()))

    def distribution(self, method: str, split: str) -> np.ndarray | None:
        row = self._q1("SELECT ref FROM distributions WHERE method=? AND split=?", (method, split))
        return None if row is None else self.artifacts.get_array(row[0])

    def distributions(self, method: str) -> dict[str, np.ndarray]:
        """split -> (n, k) for ``method``."""
        return {s: self.artifacts.get_array(r) for s, r in
                self._q("SELECT split, ref FROM distributions WHERE method=? ORDER BY rowid", (method,))}

    def methods(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT method FROM distributions ORDER BY rowid")]

    def put_features(self, key: str, X: np.ndarray) -> None:
        """Store a feature matrix (n, d) under ``key`` (a :func:`content_hash` of extractor settings + texts)."""
        X = np.asarray(X)
        ref = self.artifacts.put_array(X)
        self._w("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?)",
                (key, ref, X.shape[0], X.shape[1] if X.ndim > 1 else 1, time.time()))

    def features(self, key: str) -> np.ndarray | None:
        row = self._q1("SELECT ref FROM features WHERE key=?", (key,))
        return None if row is None else self.artifacts.get_array(row[0])

    def put_risk(self, source: str, split: str, risk: np.ndarray) -> None:
        """Store the POLAR risk (n,) of ``source``'s answers on ``split`` (NaN where it abstained)."""
        ref = self.artifacts.put_array(np.asarray(risk, dtype=np.float64))
        self._w("INSERT OR REPLACE INTO risk VALUES (?, ?, ?, ?)", (source, split, ref, time.time()))

    def risk(self, source: str, split: str) -> np.ndarray | None:
        row = self._q1("SELECT ref FROM risk WHERE source=? AND split=?", (source, split))
        return None if row is None else self.artifacts.get_array(row[0])

    def risk_sources(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT source FROM risk ORDER BY rowid")]

    # ---------------------------------------------------------------- stages and runs
    def record_stage(self, name: str, *, config_hash: str, inputs: dict[str, str], output_hash: str,
                     seconds: float, report: dict[str, Any] | None = None) -> None:
        """Record that stage ``name`` completed (call inside the transaction that stored its outputs)."""
        self._w("INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, config_hash, json.dumps(inputs, sort_keys=True), output_hash, float(seconds),
                 json.dumps(report or {}, default=_json_default), time.time()))

    def stage(self, name: str) -> StageRecord | None:
        row = self._q1("SELECT * FROM stages WHERE name=?", (name,))
        if row is None:
            return None
        return StageRecord(row[0], row[1], json.loads(row[2]), row[3], row[4], json.loads(row[5]), row[6])

    def stages(self) -> list[StageRecord]:
        return [s for s in (self.stage(r[0]) for r in self._q("SELECT name FROM stages ORDER BY finished"))
                if s is not None]

    def is_current(self, name: str, config_hash: str, inputs: dict[str, str]) -> bool:
        """True when ``name`` last completed with exactly this config and these inputs."""
        rec = self.stage(name)
        return rec is not None and rec.config_hash == config_hash and rec.inputs == inputs

    def forget_stage(self, name: str) -> None:
        self._w("DELETE FROM stages WHERE name=?", (name,))

    def start_run(self, project: str, config_hash: str) -> int:
        return self._w("INSERT INTO runs(started, status, config_hash, project, report) VALUES (?, 'running', ?, ?, '{}')",
                       (time.time(), config_hash, project))

    def finish_run(self, run_id: int, status: str, report: dict[str, Any] | None = None) -> None:
        self._w("UPDATE runs SET finished=?, status=?, report=? WHERE id=?",
                (time.time(), status, json.dumps(report or {}, default=_json_default), run_id))

    def runs(self) -> pd.DataFrame:
        """Every run: id, started, finished, status (running | ok | failed), config_hash, project, report (JSON)."""
        with self._lock:
            cur = self._db.execute("SELECT * FROM runs ORDER BY id")
            return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])

    def log_stage(self, run_id: int | None, name: str, action: str, seconds: float, reason: str) -> None:
        """Append to the stage log (``action``: ran | skipped | failed)."""
        self._w("INSERT INTO stage_log(run_id, name, action, seconds, reason, time) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, name, action, float(seconds), reason, time.time()))

    def stage_log(self, run_id: int | None = None) -> pd.DataFrame:
        """id, run_id, name, action, seconds, reason, time — of one run or all."""
        sql = "SELECT * FROM stage_log" + (" WHERE run_id=?" if run_id is not None else "") + " ORDER BY id"
        with self._lock:
            cur = self._db.execute(sql, () if run_id is None else (run_id,))
            return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])

    # ---------------------------------------------------------------- integrity
    def referenced(self) -> set[str]:
        refs: set[str] = set()
        for sql in ("SELECT ref FROM examples", "SELECT votes_ref FROM source_votes",
                    "SELECT proba_ref FROM source_votes WHERE proba_ref IS NOT NULL", "SELECT ref FROM distributions",
                    "SELECT ref FROM features", "SELECT ref FROM risk"):
            refs.update(r[0] for r in self._q(sql))
        return refs

    def check(self) -> "IntegrityReport":
        """SQLite's integrity check, plus: every referenced artifact exists and matches its hash."""
        problems = [f"database: {r[0]}" for r in self._q("PRAGMA integrity_check") if r[0] != "ok"]
        refs = self.referenced()
        for ref in sorted(refs):
            why = self.artifacts.verify(ref)
            if why:
                problems.append(f"artifact {ref}: {why}")
        orphans = sorted(self.artifacts.all_refs() - refs)
        return IntegrityReport(ok=not problems, problems=problems, unreferenced=orphans, artifacts=len(refs))


def _insert_vote_event(con: sqlite3.Connection, split: str, example_id: str, source: str, value: int,
                       previous: int | None, kind: str, who: str | None, strategy: str | None, note: str | None,
                       created: float) -> int:
    """The one INSERT of a vote event (inside the caller's transaction); returns its id."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"vote event kind {kind!r} is not one of {EVENT_KINDS}")
    cur = con.execute("INSERT INTO vote_events(split, example_id, source, value, previous, kind, who, strategy, note, "
                      "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (split, example_id, source, int(value), None if previous is None else int(previous), kind, who,
                       strategy, note, created))
    return int(cur.lastrowid)


@dataclass
class IntegrityReport:
    """Result of :meth:`ProjectState.check`.

    Attributes:
        ok: nothing referenced is missing or corrupt and SQLite's own check passed.
        problems: one line per problem.
        unreferenced: artifact files no row references (left by a crash between file and commit; harmless).
        artifacts: how many artifacts the database references.
    """

    ok: bool
    problems: list[str]
    unreferenced: list[str]
    artifacts: int


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)

"""The LLM answer cache: one SQLite file, one committed transaction per answer.

Every answer a backend gives is written (and committed) the moment it arrives, so a run killed
at any point loses nothing already answered, and a re-run asks the backend only for the rest.
Rows are never overwritten or deleted (``INSERT OR IGNORE``): the file is an audit of every
prompt ever asked. The API key is never part of a row.

Table ``answers``: ``key`` (sha256 of model id + parameters + full prompt), ``model``,
``params`` (JSON), ``prompt``, ``mode``, ``raw_text``, ``dist`` (JSON list of k label
probabilities before calibration, or NULL), ``tokens_in``, ``tokens_out``, ``seconds``,
``truncated`` (0/1), ``status`` ("ok" | "malformed" | "no_logprobs"), ``created`` (unix time),
``extra`` (JSON of backend details, e.g. ``label_mass``, or NULL).

A file that SQLite cannot read raises :class:`CacheCorruptError`; :func:`quarantine_cache`
renames it (and its ``-wal``/``-shm`` files) to ``*.corrupt-<timestamp>`` so a fresh cache can be
started without destroying the old answers. From a shell::

    python -m polarlab.llm.cache quarantine PATH
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from .errors import CacheCorruptError

SCHEMA_VERSION = "1"
COLUMNS = ("key", "model", "params", "prompt", "mode", "raw_text", "dist", "tokens_in",
           "tokens_out", "seconds", "truncated", "status", "created", "extra")
_DDL = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    params TEXT NOT NULL,
    prompt TEXT NOT NULL,
    mode TEXT NOT NULL,
    raw_text TEXT,
    dist TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'ok',
    created REAL NOT NULL,
    extra TEXT
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def cache_key(model_id: str, params: dict, prompt: str) -> str:
    """sha256 hex of the model id, the parameters (canonical JSON) and the full prompt."""
    blob = json.dumps({"model": model_id, "params": params, "prompt": prompt},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """One row of the cache. ``dist`` is the uncalibrated label distribution (k,) or None."""

    key: str
    model: str
    params: dict
    prompt: str
    mode: str
    raw_text: str | None
    dist: list[float] | None
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    truncated: bool = False
    status: str = "ok"
    created: float = 0.0
    extra: dict | None = None


def _fix_text(path: Path) -> str:
    return (f"move it aside with polarlab.llm.quarantine_cache({str(path)!r}) "
            f"(or `python -m polarlab.llm.cache quarantine {path}`); it is renamed to "
            f"{path.name}.corrupt-<timestamp>, nothing is deleted, and the next run starts a new cache")


class AnswerCache:
    """SQLite answer cache at ``path`` (created with its folder when missing; ``":memory:"``
    gives a throw-away in-memory cache, for tests and one-off calls).

    Use from one thread. ``put`` commits immediately (WAL journal, synchronous=FULL).

    Raises:
        CacheCorruptError: the file is not a readable polarlab cache.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            if self.path.is_dir():
                raise InputError("is a folder, not a cache file", file=str(self.path),
                                 fix="name a file for the cache (e.g. llm_cache.sqlite), or remove the folder")
            if self.path.is_file() and self.path.stat().st_size == 0:
                # SQLite would take an empty file as a new database: answers lost by a truncation
                # (a full disk, a failed copy) would be asked again, silently
                raise CacheCorruptError("the LLM answer cache is an empty (0-byte) file (truncated by a full "
                                        "disk or a failed copy?)", file=str(self.path), fix=_fix_text(self.path))
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(":memory:" if memory else str(self.path), timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            check = self._db.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no result'}")
            self._db.executescript(_DDL)
            cols = {r[1] for r in self._db.execute("PRAGMA table_info(answers)")}
            if not set(COLUMNS) <= cols:
                raise sqlite3.DatabaseError(f"table 'answers' lacks columns {sorted(set(COLUMNS) - cols)}")
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', ?)",
                                 (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as e:
            try:
                self._db.close()
            except Exception:
                pass
            raise CacheCorruptError(f"the LLM answer cache cannot be read ({e})", file=str(self.path),
                                    fix=_fix_text(self.path)) from None

    # -- reading ----------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        """The cached answers among ``keys``, key -> answer."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, CachedAnswer] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT {', '.join(COLUMNS)} FROM answers WHERE key IN ({','.join('?' * len(chunk))})"
                for row in self._db.execute(q, chunk):
                    a = self._row(row)
                    out[a.key] = a
        except sqlite3.DatabaseError as e:
            raise CacheCorruptError(f"the LLM answer cache cannot be read ({e})", file=str(self.path),
                                    fix=_fix_text(self.path)) from None
        return out

    def get(self, key: str) -> CachedAnswer | None:
        return self.get_many([key]).get(key)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def n_answers(self, model: str) -> int:
        """How many answers of model ``model`` (a backend's ``model_id``) the cache holds."""
        return int(self._db.execute("SELECT COUNT(*) FROM answers WHERE model = ?", (model,)).fetchone()[0])

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    @staticmethod
    def _row(row: tuple) -> CachedAnswer:
        d = dict(zip(COLUMNS, row))
        return CachedAnswer(
            key=d["key"], model=d["model"], params=json.loads(d["params"]), prompt=d["prompt"],
            mode=d["mode"], raw_text=d["raw_text"],
            dist=None if d["dist"] is None else [float(x) for x in json.loads(d["dist"])],
            tokens_in=int(d["tokens_in"]), tokens_out=int(d["tokens_out"]),
            seconds=float(d["seconds"]), truncated=bool(d["truncated"]), status=d["status"],
            created=float(d["created"]),
            extra=None if d["extra"] is None else json.loads(d["extra"]))

    # -- writing ----------------------------------------------------------------------------
    def put(self, a: CachedAnswer) -> None:
        """Store ``a`` and commit. An existing row with the same key is kept, not replaced."""
        vals = (a.key, a.model, json.dumps(a.params, sort_keys=True), a.prompt, a.mode, a.raw_text,
                None if a.dist is None else json.dumps([float(x) for x in a.dist]),
                int(a.tokens_in), int(a.tokens_out), float(a.seconds), int(bool(a.truncated)),
                a.status, a.created or time.time(),
                None if a.extra is None else json.dumps(a.extra, sort_keys=True))
        with self._db:  # one transaction per answer
            self._db.execute(f"INSERT OR IGNORE INTO answers ({', '.join(COLUMNS)}) "
                             f"VALUES ({','.join('?' * len(COLUMNS))})", vals)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "AnswerCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def quarantine_cache(path: str | Path) -> Path:
    """Rename a (corrupt) cache file to ``<name>.corrupt-<YYYYmmdd-HHMMSS>``; never deletes.

    Its ``-wal`` and ``-shm`` companions, when present, are renamed alongside.

    Returns:
        the new path of the cache file.

    Raises:
        InputError: there is no file at ``path`` (or it is a folder).
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a cache file" if path.is_dir() else "no cache file there"
        raise InputError(what, file=str(path),
                         fix="give the path of the SQLite cache file (by default <state_dir>/llm_cache.sqlite)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "quarantine":
        print("usage: python -m polarlab.llm.cache quarantine PATH", file=sys.stderr)
        return 2
    try:
        target = quarantine_cache(argv[1])
    except (InputError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"moved {argv[1]} to {target}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))

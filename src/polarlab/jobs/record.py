"""One row of the project state's ``runs`` table per run of a spans, linking or relevance project.

The row's report holds what ``polarlab status`` and ``report`` read back: ``kind``; ``inputs`` (path -> SHA-256 of
every input file when the run started); ``outputs`` (name -> path, size, mtime_ns of each file or folder written);
``counts`` (what was labelled); ``llm`` (LLM step -> :class:`polarlab.llm.stats.LLMRunStats` keys: calls made,
cache hits, ...). The row's ``config_hash`` hashes the project file's tables.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator


@dataclass
class RunNotes:
    """What a runner tells the record of its run (filled in while it runs)."""

    outputs: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    llm: dict[str, dict] = field(default_factory=dict)


def config_hash(project_file: Path) -> str:
    """SHA-256 of the project file's tables (parsed, so comments and spacing do not count)."""
    from ..project import read_toml
    from ..state.store import content_hash

    return content_hash(read_toml(project_file))


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def input_hashes(paths: Iterable[Path]) -> dict[str, str]:
    """Path -> SHA-256 of each input file (a folder: each file under it); "missing" for one that is not there."""
    out: dict[str, str] = {}
    for root in paths:
        for p in _files(Path(root)):
            if not p.exists():
                out[str(p)] = "missing"
                continue
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[str(p)] = h.hexdigest()
    return out


def size_and_mtime(path: Path) -> tuple[int, int]:
    """A written file's size and modification time (ns); a folder's (a trained model): the total size of the files
    under it and the latest of their times, so a file in it removed or rewritten changes them."""
    path = Path(path)
    if not path.is_dir():
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    stats = [p.stat() for p in _files(path)]
    return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=path.stat().st_mtime_ns)


def stamp(path: Path) -> dict[str, Any]:
    """A written file's (or folder's) path, size and modification time (how status notices that it was changed
    since: :func:`size_and_mtime`)."""
    size, mtime = size_and_mtime(path)
    return {"path": str(Path(path).resolve()), "size": size, "mtime_ns": mtime}


@contextmanager
def recorded_run(project_file: Path, kind: str, state_dir: Path, inputs: Iterable[Path]) -> Iterator[RunNotes]:
    """Record one run of a job in ``state_dir``'s state: a ``running`` row at the start, ``ok`` with the notes the
    runner filled in at the end, ``failed`` (with the error) when it raised."""
    from ..state import ProjectState

    state = ProjectState(state_dir)
    try:
        run_id = state.start_run(str(Path(project_file).resolve()), config_hash(project_file))
        report: dict[str, Any] = {"kind": kind, "inputs": input_hashes(inputs)}
        notes = RunNotes()
        try:
            yield notes
        except BaseException as e:
            state.finish_run(run_id, "failed", {**report, "error": f"{type(e).__name__}: {e}"})
            raise
        state.finish_run(run_id, "ok", {**report, "outputs": {k: stamp(p) for k, p in notes.outputs.items()},
                                        "counts": notes.counts, "llm": notes.llm})
    finally:
        state.close()


def step_usage(stats: dict) -> dict[str, Any]:
    """An LLM step's own counters (``calls``, ``cached``, ``seconds``, ``errors``: the span source, the span
    verifier, the LLM linker) under :class:`polarlab.llm.stats.LLMRunStats`'s names: ``requests`` (calls + cache
    hits), ``calls`` (answers the model gave), ``cache_hits``, ``failures``, ``seconds``."""
    calls, hits = int(stats.get("calls", 0)), int(stats.get("cached", 0))
    return {"requests": calls + hits, "calls": calls, "cache_hits": hits, "failures": int(stats.get("errors", 0)),
            "seconds": round(float(stats.get("seconds", 0.0)), 3)}

"""Several single-thread copies of the embedded model, fed by one driver (``processes`` of the local backend).

Why: a 270M model's decode is a few milliseconds of work per layer, and llama.cpp's threads meet at a barrier
after every operation of every layer, so threads scale poorly on a tiny model; processes with one thread each
do not wait for each other at all, and a 1-thread model never spin-waits for a descheduled sibling thread.
Measured on the 2-core machine (``benchmarks/llm_throughput.py --only-threads``, 200 SMS examples): quiet
(load 0.0) 18.7 examples/s for one 2-thread model and 18.2 for two 1-thread processes (no gain); with the
benchmark's busy process 10.1 and 10.8 (1.07x; 1.13-1.41x on a machine with other jobs too). Each worker
process adds ~540 MB resident. ``processes = 1`` keeps one model.

How: the driver (the process that owns the :class:`~polarlab.llm.local.LlamaCppBackend`) keeps its own model,
set to one thread while it works alongside the workers, and starts ``processes - 1`` worker processes
(``python -m polarlab.llm.local_pool``: a fresh interpreter, so no llama.cpp state is forked and the user's
main script is not run again), each loading the same GGUF with the same settings and one thread; they talk
to the driver over a socket pair.
Prompts go out in small chunks in the order given (the LLM source sorts them by prefix, so each process
reuses its cached prefix); each worker has at most two chunks in flight, and the driver evaluates a chunk
itself whenever no reply is waiting. Replies come back to the driver, which alone writes the answer cache:
one writer, each answer committed as it arrives, so a killed run resumes from the cache. A worker that dies
has its unfinished chunks evaluated by the driver.

Scores are the same as the single-process path's, bit for bit: every prompt is evaluated by the same code
(prefix chunk, then suffix chunk; the thread count does not change the numbers) in whichever process.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator, Sequence

from .backend import BackendReply
from .errors import LLMError
from .prompt import RenderedPrompt

#: Prompts per chunk handed to one process.
CHUNK = 4
#: Chunks a worker may hold at once (one being evaluated, one waiting).
IN_FLIGHT = 2
_REDO = "\x00evaluate in the driver"  # a worker's call failed with something other than an LLMError


@dataclass
class Call:
    """One backend call: ``kind`` "score" (with ``words``) or "generate"."""

    kind: str
    prompt: RenderedPrompt
    words: tuple[str, ...] = ()


def run_call(backend: Any, call: Call) -> BackendReply:
    """Evaluate ``call`` with ``backend`` (a single-process :class:`LlamaCppBackend`)."""
    if call.kind == "score":
        return backend.score(call.prompt, call.words)
    return backend.generate(call.prompt)


def _worker(conn: Connection) -> None:
    """Worker process: receive the settings, load the model with one thread, then answer chunks until told to
    stop (None) or the driver goes away."""
    from .local import LlamaCppBackend

    settings = conn.recv()

    try:
        be = LlamaCppBackend(**settings, n_threads=1, processes=1)
    except Exception as e:  # noqa: BLE001 - reported to the driver, which goes on without this worker
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            break
        if job is None:
            break
        run_id, cid, calls = job
        out = []
        for i, call in calls:
            try:
                out.append((i, run_call(be, call), None))
            except LLMError as e:
                out.append((i, None, str(e)))
            except Exception:  # noqa: BLE001 - e.g. a prompt too long: the driver repeats it and raises
                out.append((i, None, _REDO))
        conn.send(("done", run_id, cid, out))
    be.close()


class Pool:
    """``n`` worker processes with a model each (started on first use, kept until :meth:`close`)."""

    def __init__(self, n: int, settings: dict) -> None:
        self.settings = dict(settings)
        self._procs: list[subprocess.Popen] = []
        self._conns: list[Connection] = []
        self.ready: set[int] = set()  # indices of workers whose model is loaded
        self.dead: set[int] = set()
        self._run_id = 0
        self.worker_answers = 0  # calls answered by the workers (the rest by the driver), over all runs
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")])
        for _ in range(n):
            mine, theirs = socket.socketpair()
            p = subprocess.Popen([sys.executable, "-m", "polarlab.llm.local_pool", str(theirs.fileno())],
                                 pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL)
            theirs.close()
            conn = Connection(mine.detach())
            conn.send(self.settings)
            self._procs.append(p)
            self._conns.append(conn)

    def wait_ready(self, timeout: float = 60.0) -> int:
        """Wait until every worker has loaded its model (or failed, or ``timeout`` s); return how many are ready."""
        import time

        end = time.monotonic() + timeout
        while len(self.ready) + len(self.dead) < self.size and time.monotonic() < end:
            for conn in wait([c for w, c in enumerate(self._conns) if w not in self.ready | self.dead],
                             timeout=max(0.0, end - time.monotonic())):
                w = self._conns.index(conn)
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    self.dead.add(w)
                    continue
                (self.ready.add if msg[0] == "ready" else self.dead.add)(w)
        return len(self.ready)

    @property
    def size(self) -> int:
        return len(self._procs)

    def run(self, calls: Sequence[Call], local: Callable[[Call], BackendReply]
            ) -> Iterator[tuple[int, BackendReply | None, str | None]]:
        """Evaluate ``calls``; yield ``(index, reply, error)`` as each finishes (any order).

        ``local`` evaluates one call in the driver. Errors of one call (:class:`LLMError`) come back as its
        ``error``; anything else raised in the driver propagates (workers keep their state for the next run).
        """
        chunks: deque[tuple[int, list[tuple[int, Call]]]] = deque(
            (c, [(i, calls[i]) for i in range(s, min(s + CHUNK, len(calls)))])
            for c, s in enumerate(range(0, len(calls), CHUNK)))
        held: dict[int, dict[int, list]] = {w: {} for w in range(self.size)}  # worker -> chunk id -> calls
        left = len(calls)
        self._run_id += 1
        run_id = self._run_id  # replies of an earlier, abandoned run are recognised and dropped

        def feed(w: int) -> None:
            while w in self.ready and w not in self.dead and chunks and len(held[w]) < IN_FLIGHT:
                cid, part = chunks.popleft()
                try:
                    self._conns[w].send((run_id, cid, part))
                except (OSError, ValueError):
                    chunks.appendleft((cid, part))
                    lost(w)
                    return
                held[w][cid] = part

        def lost(w: int) -> None:
            self.dead.add(w)
            self.ready.discard(w)
            for cid, part in held[w].items():
                chunks.appendleft((cid, part))
            held[w].clear()

        while left:
            live = [self._conns[w] for w in range(self.size) if w not in self.dead]
            waiting = bool(chunks) or not any(held.values())
            for conn in wait(live, timeout=0 if waiting else 1.0):
                w = self._conns.index(conn)
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    lost(w)
                    continue
                if msg[0] == "ready":
                    self.ready.add(w)
                elif msg[0] == "failed":
                    lost(w)
                elif msg[1] == run_id:
                    _, _, cid, out = msg
                    held[w].pop(cid, None)
                    for i, reply, err in out:
                        if err == _REDO:
                            chunks.appendleft((-1, [(i, calls[i])]))
                            continue
                        left -= 1
                        self.worker_answers += 1
                        yield i, reply, err
                feed(w)
            for w in range(self.size):
                if w not in self.dead and self._procs[w].poll() is not None and not self._conns[w].poll():
                    lost(w)
            if chunks:
                _, part = chunks.popleft()
                for i, call in part:
                    try:
                        reply, err = local(call), None
                    except LLMError as e:
                        reply, err = None, str(e)
                    left -= 1
                    yield i, reply, err
                for w in range(self.size):
                    feed(w)

    def close(self) -> None:
        """Stop the workers (each finishes its current chunk first, or is killed after 5 s)."""
        for w, conn in enumerate(self._conns):
            try:
                if w not in self.dead:
                    conn.send(None)
            except (OSError, ValueError):
                pass
        for p in self._procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []


if __name__ == "__main__":
    try:
        _worker(Connection(int(sys.argv[1])))
    except KeyboardInterrupt:     # Ctrl-C reaches the whole process group: the driver says what happened
        sys.exit(130)

"""How many CPU threads the embedded llama.cpp model should use (``n_threads = "auto"``).

llama.cpp's worker threads spin-wait for each other between the layers of a decode. With as many threads as
cores and another process busy on one of them, every decode waits for the thread that was descheduled: on the
2-core machine the labeler fell from ~17 to ~2 examples/s. So "auto" takes the CPUs this process may run on
(``os.sched_getaffinity``) less the CPUs other processes keep busy (the 1-minute load average less this
process's own CPU use), at least 1, and checks again every ``recheck_s`` seconds while labelling, so a
background job that starts or stops later is followed.
"""
from __future__ import annotations

import os
import time

#: Seconds between two re-checks of the load while the model is in use.
RECHECK_S = 10.0


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask; the CPU count where the OS has no affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def others_load(own_cpu_rate: float = 0.0) -> float:
    """CPUs kept busy by other processes: the 1-minute load average less ``own_cpu_rate`` (this process's
    recent CPU seconds per second), never below 0. Without a load average (Windows): 0."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - non-Unix
        return 0.0
    return max(0.0, load - own_cpu_rate)


def auto_threads(cpus: int | None = None, busy: float | None = None) -> int:
    """Threads for llama.cpp: ``round(cpus - busy)`` clipped to [1, cpus] (cpus: :func:`available_cpus`;
    busy: :func:`others_load`)."""
    cpus = available_cpus() if cpus is None else int(cpus)
    busy = others_load() if busy is None else float(busy)
    return max(1, min(cpus, int(cpus - busy + 0.5)))


class ThreadChooser:
    """Follows the load: :meth:`check` returns the thread count to use now (re-decided at most every
    ``recheck_s`` seconds, from the load less this process's own CPU use since the last check)."""

    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        self.recheck_s = float(recheck_s)
        self.threads = auto_threads()
        self._t, self._cpu = time.monotonic(), time.process_time()

    def check(self) -> int:
        now = time.monotonic()
        if now - self._t >= self.recheck_s:
            cpu = time.process_time()
            own = (cpu - self._cpu) / (now - self._t)
            self.threads = auto_threads(busy=others_load(own))
            self._t, self._cpu = now, cpu
        return self.threads

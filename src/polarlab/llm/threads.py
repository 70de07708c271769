"""How many CPU threads the embedded llama.cpp model should use (``n_threads = "auto"``).

llama.cpp's worker threads spin-wait for each other between the layers of a decode. With as many threads as
cores and another process busy on one of them, every decode waits for the thread that was descheduled: on the
2-core machine the labeler fell from ~17 to ~2 examples/s. So "auto" takes the CPUs this process may run on
(``os.sched_getaffinity``) less the CPUs other processes keep busy, at least 1, and checks again every
``recheck_s`` seconds while labelling, so a background job that starts or stops later is followed.

"Busy" is measured, not guessed: on Linux, the busy time of the allowed CPUs in ``/proc/stat`` over an interval,
less this process's own CPU time over it (0.2 s when the model is loaded, then the time between two checks).
Elsewhere the 1-minute load average stands in (it lags by about a minute).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

#: Seconds between two re-checks of the load while the model is in use.
RECHECK_S = 5.0
#: Seconds of the first measurement, when the model is loaded.
FIRST_SAMPLE_S = 0.2

_STAT = Path("/proc/stat")


def available_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity mask; every CPU where the OS has none)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return set(range(os.cpu_count() or 1))


def busy_seconds(cpus: set[int]) -> float | None:
    """CPU-seconds the CPUs ``cpus`` spent busy (not idle, not waiting for I/O) since boot, from /proc/stat;
    None where there is no /proc/stat."""
    try:
        lines = _STAT.read_text().splitlines()
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(f) for f in fields[:8]]
            total += sum(ticks) - ticks[3] - ticks[4]          # less idle and iowait
    return total / hz


def auto_threads(cpus: int, busy: float) -> int:
    """Threads for llama.cpp: ``round(cpus - busy)`` clipped to [1, cpus] (busy: CPUs other processes use)."""
    return max(1, min(int(cpus), int(cpus - busy + 0.5)))


class ThreadChooser:
    """Follows the load. ``threads`` is the count to use now; :meth:`check` re-decides it at most every
    ``recheck_s`` seconds from the other processes' CPU use since the last decision.

    Attributes:
        threads: the current choice.  others_busy: CPUs other processes used over the last interval.
    """

    def __init__(self, recheck_s: float = RECHECK_S, first_sample_s: float = FIRST_SAMPLE_S) -> None:
        self.recheck_s = float(recheck_s)
        self.cpus = available_cpus()
        self._mark()
        time.sleep(first_sample_s)
        self._decide()

    def _mark(self) -> None:
        self._t, self._own, self._busy = time.monotonic(), time.process_time(), busy_seconds(self.cpus)

    def _decide(self) -> None:
        t, own, busy = time.monotonic(), time.process_time(), busy_seconds(self.cpus)
        dt = max(t - self._t, 1e-3)
        if busy is None or self._busy is None:
            try:
                others = os.getloadavg()[0] - (own - self._own) / dt
            except (AttributeError, OSError):  # pragma: no cover - non-Unix
                others = 0.0
        else:
            others = ((busy - self._busy) - (own - self._own)) / dt
        self.others_busy = max(0.0, others)
        self.threads = auto_threads(len(self.cpus), self.others_busy)
        self._t, self._own, self._busy = t, own, busy

    def check(self) -> int:
        if time.monotonic() - self._t >= self.recheck_s:
            self._decide()
        return self.threads

"""processes = "auto": one process per CPU, capped by MAX_AUTO_PROCESSES and by the memory the workers would take."""
from __future__ import annotations

from pathlib import Path

from polarlab.llm.local import (AUTO_MEMORY_SHARE, MAX_AUTO_PROCESSES, auto_processes, available_memory,
                                worker_memory)

MB = 2 ** 20


def test_one_process_per_cpu_when_memory_is_plenty() -> None:
    assert auto_processes(2, 64_000 * MB, 540 * MB) == 2
    assert auto_processes(64, 10 ** 15, 540 * MB) == MAX_AUTO_PROCESSES


def test_memory_caps_the_workers() -> None:
    # 2 GB available, half of it for workers of 540 MB: one worker fits, so the driver and one worker
    assert auto_processes(16, 2_000 * MB, 540 * MB) == 2
    # not even one worker fits: the driver alone
    assert auto_processes(16, 800 * MB, 540 * MB) == 1
    # the share is what it says: exactly k workers' worth of the share gives k workers
    k = 3
    available = int(k * 540 * MB / AUTO_MEMORY_SHARE)
    assert auto_processes(16, available, 540 * MB) == 1 + k


def test_unknown_memory_does_not_cap_and_never_below_one() -> None:
    assert auto_processes(4, None, 540 * MB) == 4
    assert auto_processes(0, None, 540 * MB) == 1


def test_worker_memory_follows_the_model_file(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"\0" * (3 * MB))
    assert worker_memory(f) == 2 * 3 * MB + 32 * MB


def test_available_memory_is_read_where_linux_reports_it() -> None:
    mem = available_memory()
    if Path("/proc/meminfo").exists():
        assert mem is not None and mem > 0
    else:
        assert mem is None

"""kill -9 in the middle of a labeling run, restart: nothing answered is lost or asked again."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_fake_server import FakeServer, prompt_hash

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
N = 40


def cached_prompts(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return {prompt_hash(r[0]) for r in db.execute("SELECT prompt FROM answers")}
        finally:
            db.close()
    except sqlite3.OperationalError:
        return set()


def test_kill_and_resume(tmp_path):
    srv = FakeServer().start()
    try:
        srv.configure(delay_s=0.1)
        cache = tmp_path / "state" / "llm_cache.sqlite"
        out = tmp_path / "out.json"
        cmd = [sys.executable, str(HERE / "llm_resume_worker.py"), srv.base_url, str(cache), str(N),
               str(out)]
        env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.Popen(cmd, env=env)
        t0 = time.time()
        while len(cached_prompts(cache)) < 8:
            assert proc.poll() is None, "worker ended before it could be killed"
            assert time.time() - t0 < 240, "worker made no progress"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = cached_prompts(cache)
        asked_before = set(srv.requests)
        assert 8 <= len(before) < N, "the kill must land mid-run"
        assert not out.exists()
        in_flight = asked_before - before     # asked, answer never received: must be asked again
        assert len(in_flight) <= 2             # at most max_concurrency

        srv.configure(delay_s=0.0)
        subprocess.run(cmd, env=env, check=True, timeout=240)
        res = json.loads(out.read_text())
        after = cached_prompts(cache)
        assert len(after) == N and before <= after          # nothing answered was lost
        assert res["calls"] == N - len(before) and res["hits"] == len(before)
        assert res["votes"] == [1 if i % 3 == 0 else 0 for i in range(N)]
        for h in after:                                        # each prompt asked once ...
            expected = 2 if h in in_flight else 1             # ... except those cut off by the kill
            assert srv.requests[h] == expected, srv.prompts[h]
        for h in before:
            assert srv.requests[h] == 1
    finally:
        srv.stop()

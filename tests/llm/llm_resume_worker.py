"""Subprocess for the kill-and-resume test: label N messages through a remote server.

usage: python llm_resume_worker.py BASE_URL CACHE_PATH N OUT_JSON
"""
from __future__ import annotations

import json
import sys

import pandas as pd

from polarlab.data.dataset import Dataset
from polarlab.llm import LLMSource, OpenAIBackend
from polarlab.task import Task


def messages(n: int) -> tuple[list[str], list[int]]:
    texts = [f"message {i}: " + ("win a free prize" if i % 3 == 0 else "see you at lunch")
             for i in range(n)]
    return texts, [1 if i % 3 == 0 else 0 for i in range(n)]


def main() -> None:
    base_url, cache, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    texts, gold = messages(n)
    data = Dataset(pd.DataFrame({"id": [f"m{i}" for i in range(n)], "text": texts, "label": gold}))
    task = Task(labels=("ham", "spam"), instruction="Is the message spam?")
    be = OpenAIBackend("fake-model", base_url, max_concurrency=2, max_retries=2, backoff_s=0.01)
    src = LLMSource(be, cache=cache, calibrate=False, progress=False)
    res = src.apply(data, task)
    with open(out, "w") as f:
        json.dump({"votes": res.votes.tolist(), "calls": src.last_stats.calls,
                   "hits": src.last_stats.cache_hits}, f)


if __name__ == "__main__":
    main()

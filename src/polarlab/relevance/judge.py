"""The LLM as a relevance judge: P(relevant) of a query–document pair in scoring mode.

A pair is asked as one example of a two-label task (answer words ``no``/``yes``) through
:class:`polarlab.llm.LLMSource`, so it shares the answer cache (kill/resume), the embedded and
the OpenAI-compatible backends and contextual calibration with every other LLM source.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.dataset import Example
from ..llm.request import PromptRequest
from ..llm.source import LLMSource
from ..llm.stats import LLMRunStats
from ..task import Task
from .beir import BeirData

RELEVANCE_TASK = Task(
    labels=("not_relevant", "relevant"), verbalizers=("no", "yes"), name="relevance",
    instruction=("Decide whether the document is relevant to the claim: relevant means the document "
                 "holds evidence that supports or refutes the claim."))

Pair = tuple[str, int]   # (query id, document index)


@dataclass
class Judgements:
    """LLM answers for a list of pairs (aligned with it).

    Attributes:
        p_relevant: shape (n,), calibrated P(yes); NaN where the call failed.
        votes: shape (n,), 1 relevant / 0 not / -1 no answer.
        backend_calls: calls made to the backend (cache hits excluded).
        seconds: wall time.
    """

    p_relevant: np.ndarray
    votes: np.ndarray
    backend_calls: int
    seconds: float


class RelevanceJudge:
    """Asks an LLM source whether documents are relevant to queries.

    Parameters:
        source: the LLM source (scoring mode; its cache makes repeated pairs free).
        doc_chars: characters of ``title. abstract`` shown (the start of the abstract).
        task: the two-label task (answer words no/yes); default :data:`RELEVANCE_TASK`.
    """

    def __init__(self, source: LLMSource, doc_chars: int = 400, task: Task = RELEVANCE_TASK) -> None:
        self.source = source
        self.doc_chars = int(doc_chars)
        self.task = task
        self.total_backend_calls = 0
        self.usage = LLMRunStats()        # every ask of this judge: calls made, cache hits, tokens, seconds

    def request(self, data: BeirData, pair: Pair) -> PromptRequest:
        qid, d = pair
        text = f"Claim: {data.queries[qid]} Document: {data.doc_text(d, self.doc_chars)}"
        return PromptRequest(Example(id=f"{qid}|{data.doc_ids[d]}", text=text), tag=f"{qid}|{d}")

    def judge(self, data: BeirData, pairs: Sequence[Pair]) -> Judgements:
        """Answers for ``pairs`` (cached ones cost nothing)."""
        t0 = time.perf_counter()
        if not pairs:
            return Judgements(np.zeros(0), np.zeros(0, dtype=np.int64), 0, 0.0)
        answers = self.source.ask([self.request(data, p) for p in pairs], self.task)
        p = np.array([a.proba[1] if a.proba is not None and np.isfinite(a.proba).all() else np.nan
                      for a in answers], dtype=np.float64)
        votes = np.array([a.label for a in answers], dtype=np.int64)
        calls = int(self.source.last_stats.calls)
        self.usage.add(self.source.last_stats)
        self.total_backend_calls += calls
        return Judgements(p, votes, calls, time.perf_counter() - t0)

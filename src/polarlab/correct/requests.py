"""Build the re-ask :class:`~polarlab.llm.request.PromptRequest` of each selected row."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..data.dataset import Dataset, Example
from ..errors import InputError
from ..llm.request import PromptRequest
from ..matrix.label_matrix import LabelMatrix
from ..task import Task
from .config import CorrectionConfig
from .evidence import answer_word_task, rule_evidence
from .fewshot import auto_few_shot
from .pool import DemoPool
from .retrieval import nearest_confident, retrieved_evidence, retrieved_few_shot
from .strategy import Strategy


def build_requests(strategy: Strategy, rows: np.ndarray, data: Dataset, task: Task, *,
                   previous: np.ndarray, config: CorrectionConfig,
                   matrix: LabelMatrix | None = None, sources: Mapping[str, Any] | None = None,
                   skip_columns: Sequence[str] = (), X: np.ndarray | None = None,
                   pool: DemoPool | None = None, pool_rows: np.ndarray | None = None,
                   base_few_shot: tuple[tuple[Example, int], ...] = ()) -> list[PromptRequest]:
    """One request per selected row, holding every component of ``strategy``.

    Parameters:
        strategy: an LLM strategy (not ``harmonizer``).
        rows: shape (b,), positions in ``data`` to re-ask.
        data: the n examples.
        task: the task.
        previous: shape (n,), the LLM's current answers (-1 = abstained: no previous answer shown).
        config: the stage's settings.
        matrix: the n-row label matrix (``evidence``).
        sources: name -> source object, for ``describe`` (``evidence``).
        skip_columns: matrix columns never shown as evidence (the LLM itself).
        X: shape (n, d), features of ``data`` (``retrieval``).
        pool: the demonstration pool (``fewshot``, ``retrieval``).
        pool_rows: shape (n,), the pool position of each row of ``data`` when the rows being
            corrected are pool rows (-1 = not in the pool): a row is never its own retrieved
            neighbour. (Auto few-shot demonstrations are shared by all rows and not filtered.)
        base_few_shot: the LLM source's own configured demonstrations, kept first in every prompt.

    Returns:
        b requests, in ``rows`` order; ``tag`` = ``"<strategy>:<example id>"``.

    Demonstrations: ``base_few_shot`` + auto few-shot (the same for every row, so they share
    a prompt prefix) + retrieved neighbours (nearest last). Evidence: rule sentences, then
    retrieved lines (``retrieval_as="evidence"``).
    """
    rows = np.asarray(rows, dtype=np.int64)
    if not strategy.asks_llm:
        raise InputError(f"strategy {strategy.name!r} asks no LLM", column="strategy",
                         fix="the harmonizer strategy needs no requests")
    need_pool = "fewshot" in strategy or "retrieval" in strategy
    if need_pool and pool is None:
        raise InputError(f"strategy {strategy.name!r} needs a demonstration pool", column="pool",
                         fix="pass pool=DemoPool(train data, X, h(x), LLM votes)")
    if "evidence" in strategy and matrix is None:
        raise InputError("strategy 'evidence' needs the label matrix of the rows", column="matrix",
                         fix="pass the LabelMatrix the risk was computed from")
    if "retrieval" in strategy and X is None:
        raise InputError("strategy 'retrieval' needs the features of the rows", column="X",
                         fix="pass X (the features the harmonizer used)")

    shots = auto_few_shot(pool, task.n_classes, config) if "fewshot" in strategy else ()
    neighbours = None
    if "retrieval" in strategy:
        exclude = None if pool_rows is None else np.asarray(pool_rows, dtype=np.int64)[rows]
        neighbours = nearest_confident(pool, np.asarray(X)[rows], config.retrieval_k, config.confident,
                                       exclude=exclude)
    words_task = answer_word_task(task)
    sources = sources or {}
    out: list[PromptRequest] = []
    for r, i in enumerate(rows.tolist()):
        ex = data.example(i)
        few = tuple(base_few_shot) + shots
        evidence: tuple[str, ...] = ()
        if "evidence" in strategy:
            evidence = rule_evidence(matrix.L[i], matrix.names, sources, words_task, skip=skip_columns,
                                     max_lines=config.max_evidence, fallback_task=task)
        if neighbours is not None:
            if config.retrieval_as == "few_shot":
                few = few + retrieved_few_shot(pool, neighbours[r], config)
            else:
                evidence = evidence + retrieved_evidence(pool, neighbours[r], task, config)
        prev = int(previous[i]) if "verify" in strategy and previous[i] >= 0 else None
        out.append(PromptRequest(ex, few_shot=few, evidence=evidence, previous_answer=prev,
                                 tag=f"{strategy.name}:{ex.id}"))
    return out

"""Build the re-ask :class:`~polarlab.llm.request.PromptRequest` of each selected row."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..data.dataset import Dataset, Example
from ..errors import InputError
from ..llm.request import PromptRequest
from ..matrix.label_matrix import LabelMatrix
from ..task import Task
from .components import NEEDS, Batch, PromptParts
from .config import CorrectionConfig
from .pool import DemoPool
from .strategy import Strategy


def build_requests(strategy: Strategy, rows: np.ndarray, data: Dataset, task: Task, *,
                   previous: np.ndarray, config: CorrectionConfig,
                   matrix: LabelMatrix | None = None, sources: Mapping[str, Any] | None = None,
                   skip_columns: Sequence[str] = (), X: np.ndarray | None = None,
                   pool: DemoPool | None = None, pool_rows: np.ndarray | None = None,
                   base_few_shot: tuple[tuple[Example, int], ...] = ()) -> list[PromptRequest]:
    """One request per selected row, holding every component of ``strategy`` (each edits the prompt parts in
    canonical order; :mod:`polarlab.correct.components`).

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
                         fix=f"the {strategy.name} strategy needs no requests")
    given = {"pool": pool, "matrix": matrix, "X": X}
    for need, (what, column, fix) in NEEDS.items():
        lacking = [c.name for c in strategy.components if need in c.needs]
        if lacking and given[need] is None:
            who = strategy.name if need == "pool" else lacking[0]
            raise InputError(f"strategy {who!r} needs {what}", column=column, fix=fix)

    batch = Batch(rows=rows, data=data, task=task, previous=np.asarray(previous), config=config, matrix=matrix,
                  sources=sources or {}, skip_columns=skip_columns, X=X, pool=pool, pool_rows=pool_rows)
    editors = [c.prepare(batch) for c in strategy.components]
    out: list[PromptRequest] = []
    for r, i in enumerate(rows.tolist()):
        ex = data.example(i)
        parts = PromptParts(few_shot=tuple(base_few_shot))
        for add in editors:
            add(r, i, parts)
        out.append(PromptRequest(ex, few_shot=parts.few_shot, evidence=parts.evidence,
                                 previous_answer=parts.previous_answer, tag=f"{strategy.name}:{ex.id}"))
    return out

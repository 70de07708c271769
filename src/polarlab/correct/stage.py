"""The correction stage: re-ask the riskiest LLM answers within a budget, then re-score.

POLAR's error correction (Zhao et al., arXiv 2306.16564, sec. 4): the risk of an LLM answer is
``1 - h(x)[answer]``; the riskiest answers are re-asked with a dynamic prompt (self-verification,
rule evidence, auto few-shot, retrieved neighbours) or replaced by the harmonizer's label.

Every re-ask goes through the LLM source's answer cache (:meth:`LLMSource.ask`): a re-run makes
no backend call, and a crash loses no answer already paid for.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..errors import InputError
from ..matrix.label_matrix import LabelMatrix
from ..risk import risk_score
from ..task import Task
from .audit import AuditRecord, audit_frame
from .config import CorrectionConfig
from .pool import DemoPool
from .report import CorrectionReport, summarize
from .requests import build_requests
from .select import resolve_budget, select_rows
from .strategy import Strategy

if TYPE_CHECKING:  # pragma: no cover
    from ..llm.request import Answer
    from ..llm.source import LLMSource


@dataclass
class FitData:
    """The rows the harmonizer is fitted on, for ``update="refit"``.

    Attributes:
        matrix: the fitting label matrix, n_f rows, the same source columns (names, order) as
            the matrix of the rows being corrected.
        X: shape (n_f, d), their features.
        rows: shape (n,), the position in ``matrix`` of each row being corrected (when the
            corrected rows are fitting rows, e.g. the fit split itself); None = the corrected
            rows are not fitting rows, and the re-asked ones are appended (with all their
            sources' votes and the corrected LLM vote) before refitting.
    """

    matrix: LabelMatrix
    X: np.ndarray
    rows: np.ndarray | None = None


@dataclass
class CorrectionResult:
    """What one strategy did to n rows.

    Attributes:
        strategy: the strategy's name.
        rows: shape (b,), the re-asked rows (positions), riskiest first.
        labels_before, labels_after: shape (n,), the LLM column before and after (-1 = abstain).
        risk_before, risk_after: shape (n,), POLAR risk of those labels (NaN where -1).
        proba_before, proba_after: shape (n, k), h(x) before and after (equal unless refit).
        matrix: the label matrix with the LLM column replaced (distribution of re-asked rows
            replaced too; NaN for ``harmonizer``).
        audit: one :class:`AuditRecord` per re-asked row (old answers are kept there).
        budget: the budget as a count.
        calls: re-asks issued (budgeted; cache hits included). 0 for ``harmonizer``.
        backend_calls, cache_hits, prompts: from the LLM run (calibration prompts included).
        answers: the re-asks' answers, in ``rows`` order ([] for ``harmonizer``).
        harmonizer: the refitted harmonizer (``update="refit"``), else None.
        update: "rescore" or "refit".
    """

    strategy: str
    rows: np.ndarray
    labels_before: np.ndarray
    labels_after: np.ndarray
    risk_before: np.ndarray
    risk_after: np.ndarray
    proba_before: np.ndarray
    proba_after: np.ndarray
    matrix: LabelMatrix
    audit: list[AuditRecord]
    budget: int
    calls: int = 0
    backend_calls: int = 0
    cache_hits: int = 0
    prompts: int = 0
    answers: list = field(default_factory=list)
    harmonizer: Any = None
    update: str = "rescore"

    def report(self, gold: np.ndarray | None = None) -> CorrectionReport:
        """Before/after figures; ``gold`` (n,), -1 = unknown, only measures."""
        return summarize(self.strategy, self.rows, self.labels_before, self.labels_after, self.risk_before,
                         self.risk_after, self.proba_before, self.proba_after, budget=self.budget,
                         calls=self.calls, backend_calls=self.backend_calls, cache_hits=self.cache_hits,
                         prompts=self.prompts, gold=gold)

    def audit_frame(self, task: Task | None = None) -> pd.DataFrame:
        """The audit trail as a table (see :func:`polarlab.correct.audit.audit_frame`)."""
        return audit_frame(self.audit, task)


def _llm_column(matrix: LabelMatrix, llm: Any, llm_column: str | None) -> str:
    name = llm_column or (getattr(llm, "name", None) if llm is not None else None)
    if name is None:
        raise InputError("which matrix column is the LLM's is unknown", column="llm_column",
                         fix="pass llm_column=<the LLM source's name>")
    if name not in matrix.names:
        raise InputError(f"the label matrix has no column {name!r}; its columns are {matrix.names}",
                         column="llm_column", fix="label the rows with the LLM source first")
    return name


def correct_answers(data: Dataset, task: Task, matrix: LabelMatrix, proba: np.ndarray, *,
                    strategy: str | Strategy, llm: "LLMSource | None" = None, sources: Sequence[Any] = (),
                    X: np.ndarray | None = None, pool: DemoPool | None = None,
                    pool_rows: np.ndarray | None = None, config: CorrectionConfig | None = None,
                    risk: np.ndarray | None = None,
                    llm_column: str | None = None, harmonizer: Any = None,
                    fit: FitData | None = None) -> CorrectionResult:
    """Re-ask the riskiest LLM answers of ``data`` with ``strategy`` and re-score them.

    Parameters:
        data: the n rows whose LLM answers are corrected.
        task: the task.
        matrix: their label matrix, n rows, with the LLM's column (``llm_column`` or ``llm.name``).
        proba: shape (n, k), the fitted harmonizer's h(x) on the rows.
        strategy: e.g. ``"verify"``, ``"evidence+fewshot"``, ``"harmonizer"`` (see
            :mod:`polarlab.correct.strategy`).
        llm: the LLM source (every strategy but ``harmonizer``); its cache answers repeats.
        sources: the other sources (``describe`` gives the evidence sentences); matrix columns
            without a source object get a generic sentence.
        X: shape (n, d), the rows' features (``retrieval``; ``refit``).
        pool: the demonstration pool, normally the fit split (``fewshot``, ``retrieval``).
        pool_rows: shape (n,), each row's position in the pool when the rows are pool rows
            (e.g. correcting the fit split itself; -1 = not in the pool); None = disjoint.
        config: selection, budget and prompt settings (default :class:`CorrectionConfig`).
        risk: shape (n,), risk of the LLM's answers; default ``1 - proba[answer]``.
        llm_column: the LLM's matrix column (default ``llm.name``).
        harmonizer: the fitted harmonizer (``update="refit"``: a deep copy is refitted).
        fit: the fitting rows (``update="refit"``).

    Returns:
        :class:`CorrectionResult`; nothing passed in is modified.

    Raises:
        InputError: shapes disagree, a needed input is missing.
        LLMConfigError: the LLM backend cannot be used (answers received before are cached).
    """
    config = config or CorrectionConfig()
    st = Strategy.parse(strategy)
    proba = _checked_proba(data, task, matrix, proba, X)
    if st.asks_llm and llm is None:
        raise InputError(f"strategy {st.name!r} re-asks the LLM, but no LLM source was given", column="llm",
                         fix="pass llm=<the LLMSource>, or use the harmonizer strategy")
    col = _llm_column(matrix, llm, llm_column)
    before = matrix.column(col).copy()
    risk_before = _risk_before(proba, before, risk)

    rows = select_rows(risk_before, config)
    budget = resolve_budget(config.budget, len(data))
    asked = _Reasks.empty(before, rows, matrix.probas.get(col))
    if not st.asks_llm:
        asked.answer_without_llm(st, proba, rows)
    elif rows.size:
        requests = build_requests(st, rows, data, task, previous=before, config=config, matrix=matrix,
                                  sources={getattr(s, "name", None): s for s in sources}, skip_columns=(col,),
                                  X=X, pool=pool, pool_rows=pool_rows, base_few_shot=llm.few_shot_for(task))
        asked.ask_llm(llm, requests, task, rows, calibrate=config.calibrate)
    new_matrix = matrix.with_column(col, asked.after, asked.llm_proba)

    proba_after, refitted = proba, None
    if config.update == "refit":
        refitted, proba_after = _refit(harmonizer, fit, new_matrix, X, rows, col)
    risk_after = risk_score(proba_after, asked.after)
    audit = _audit(data, st.name, rows, before, asked, risk_before, risk_after)
    return CorrectionResult(strategy=st.name, rows=rows, labels_before=before, labels_after=asked.after,
                            risk_before=risk_before, risk_after=risk_after, proba_before=proba,
                            proba_after=proba_after, matrix=new_matrix, audit=audit, budget=budget,
                            calls=asked.calls, backend_calls=asked.backend_calls, cache_hits=asked.cache_hits,
                            prompts=asked.prompts, answers=asked.answers, harmonizer=refitted,
                            update=config.update)


def _checked_proba(data: Dataset, task: Task, matrix: LabelMatrix, proba: np.ndarray,
                   X: np.ndarray | None) -> np.ndarray:
    """``proba`` as float64 (n, k), after checking that it, the matrix and ``X`` all have the n rows of ``data``.

    Raises:
        InputError: naming the input whose shape disagrees.
    """
    n, k = len(data), task.n_classes
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (n, k):
        raise InputError(f"proba has shape {proba.shape}, expected ({n}, {k})", column="proba",
                         fix="pass h(x) of the rows being corrected")
    if matrix.L.shape[0] != n:
        raise InputError(f"the label matrix has {matrix.L.shape[0]} rows for {n} examples", column="matrix",
                         fix="pass the matrix of the same rows")
    if X is not None and np.asarray(X).shape[0] != n:
        raise InputError(f"X has {np.asarray(X).shape[0]} rows for {n} examples", column="X",
                         fix="pass the features of the same rows")
    return proba


def _risk_before(proba: np.ndarray, before: np.ndarray, risk: np.ndarray | None) -> np.ndarray:
    """The risk of the LLM's answers ``before`` (n,): ``risk`` when given (copied), else ``1 - proba[answer]``.

    Raises:
        InputError: ``risk`` is not one number per row.
    """
    n = proba.shape[0]
    risk_before = risk_score(proba, before) if risk is None else np.asarray(risk, dtype=np.float64).copy()
    if risk_before.shape != (n,):
        raise InputError(f"risk has shape {risk_before.shape}, expected ({n},)", column="risk",
                         fix="give one risk per row")
    return risk_before


@dataclass
class _Reasks:
    """The LLM column as the re-asks leave it, and what each re-ask gave.

    Attributes:
        after: shape (n,), the LLM's labels after correction (-1 = abstain).
        llm_proba: shape (n, k), the LLM's distributions after correction, or None when the column has none.
        asked: shape (b,), the label each re-ask gave, in the order of the re-asked rows (-1 = none).
        keys, cached, errors: per re-ask, its cache key, whether the cache answered it, its error.
        answers: the re-asks' :class:`Answer` objects ([] when the LLM was not asked).
        calls, backend_calls, cache_hits, prompts: the counts of :class:`CorrectionResult`.
    """

    after: np.ndarray
    llm_proba: np.ndarray | None
    asked: np.ndarray
    keys: list[str]
    cached: list[bool]
    errors: list[str | None]
    answers: list = field(default_factory=list)
    calls: int = 0
    backend_calls: int = 0
    cache_hits: int = 0
    prompts: int = 0

    @classmethod
    def empty(cls, before: np.ndarray, rows: np.ndarray, llm_proba: np.ndarray | None) -> "_Reasks":
        """Nothing asked yet: copies of the labels ``before`` (n,) and of the column's distributions."""
        b = rows.shape[0]
        return cls(after=before.copy(),
                   llm_proba=None if llm_proba is None else np.asarray(llm_proba, dtype=np.float64).copy(),
                   asked=np.full(b, -1, dtype=np.int64), keys=[""] * b, cached=[False] * b, errors=[None] * b)

    def answer_without_llm(self, st: Strategy, proba: np.ndarray, rows: np.ndarray) -> None:
        """Replace the ``rows``' labels with the strategy's own answers from h(x) ``proba`` (no distribution)."""
        self.asked[:] = st.answer_without_llm(proba[rows])
        self.after[rows] = self.asked
        if self.llm_proba is not None:
            self.llm_proba[rows] = np.nan

    def ask_llm(self, llm: "LLMSource", requests: list, task: Task, rows: np.ndarray, *,
                calibrate: bool | None) -> None:
        """Ask ``llm`` the re-ask ``requests`` (one per row of ``rows``) and take their labels and counts.

        An abstain or a failed call keeps the row's old answer.
        """
        self.answers = llm.ask(requests, task, calibrate=calibrate)
        stats = llm.last_stats
        self.calls, self.backend_calls = len(requests), stats.calls
        self.cache_hits, self.prompts = stats.cache_hits, stats.requests
        for j, (i, a) in enumerate(zip(rows.tolist(), self.answers)):
            self.asked[j], self.keys[j], self.cached[j], self.errors[j] = a.label, a.key, bool(a.cached), a.error
            if a.label >= 0:
                self.after[i] = a.label
                if self.llm_proba is not None:
                    self.llm_proba[i] = a.proba


def _audit(data: Dataset, strategy: str, rows: np.ndarray, before: np.ndarray, asked: _Reasks,
           risk_before: np.ndarray, risk_after: np.ndarray) -> list[AuditRecord]:
    """One :class:`AuditRecord` per re-asked row (``rows``, riskiest first): ids, labels, risks, cache keys."""
    ids = [str(x) for x in data.frame["id"].to_numpy()]
    return [AuditRecord(row=int(i), id=ids[i], strategy=strategy, old_label=int(before[i]),
                        new_label=int(asked.after[i]), asked_label=int(asked.asked[j]),
                        old_risk=float(risk_before[i]), new_risk=float(risk_after[i]), cache_key=asked.keys[j],
                        cached=asked.cached[j], error=asked.errors[j])
            for j, i in enumerate(rows.tolist())]


def _refit(harmonizer: Any, fit: FitData | None, corrected: LabelMatrix, X: np.ndarray | None,
           rows: np.ndarray, col: str) -> tuple[Any, np.ndarray]:
    """Fit a copy of ``harmonizer`` on the fitting rows with the corrected LLM votes; h(x) of the rows."""
    if harmonizer is None or fit is None or X is None:
        raise InputError('update="refit" needs the fitted harmonizer, the fitting rows and X', column="update",
                         fix='pass harmonizer=, fit=FitData(matrix, X) and X=, or use update="rescore"')
    if list(fit.matrix.names) != list(corrected.names):
        raise InputError(f"the fitting matrix has columns {fit.matrix.names}, the corrected rows "
                         f"{corrected.names}", column="fit.matrix", fix="use the same sources in the same order")
    j = corrected.names.index(col)
    Xf = np.asarray(fit.X)
    if fit.rows is not None:
        pos = np.asarray(fit.rows, dtype=np.int64)
        if pos.shape[0] != corrected.L.shape[0]:
            raise InputError(f"fit.rows has {pos.shape[0]} positions for {corrected.L.shape[0]} rows",
                             column="fit.rows", fix="give the fitting-matrix position of every corrected row")
        Lf = fit.matrix.L.copy()
        Lf[pos, j] = corrected.L[:, j]
    else:
        Lf = np.vstack([fit.matrix.L, corrected.L[rows]])
        Xf = np.vstack([Xf, np.asarray(X)[rows]])
    h = copy.deepcopy(harmonizer)
    h.fit(Lf, Xf)
    return h, np.asarray(h.predict_proba(None, np.asarray(X)), dtype=np.float64)

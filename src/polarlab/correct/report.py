"""Before/after figures of one correction: slice and overall accuracy, calls, risk distribution."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: Edges of the risk histogram: ten equal bins on [0, 1] (the last one closed).
RISK_BINS = tuple(float(x) for x in np.linspace(0.0, 1.0, 11))


def risk_histogram(risk: np.ndarray, bins: tuple[float, ...] = RISK_BINS) -> list[int]:
    """Counts of risk values per bin (NaN, i.e. abstains, left out); length ``len(bins) - 1``."""
    r = np.asarray(risk, dtype=np.float64)
    counts, _ = np.histogram(r[~np.isnan(r)], bins=np.asarray(bins))
    return [int(c) for c in counts]


def _mean(x: np.ndarray) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else None


def _error(labels: np.ndarray, gold: np.ndarray) -> float | None:
    """Share of gold-labelled rows whose label is wrong (an abstain counts as wrong)."""
    known = gold >= 0
    return float((labels[known] != gold[known]).mean()) if known.any() else None


@dataclass
class CorrectionReport:
    """Figures of one correction run (JSON-able via :meth:`to_dict`).

    Attributes:
        strategy: the strategy's name.
        slice_n: rows re-asked (the slice).
        budget: the budget as a count of re-asks.
        calls: re-asks issued (the budgeted unit; == slice_n for LLM strategies, 0 for
            ``harmonizer``), whether answered by the backend or the cache.
        backend_calls: prompts that reached the model (cache misses), calibration prompts included.
        cache_hits: prompts answered from the cache, calibration prompts included.
        prompts: all prompts of the run (re-asks + content-free calibration prompts).
        changed: slice rows whose label changed.
        llm_error_before, llm_error_after: LLM error rate on the slice's gold-labelled rows
            (None without gold).
        accuracy_before, accuracy_after: accuracy of the LLM column on all gold-labelled rows.
        harmonized_accuracy_before, harmonized_accuracy_after: accuracy of argmax h(x)
            (they differ only with ``update="refit"``).
        mean_risk_before, mean_risk_after: mean POLAR risk of the LLM column, all rows.
        slice_mean_risk_before, slice_mean_risk_after: the same on the slice.
        risk_hist_before, risk_hist_after: counts per bin of :data:`RISK_BINS`, all rows.
        n_gold: gold-labelled rows.
    """

    strategy: str
    slice_n: int
    budget: int
    calls: int
    backend_calls: int
    cache_hits: int
    prompts: int
    changed: int
    llm_error_before: float | None
    llm_error_after: float | None
    accuracy_before: float | None
    accuracy_after: float | None
    harmonized_accuracy_before: float | None
    harmonized_accuracy_after: float | None
    mean_risk_before: float | None
    mean_risk_after: float | None
    slice_mean_risk_before: float | None
    slice_mean_risk_after: float | None
    risk_hist_before: list[int] = field(default_factory=list)
    risk_hist_after: list[int] = field(default_factory=list)
    risk_bins: list[float] = field(default_factory=lambda: list(RISK_BINS))
    n_gold: int = 0

    @property
    def error_reduction(self) -> float | None:
        """Relative cut of the slice error, ``1 - after / before`` (None without gold or errors)."""
        if not self.llm_error_before or self.llm_error_after is None:
            return None
        return 1.0 - self.llm_error_after / self.llm_error_before

    def to_dict(self) -> dict:
        d = asdict(self)
        d["error_reduction"] = self.error_reduction
        return d


def summarize(strategy: str, rows: np.ndarray, labels_before: np.ndarray, labels_after: np.ndarray,
              risk_before: np.ndarray, risk_after: np.ndarray, proba_before: np.ndarray,
              proba_after: np.ndarray, *, budget: int, calls: int, backend_calls: int, cache_hits: int,
              prompts: int, gold: np.ndarray | None = None) -> CorrectionReport:
    """Build the report. Arrays are over the n rows (labels (n,), risk (n,), proba (n, k));
    ``rows`` (b,) the slice; ``gold`` (n,), -1 = unknown, only ever used for measuring."""
    rows = np.asarray(rows, dtype=np.int64)
    g = None if gold is None else np.asarray(gold, dtype=np.int64)
    has_gold = g is not None and bool((g >= 0).any())
    hb, ha = np.asarray(proba_before).argmax(axis=1), np.asarray(proba_after).argmax(axis=1)
    return CorrectionReport(
        strategy=strategy, slice_n=int(rows.shape[0]), budget=int(budget), calls=int(calls),
        backend_calls=int(backend_calls), cache_hits=int(cache_hits), prompts=int(prompts),
        changed=int((labels_before[rows] != labels_after[rows]).sum()),
        llm_error_before=_error(labels_before[rows], g[rows]) if has_gold else None,
        llm_error_after=_error(labels_after[rows], g[rows]) if has_gold else None,
        accuracy_before=None if not has_gold else 1.0 - _error(labels_before, g),
        accuracy_after=None if not has_gold else 1.0 - _error(labels_after, g),
        harmonized_accuracy_before=None if not has_gold else 1.0 - _error(hb, g),
        harmonized_accuracy_after=None if not has_gold else 1.0 - _error(ha, g),
        mean_risk_before=_mean(risk_before), mean_risk_after=_mean(risk_after),
        slice_mean_risk_before=_mean(risk_before[rows]), slice_mean_risk_after=_mean(risk_after[rows]),
        risk_hist_before=risk_histogram(risk_before), risk_hist_after=risk_histogram(risk_after),
        n_gold=int((g >= 0).sum()) if g is not None else 0,
    )

"""The source weights of the harmonizer's objective: given, chosen from the data, or tuned without gold.

:class:`WeightsMixin` is the part of :class:`polarlab.harmonizer.polar.PolarHarmonizer` that resolves ``weights``
(equal, an array, ``"max_eigen"`` / ``"min_var"`` from :mod:`polarlab.harmonizer.reweight`), multiplies the
``tune_sources`` columns (the LLM's) by the multiplier :mod:`polarlab.harmonizer.tune` chooses without gold, and says
which of those tuned sources the combined output hears (a tuned weight of 0 silences a source).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .reweight import source_weights
from .tune import tune_source_weight


class WeightsMixin:
    """The source weights (mixed into :class:`~polarlab.harmonizer.polar.PolarHarmonizer`)."""

    def _resolve_weights(self, m: int) -> np.ndarray | str:
        w = self.weights
        if w is None or (isinstance(w, str) and w == "equal"):
            return np.ones(m)
        if isinstance(w, str):
            return w
        arr = np.asarray(w, dtype=np.float64).reshape(-1)
        if arr.shape[0] != m:
            raise InputError(f"{arr.shape[0]} weights for {m} sources", column="weights",
                             fix="give one weight per column of L")
        if not np.all(np.isfinite(arr)) or (arr < 0).any() or arr.sum() <= 0:
            raise InputError("weights must be finite, non-negative and not all 0", column="weights",
                             fix="pass e.g. np.ones(m)")
        return arr

    def _data_driven_weights(self, weights: np.ndarray | str, Xt: np.ndarray, Lt: np.ndarray, Xv: np.ndarray | None,
                             Lv: np.ndarray | None, gold_v: np.ndarray | None) -> np.ndarray:
        """The source weights, shape (m,), float64: ``weights`` as resolved by :meth:`_resolve_weights`, or for
        ``"max_eigen"``/``"min_var"`` chosen from the training votes ``Lt`` (n_t, m) (``min_var``: at an h first
        trained with equal weights on the same rows, :mod:`polarlab.harmonizer.reweight`)."""
        if isinstance(weights, str):
            if weights == "max_eigen":
                weights = source_weights(Lt, "max_eigen", n_classes=self.n_classes)
            else:
                self._train(Xt, Lt, Xv, Lv, gold_v, np.ones(Lt.shape[1]))
                weights = source_weights(Lt, "min_var", proba=self._proba(Xt))
        return np.asarray(weights, dtype=np.float64)

    def _tuned_weights(self, weights: np.ndarray, X: np.ndarray, L: np.ndarray) -> np.ndarray:
        """``weights`` (m,) with the ``tune_sources`` columns multiplied by the gold-free tuned multiplier
        (cross-fitted on all fit rows ``X`` (n, d) / ``L`` (n, m), :mod:`polarlab.harmonizer.tune`). Sets
        ``tuned_multiplier_`` and ``tuning_`` (1.0 and [] without ``tune_sources``)."""
        self.tuned_multiplier_, self.tuning_ = 1.0, []
        if not self.tune_sources:
            return weights
        m = L.shape[1]
        bad = [j for j in self.tune_sources if not 0 <= j < m]
        if bad:
            raise InputError(f"tune_sources {bad} are not columns of L (m={m})", column="tune_sources",
                             fix="give column indices of the sources to tune (e.g. the LLM's)")
        self.tuned_multiplier_, self.tuning_ = tune_source_weight(
            self.fold_copy, X, L, weights, self.tune_sources, self.tune_grid, self.tune_folds, seed=self.seed,
            warnings_sink=self.warnings_)
        weights = weights.copy()
        weights[self.tune_sources] *= self.tuned_multiplier_
        return weights

    def _heard_tuned_sources(self) -> list[int]:
        """The tuned sources (the LLM) that are not silenced: the combination reads their votes."""
        return [j for j in (self.tune_sources or []) if j not in self.silenced_sources_]

"""Snorkel's matrix-completion label model (Ratner et al. 2019) behind the polarlab protocol."""
from __future__ import annotations

import random
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from snorkel.labeling.model import LabelModel as _SnorkelLabelModel

from ..errors import ConfigError, InputError
from ..validation import check_votes
from .base import LabelModelBase, check_tie_break
from .majority import check_n_classes

MIN_SOURCES = 3
"""Snorkel refuses label matrices with fewer columns than this."""


class SnorkelLabelModel(LabelModelBase):
    """Wraps ``snorkel.labeling.model.LabelModel`` (quiet: no logging, no progress bar).

    Edge cases Snorkel cannot take itself:

    * fewer than 3 sources: all-abstain columns are appended up to 3. An all-abstain column
      adds nothing to any row's likelihood, so predictions depend only on the real sources;
      with 1 or 2 sources their accuracies are not identifiable from agreements, and Snorkel
      leaves them near its prior precision (``prec_init`` = 0.7), giving soft votes rather
      than 0/1.
    * rows where every source abstains get the class prior (``class_balance``, uniform by
      default) — Snorkel's own behaviour, documented here.
    * Snorkel seeds Python's, NumPy's and torch's global generators when fitting; this wrapper
      restores all three afterwards, so fitting has no effect on the caller's randomness.

    Args:
        n_classes: k, number of classes.
        epochs: optimisation steps (Snorkel's ``n_epochs``).
        lr: learning rate.
        l2: centred L2 regularisation strength.
        seed: seed of Snorkel's initialisation.
        class_balance: prior P(Y = c), length k, all > 0 (normalised here); None = uniform.
        tie_break: how :meth:`predict` labels a row whose top classes tie (within 1e-5, Snorkel's tolerance):
            ``"abstain"`` (default, Snorkel's ``LabelModel.predict``: -1), ``"random"`` (one of them, drawn with
            ``seed``) or ``"first"`` (the lowest class index). Rows where every source abstains get the class prior,
            so with a uniform prior they tie.

    Attributes (after ``fit``):
        model_: the fitted Snorkel ``LabelModel``.
        n_sources_: m, number of columns of the fitted matrix (before padding).
    """

    def __init__(self, n_classes: int, epochs: int = 500, lr: float = 0.01, l2: float = 0.0,
                 seed: int = 0, class_balance: Sequence[float] | None = None, tie_break: str = "abstain") -> None:
        self.n_classes = check_n_classes(n_classes)
        self.tie_break = check_tie_break(tie_break)
        self.epochs = epochs
        self.lr = lr
        self.l2 = l2
        self.seed = seed
        self.class_balance = class_balance

    def _prior(self) -> list[float] | None:
        if self.class_balance is None:
            return None
        p = np.asarray(self.class_balance, dtype=np.float64)
        if p.shape != (self.n_classes,) or not np.all(np.isfinite(p)) or np.any(p <= 0):
            raise ConfigError(f"class_balance {list(self.class_balance)!r} is not {self.n_classes} "
                              "positive numbers", column="class_balance",
                              fix=f"give one positive weight per class ({self.n_classes}), or leave it unset")
        return (p / p.sum()).tolist()

    @staticmethod
    def _pad(L: np.ndarray) -> np.ndarray:
        """Append all-abstain columns up to ``MIN_SOURCES``; shape (n, max(m, 3))."""
        missing = MIN_SOURCES - L.shape[1]
        if missing <= 0:
            return L
        return np.hstack([L, np.full((L.shape[0], missing), -1, dtype=np.int64)])

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "SnorkelLabelModel":
        """Fit on votes ``L`` of shape (n, m), int, -1 = abstain; ``X`` is ignored. Returns ``self``."""
        votes = check_votes(L, n_classes=self.n_classes)
        if votes.shape[0] == 0:
            raise InputError("cannot fit the Snorkel label model on 0 examples",
                             fix="fit on a label matrix with at least one row")
        prior = self._prior()
        model = _SnorkelLabelModel(cardinality=self.n_classes, verbose=False)
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # scipy dtype notice inside Snorkel
                model.fit(self._pad(votes), class_balance=prior, progress_bar=False,
                          n_epochs=self.epochs, lr=self.lr, l2=self.l2, seed=self.seed)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        self.model_ = model
        self.n_sources_ = votes.shape[1]
        return self

    def predict_proba(self, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Class distributions P(Y | votes).

        Args:
            L: shape (n, m), int, -1 = abstain; m must equal the fitted ``n_sources_``.
            X: ignored.

        Returns:
            shape (n, k), float64, rows sum to 1.
        """
        votes = self._check_fitted_votes(L, "model_")
        if votes.shape[0] == 0:
            return np.zeros((0, self.n_classes))
        padded = self._pad(votes)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            proba = np.asarray(self.model_.predict_proba(padded), dtype=np.float64)
        bad = ~np.all(np.isfinite(proba), axis=1)
        if bad.any():  # exp() under/overflowed on rows with very many votes
            proba[bad] = self._stable_proba(padded[bad])
        return proba / proba.sum(axis=1, keepdims=True)

    def _stable_proba(self, L: np.ndarray) -> np.ndarray:
        """Snorkel's P(Y | votes) computed in log space, shape (n, k).

        Same formula as ``snorkel LabelModel.predict_proba`` (log P(Y) plus the log conditional
        probability of every non-abstain vote), normalised with a softmax instead of exp/sum.
        """
        k = self.n_classes
        log_mu = np.log(np.clip(self.model_.mu.detach().cpu().numpy(), 1e-300, None))  # (m*k, k)
        onehot = np.zeros((L.shape[0], L.shape[1] * k))
        rows, cols = np.nonzero(L >= 0)
        onehot[rows, cols * k + L[rows, cols]] = 1.0
        scores = onehot @ log_mu + np.log(self.model_.p)
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

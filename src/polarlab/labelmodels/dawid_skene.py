"""Dawid–Skene (1979) confusion-matrix EM, fitted by crowd-kit, behind the polarlab protocol."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene as _CrowdKitDawidSkene
from sklearn.exceptions import NotFittedError

from ..errors import InputError
from .majority import check_n_classes, check_votes


def to_long(L: np.ndarray) -> pd.DataFrame:
    """Votes in crowd-kit's long format.

    Args:
        L: shape (n, m), int, -1 = abstain.

    Returns:
        one row per non-abstain vote, columns ``task`` (row index), ``worker`` (column index),
        ``label`` (class index), all int64.
    """
    rows, cols = np.nonzero(L >= 0)
    return pd.DataFrame({"task": rows.astype(np.int64), "worker": cols.astype(np.int64),
                         "label": L[rows, cols].astype(np.int64)})


class DawidSkene:
    """Dawid–Skene label model: one k×k confusion matrix per source, fitted by EM (crowd-kit).

    ``fit`` runs ``crowdkit.aggregation.DawidSkene`` on the non-abstain votes and keeps its
    estimates as arrays. crowd-kit only labels the tasks it was fitted on, so
    ``predict_proba`` applies the fitted parameters (one E-step) to any label matrix with the
    same sources:

        P(Y = c | votes) ∝ prior[c] · Π_{j votes l} confusion[j, l, c]

    * classes no source ever voted for in ``fit`` get probability 0 everywhere (crowd-kit
      has no parameters for them); every row still sums to 1.
    * a vote (source j, label l) that source j never gave during ``fit`` has no estimated
      probability and is ignored, as crowd-kit's own E-step does.
    * rows with no (usable) vote get the fitted class prior; if ``fit`` saw no vote at all,
      the prior and every prediction are uniform.

    Args:
        n_classes: k, number of classes.
        n_iter: maximum number of EM iterations.
        tol: stop when the evidence lower bound improves by less than this.

    Attributes (after ``fit``):
        class_prior_: shape (k,), estimated P(Y = c).
        confusion_: shape (m, k, k), ``confusion_[j, l, c]`` = P(source j votes l | Y = c);
            0 where source j never voted l.
        seen_: shape (m, k), bool, whether source j voted l during ``fit``.
        n_sources_: m.
        aggregator_: the fitted crowd-kit ``DawidSkene``.
    """

    def __init__(self, n_classes: int, n_iter: int = 100, tol: float = 1e-5) -> None:
        self.n_classes = check_n_classes(n_classes)
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "DawidSkene":
        """Fit on votes ``L`` of shape (n, m), int, -1 = abstain; ``X`` is ignored. Returns ``self``."""
        votes = check_votes(L, self.n_classes)
        k, m = self.n_classes, votes.shape[1]
        aggregator = _CrowdKitDawidSkene(n_iter=self.n_iter, tol=self.tol)
        with warnings.catch_warnings():  # crowd-kit uses pandas idioms pandas 3 deprecates
            warnings.filterwarnings("ignore", module=r"crowdkit(\.|$)")
            aggregator.fit(to_long(votes))
        prior = np.zeros(k)
        confusion = np.zeros((m, k, k))
        seen = np.zeros((m, k), dtype=bool)
        if aggregator.priors_ is not None and len(aggregator.priors_):
            priors = aggregator.priors_
            prior[priors.index.to_numpy(dtype=np.int64)] = priors.to_numpy(dtype=np.float64)
            errors = aggregator.errors_
            workers = errors.index.get_level_values("worker").to_numpy(dtype=np.int64)
            labels = errors.index.get_level_values("label").to_numpy(dtype=np.int64)
            true = errors.columns.to_numpy(dtype=np.int64)
            confusion[workers[:, None], labels[:, None], true[None, :]] = errors.to_numpy(dtype=np.float64)
            seen[workers, labels] = True
            prior /= prior.sum()
        else:
            prior[:] = 1.0 / k
        self.class_prior_ = prior
        self.confusion_ = confusion
        self.seen_ = seen
        self.n_sources_ = m
        self.aggregator_ = aggregator
        return self

    def predict_proba(self, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Class distributions P(Y | votes) under the fitted parameters.

        Args:
            L: shape (n, m), int, -1 = abstain; m must equal the fitted ``n_sources_``.
            X: ignored.

        Returns:
            shape (n, k), float64, rows sum to 1.
        """
        if not hasattr(self, "confusion_"):
            raise NotFittedError("DawidSkene is not fitted yet; call fit(L) first")
        votes = check_votes(L, self.n_classes)
        if votes.shape[1] != self.n_sources_:
            raise InputError(f"label matrix has {votes.shape[1]} sources, the model was fitted on "
                             f"{self.n_sources_}", fix="predict with the same sources, in the same order")
        with np.errstate(divide="ignore"):
            log_conf = np.log(self.confusion_)  # (m, k, k); -inf only for classes never voted
            scores = np.tile(np.log(self.class_prior_), (votes.shape[0], 1))  # (n, k)
        for j in range(votes.shape[1]):
            col = votes[:, j]
            use = col >= 0
            use[use] = self.seen_[j, col[use]]
            scores[use] += log_conf[j, col[use]]
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

"""Dawid–Skene (1979) confusion-matrix EM, fitted by crowd-kit, behind the polarlab protocol.

Weak-supervision sources differ from crowd workers in one way that matters here: a source's
abstain depends on the class (a keyword rule for "spam" fires on spam and stays silent
otherwise). Most labeling functions are *unipolar* (they only ever vote one class), and for
those the abstain is the whole signal: if abstains are dropped as missing, a unipolar source's
confusion matrix has a single row, normalises to P(vote l | Y = c) = 1 for every class c, and
its votes carry no evidence at all. So this model treats abstain as one more observed response
of every source, as WRENCH's Dawid–Skene does.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene as _CrowdKitDawidSkene

from ..validation import check_votes
from .base import LabelModelBase, check_tie_break
from .majority import ABSTAIN, check_n_classes, vote_counts


def to_long(L: np.ndarray, abstain_label: int | None = None) -> pd.DataFrame:
    """Votes in crowd-kit's long format.

    Args:
        L: shape (n, m), int, -1 = abstain.
        abstain_label: None drops abstains (one row per vote); an int keeps every (row, source)
            pair and writes the abstains as this response.

    Returns:
        columns ``task`` (row index), ``worker`` (column index), ``label`` (class index, or
        ``abstain_label``), all int64; rows in row-major order of ``L``.
    """
    if abstain_label is None:
        rows, cols = np.nonzero(L >= 0)
    else:
        rows, cols = np.indices(L.shape).reshape(2, -1)
    labels = L[rows, cols]
    if abstain_label is not None:
        labels = np.where(labels == ABSTAIN, abstain_label, labels)
    return pd.DataFrame({"task": rows.astype(np.int64), "worker": cols.astype(np.int64),
                         "label": labels.astype(np.int64)})


class _CrowdKitEM(_CrowdKitDawidSkene):
    """crowd-kit's Dawid–Skene EM started from given posteriors, whose columns are the classes.

    crowd-kit's own ``fit`` starts from a majority vote over every response in the data, which
    would make "abstain" a candidate true class; here the classes are the columns of the
    starting posteriors and may be fewer than the responses. The E- and M-steps are crowd-kit's.
    ``_evidence_lower_bound`` is corrected: crowd-kit 1.2–1.4 adds log P(Y) once per response
    instead of once per task, which is no bound at all when tasks carry many responses (it falls
    while EM improves the likelihood, and stops EM after two iterations on WRENCH data).
    """

    def _evidence_lower_bound(self, data: pd.DataFrame, probas: pd.DataFrame, priors: "pd.Series[Any]",
                              errors: pd.DataFrame) -> float:
        """E_q[log P(Y, responses)] + H(q), summed over tasks; q = ``probas`` (tasks × classes)."""
        joined = data.join(np.log(errors), on=["worker", "label"]).drop(columns=["worker", "label"])
        log_joint = joined.groupby("task", sort=False).sum() + np.log(priors.clip(lower=1e-300))
        q = probas.reindex(index=log_joint.index, columns=log_joint.columns)
        entropy = -(q * np.log(q.clip(lower=1e-300))).to_numpy().sum()
        return float((q * log_joint).to_numpy().sum() + entropy)

    def fit(self, data: pd.DataFrame, probas: pd.DataFrame) -> "_CrowdKitEM":  # type: ignore[override]
        """EM on ``data`` (task, worker, label) from ``probas`` (tasks × classes, rows sum to 1).

        Stops after ``n_iter`` iterations or when the bound per task improves by less than ``tol``.
        """
        priors = probas.mean()
        errors = self._m_step(data, probas)
        loss = -np.inf
        self.loss_history_ = []
        for _ in range(self.n_iter):
            probas = self._e_step(data, priors, errors)
            priors = probas.mean()
            errors = self._m_step(data, probas)
            new_loss = self._evidence_lower_bound(data, probas, priors, errors) / len(probas)
            self.loss_history_.append(new_loss)
            if new_loss - loss < self.tol:
                break
            loss = new_loss
        self.probas_, self.priors_, self.errors_ = probas, priors, errors
        return self


class DawidSkene(LabelModelBase):
    """Dawid–Skene label model with abstain as an observed response, fitted by EM (crowd-kit).

    Every source j has, for each class c, a distribution over its k + 1 responses (a vote for
    one of the k classes, or abstain). ``fit`` runs crowd-kit's E- and M-steps on the rows
    where at least one source votes, every source's abstain on such a row written as response
    k, starting from the majority-vote posterior (ties split evenly) over the classes that some
    source voted for. ``predict_proba`` applies the fitted parameters (one E-step) to any label
    matrix with the same sources:

        P(Y = c | responses) ∝ prior[c] · Π_{j votes l} (1 - abstain[j, c]) · confusion[j, l, c]
                                        · Π_{j abstains} abstain[j, c]

    * classes no source ever voted for in ``fit`` are not in the model (nothing could tell
      them apart from the others): they get probability 0 everywhere; every row still sums to 1.
    * a response that source j never gave during ``fit`` (a vote l, or an abstain of a source
      that voted on every row) has no estimated probability and is ignored.
    * rows where every source abstains carry no votes; they get the fitted class prior (the
      class distribution of the rows with votes). If ``fit`` saw no vote at all, the prior and
      every prediction are uniform.

    Args:
        n_classes: k, number of classes.
        n_iter: maximum number of EM iterations.
        tol: stop when the evidence lower bound per fitted row improves by less than this.
        tie_break: how :meth:`predict` labels a row whose top classes tie (within 1e-5): ``"first"`` (default, the
            lowest class index, as crowd-kit's ``labels_``, an ``idxmax``), ``"abstain"`` (-1) or ``"random"``
            (one of them, drawn with ``seed``).
        seed: seed of the ``"random"`` tie-break (EM itself is deterministic).

    Attributes (after ``fit``):
        class_prior_: shape (k,), estimated P(Y = c) on rows with at least one vote.
        confusion_: shape (m, k, k), ``confusion_[j, l, c]`` = P(source j votes l | Y = c,
            source j votes); 0 where source j never voted l, and in the columns of classes
            outside the model.
        abstain_: shape (m, k), ``abstain_[j, c]`` = P(source j abstains | Y = c) on rows with
            at least one vote; 0 in the columns of classes outside the model.
        seen_: shape (m, k), bool, whether source j voted l during ``fit``.
        abstained_: shape (m,), bool, whether source j abstained on a fitted row.
        n_sources_: m.
        aggregator_: the fitted crowd-kit ``DawidSkene`` (a subclass; its ``probas_`` are indexed
            by row of ``L`` and its responses are class indices, plus k for abstain).
    """

    def __init__(self, n_classes: int, n_iter: int = 100, tol: float = 1e-5, tie_break: str = "first",
                 seed: int = 0) -> None:
        self.n_classes = check_n_classes(n_classes)
        self.tie_break = check_tie_break(tie_break)
        self.seed = int(seed)
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "DawidSkene":
        """Fit on votes ``L`` of shape (n, m), int, -1 = abstain; ``X`` is ignored. Returns ``self``."""
        votes = check_votes(L, n_classes=self.n_classes)
        k, m = self.n_classes, votes.shape[1]
        prior = np.zeros(k)
        confusion = np.zeros((m, k, k))
        abstain = np.zeros((m, k))
        seen = np.zeros((m, k), dtype=bool)
        abstained = np.zeros(m, dtype=bool)
        aggregator = _CrowdKitEM(n_iter=self.n_iter, tol=self.tol)
        rows = np.flatnonzero((votes != ABSTAIN).any(axis=1))
        if rows.size == 0:
            prior[:] = 1.0 / k
        else:
            counts = vote_counts(votes[rows], k)
            classes = np.flatnonzero(counts.sum(axis=0))
            counts = counts[:, classes]
            start = (counts == counts.max(axis=1, keepdims=True)).astype(np.float64)
            start /= start.sum(axis=1, keepdims=True)
            data = to_long(votes[rows], abstain_label=k)
            data["task"] = rows[data["task"].to_numpy()]
            probas = pd.DataFrame(start, index=pd.Index(rows, name="task"),
                                  columns=pd.Index(classes, name="label"))
            with warnings.catch_warnings():  # crowd-kit uses pandas idioms pandas 3 deprecates
                warnings.filterwarnings("ignore", module=r"crowdkit(\.|$)")
                aggregator.fit(data, probas)
            prior[classes] = aggregator.priors_.loc[classes].to_numpy(dtype=np.float64)
            prior /= prior.sum()
            errors = aggregator.errors_
            workers = errors.index.get_level_values("worker").to_numpy(dtype=np.int64)
            responses = errors.index.get_level_values("label").to_numpy(dtype=np.int64)
            values = errors[classes].to_numpy(dtype=np.float64)  # P(response | class), (rows, classes)
            is_vote = responses < k
            confusion[workers[is_vote, None], responses[is_vote, None], classes[None, :]] = values[is_vote]
            abstain[workers[~is_vote, None], classes[None, :]] = values[~is_vote]
            voted = confusion.sum(axis=1, keepdims=True)  # P(source j votes | class)
            np.divide(confusion, voted, out=confusion, where=voted > 0)
            seen[workers[is_vote], responses[is_vote]] = True
            abstained[workers[~is_vote]] = True
        self.class_prior_ = prior
        self.confusion_ = confusion
        self.abstain_ = abstain
        self.seen_ = seen
        self.abstained_ = abstained
        self.n_sources_ = m
        self.aggregator_ = aggregator
        return self

    def predict_proba(self, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Class distributions P(Y | responses) under the fitted parameters.

        Args:
            L: shape (n, m), int, -1 = abstain; m must equal the fitted ``n_sources_``.
            X: ignored.

        Returns:
            shape (n, k), float64, rows sum to 1.
        """
        votes = self._check_fitted_votes(L, "confusion_")
        with np.errstate(divide="ignore"):  # -inf only in columns of classes outside the model
            log_prior = np.log(self.class_prior_)
            log_vote = np.log1p(-self.abstain_)[:, None, :] + np.log(self.confusion_)  # (m, k, k)
            log_abstain = np.log(self.abstain_)  # (m, k)
        scores = np.tile(log_prior, (votes.shape[0], 1))  # (n, k)
        for j in range(votes.shape[1]):
            col = votes[:, j]
            use = col != ABSTAIN
            use[use] = self.seen_[j, col[use]]
            scores[use] += log_vote[j, col[use]]
            if self.abstained_[j]:
                scores[col == ABSTAIN] += log_abstain[j]
        scores[(votes == ABSTAIN).all(axis=1)] = log_prior  # no vote: the model has nothing to go on
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

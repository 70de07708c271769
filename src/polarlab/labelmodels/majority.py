"""Majority vote: the simplest label model, plus the input checks every baseline shares."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

from .base import LabelModelBase, check_tie_break
from ..constants import ABSTAIN  # noqa: E402  (defined once)
from ..validation import check_votes  # noqa: E402  (votes are checked in one place)


def check_n_classes(n_classes: int) -> int:
    """Return ``n_classes`` as an int, or raise ``ConfigError`` when it is not an int >= 2."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ConfigError(f"n_classes must be an integer >= 2, got {n_classes!r}", column="n_classes",
                          fix="give the number of classes of the task (len(task.labels))")
    return int(n_classes)


def vote_counts(L: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-row count of votes for each class.

    Args:
        L: shape (n, m), int, -1 = abstain (already validated).
        n_classes: k.

    Returns:
        shape (n, k), int64; ``counts[i, c]`` = number of sources voting ``c`` on row ``i``.
    """
    n = L.shape[0]
    rows, cols = np.nonzero(L != ABSTAIN)
    flat = rows * n_classes + L[rows, cols]
    return np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)


TILT = 1e-6
"""Probability moved onto the randomly chosen winner of a tie, so that argmax follows the tie-break."""


class MajorityVote(LabelModelBase):
    """Majority vote over the non-abstaining sources, with a tie-break policy.

    Each row's distribution puts (almost) equal mass on the classes that received the most votes:
    a clear winner gets probability 1, a tie between t classes about 1/t each, and a row on which
    every source abstains is a tie of all k classes.

    Ties (``tie_break``):

    * ``"random"`` (default, as WRENCH and Snorkel's ``tie_break_policy="random"``): one of the tied
      classes, drawn with ``seed`` (the same draw every run), wins; :meth:`predict_proba` moves
      ``TILT`` (1e-6) of probability onto it so that its argmax is that class.
    * ``"abstain"``: :meth:`predict` gives -1 on ties; :meth:`predict_proba` splits the mass exactly.
    * ``"first"``: the lowest class index wins (the argmax of exact soft ties; polarlab before 0.x).

    :meth:`predict` and :meth:`score` are :class:`~polarlab.labelmodels.base.LabelModelBase`'s (its ``"random"``
    draw is the one the tilt follows, so its labels are the argmax of :meth:`predict_proba`).

    Fitting learns nothing; ``fit`` only validates ``L`` and records ``n_sources_``.

    Args:
        n_classes: k, number of classes.
        tie_break: ``"random"``, ``"abstain"`` or ``"first"``.
        seed: seed of the random tie-break.
    """

    def __init__(self, n_classes: int, tie_break: str = "random", seed: int = 0) -> None:
        self.n_classes = check_n_classes(n_classes)
        self.tie_break = check_tie_break(tie_break)
        self.seed = int(seed)

    def fit(self, L: np.ndarray, X: np.ndarray | None = None) -> "MajorityVote":
        """Validate ``L`` (shape (n, m)); ``X`` is ignored. Returns ``self``."""
        self.n_sources_ = check_votes(L, n_classes=self.n_classes).shape[1]
        return self

    def _winners(self, L: np.ndarray) -> np.ndarray:
        counts = vote_counts(check_votes(L, n_classes=self.n_classes), self.n_classes)
        return (counts == counts.max(axis=1, keepdims=True)).astype(np.float64)

    def predict_proba(self, L: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Class distributions.

        Args:
            L: shape (n, m), int, -1 = abstain.
            X: ignored.

        Returns:
            shape (n, k), float64, rows sum to 1.
        """
        winners = self._winners(L)
        P = winners / winners.sum(axis=1, keepdims=True)
        if self.tie_break == "random":
            draw = np.random.default_rng(self.seed).random(winners.shape)
            choice = np.argmax(np.where(winners > 0, draw, -1.0), axis=1)
            tied = np.flatnonzero(winners.sum(axis=1) > 1)
            P[tied] *= 1.0 - TILT
            P[tied, choice[tied]] += TILT
        return P

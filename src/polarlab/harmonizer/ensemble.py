"""The seed ensemble of the harmonizer (``n_seeds``) and its one vote-shift decision.

:class:`EnsembleMixin` is the part of :class:`polarlab.harmonizer.polar.PolarHarmonizer` that fits the other seeds'
members (``seed_members_``), averages their distributions and decides once, by the majority of the members that read
the votes, whether a set of rows' votes shifted (:meth:`EnsembleMixin.vote_shift`). :class:`VotesDecided` makes that
decision once for a whole split, so that its row blocks or partitions all get it.
"""
from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import NotFittedError
from .combine import H_ONLY
from .diagnostics import SupervisionWarning, warn
from .params import SEED_STRIDE
from .shift import VoteShift

if TYPE_CHECKING:
    from .polar import PolarHarmonizer


class EnsembleMixin:
    """The seed ensemble (mixed into :class:`~polarlab.harmonizer.polar.PolarHarmonizer`)."""

    def _fit_seed_members(self, L: np.ndarray, X: np.ndarray, **held_out) -> None:
        """``seed_members_``: ``n_seeds - 1`` copies fitted on the same rows (``L`` (n, m), ``X`` (n, d), the same
        held-out arguments) with seeds ``seed+S, seed+2S, ...`` (S = :data:`SEED_STRIDE`). Their warnings are kept
        in ``warnings_`` and emitted once, by this fit, when they differ from its own."""
        self.seed_members_: list[PolarHarmonizer] = []
        for i in range(1, self.n_seeds):
            twin = copy.copy(self)
            twin.seed, twin.n_seeds, twin.seed_members_ = self.seed + i * SEED_STRIDE, 1, []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SupervisionWarning)
                twin.fit(L, X, **held_out)
            for msg in twin.warnings_:
                if msg not in self.warnings_:
                    warn(msg, self.warnings_)
            self.seed_members_.append(twin)

    @property
    def reads_votes(self) -> bool:
        """Whether the fitted harmonizer's final distribution reads the votes: True when this fit or a member of its
        seed ensemble combines them (``combine_`` is not ``"h"``); False when h(x) alone labels the rows (then
        ``L`` is ignored and :meth:`vote_shift` has nothing to check) and before ``fit``."""
        return bool(self._combining_members())

    def _combining_members(self) -> list["PolarHarmonizer"]:
        """The members of the seed ensemble (this fit first) whose final distribution reads the votes."""
        return [m for m in (self, *getattr(self, "seed_members_", []))
                if getattr(m, "combiner_", None) is not None and m.combine_ != H_ONLY]

    def _ensemble_proba(self, L: np.ndarray | None, X: np.ndarray, exclude: Sequence[int],
                        use_votes: bool | None) -> np.ndarray:
        """:meth:`predict_proba` of a seed ensemble, on rows it checked: the mean of the members' distributions (this
        fit's and ``seed_members_``'), the vote-shift check made once for all of them (:meth:`_majority_shift`)."""
        members = self.seed_members_
        combining = self._combining_members()
        priors: dict[int, np.ndarray] = {}       # each member's prior, computed once for the check and its output
        if use_votes is None and L is not None and combining:
            priors = {id(m): m._prior_proba(X) for m in combining}
            shift = self._majority_shift(combining, L, [priors[id(m)] for m in combining])
            use_votes = not shift.shifted
            if not use_votes:
                self._warn_shift(shift, len(L))
        return np.mean([m._member_proba(L, X, exclude, False if m.labels_from_ == "features" else use_votes,
                                        prior=priors.get(id(m))) for m in (self, *members)], axis=0)

    def vote_shift(self, L: np.ndarray, X: np.ndarray) -> VoteShift:
        """Do the votes ``L`` (n, m) of the rows ``X`` (n, d) behave like the fit rows' votes?
        (:mod:`polarlab.harmonizer.shift`; ``predict_proba`` with ``use_votes=None`` makes this check.) A seed
        ensemble decides by the majority of its members that read the votes (a tie: shifted); the result is the
        check of the first member on the majority's side."""
        members = self._combining_members()
        if not members:
            raise NotFittedError("the harmonizer has no combined output", fix="fit it with combine != 'h'")
        X, L = self._checked_rows(L, X)
        return self._majority_shift(members, L, [m._prior_proba(X) for m in members])

    @staticmethod
    def _majority_shift(members: Sequence["PolarHarmonizer"], L: np.ndarray,
                        priors: Sequence[np.ndarray]) -> VoteShift:
        """:meth:`vote_shift` of the checked votes ``L`` (n, m) for ``members`` (those that read the votes), each
        with its prior's distributions (n, k) of the rows, ``priors`` (in the same order)."""
        checks = [m._vote_shift(m._combination_votes(L), p) for m, p in zip(members, priors)]
        shifted = 2 * sum(c.shifted for c in checks) >= len(checks)
        return next(c for c in checks if c.shifted == shifted)


class VotesDecided:
    """A fitted harmonizer whose vote-shift check (``predict_proba(use_votes=None)``) was made once, on a whole
    split, so that predicting that split in row blocks or partitions gives every block the same decision.
    ``shift``: the check's :class:`VoteShift` (None when the harmonizer does not read the votes)."""

    def __init__(self, model: PolarHarmonizer, use_votes: bool | None, shift: VoteShift | None = None) -> None:
        self.model = model
        self.use_votes = use_votes
        self.shift = shift

    @classmethod
    def for_split(cls, model: PolarHarmonizer, L: np.ndarray, X: np.ndarray) -> "VotesDecided":
        """Check ``L`` (n, m) / ``X`` (n, d) once (a warning when the votes shifted)."""
        if not model._combining_members() or L is None or not len(L):
            return cls(model, None)
        if all(getattr(m, "labels_from_", "votes") == "features" for m in model._combining_members()):
            return cls(model, False)    # every member chose the features at fit: no check (as predict_proba does)
        shift = model.vote_shift(L, X)
        if shift.shifted:
            model._warn_shift(shift, len(L))
        return cls(model, not shift.shifted, shift)

    def predict_proba(self, L: np.ndarray | None = None, X: np.ndarray | None = None, **kwargs) -> np.ndarray:
        return self.model.predict_proba(L, X, use_votes=self.use_votes, **kwargs)

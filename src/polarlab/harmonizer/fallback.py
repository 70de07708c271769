"""The vote-shift check and the features-only fallback classifier of the harmonizer.

:class:`FallbackMixin` is the part of :class:`polarlab.harmonizer.polar.PolarHarmonizer` that keeps, at fit, how often
each pool of sources agrees with the cross-fitted prior (the reference of :mod:`polarlab.harmonizer.shift`) and
trains the two-stage classifier (:class:`polarlab.harmonizer.stage2.FeatureClassifier`) that labels rows from their
features alone when their votes do not behave like the fit rows'; it also chooses its temperature and, with
``labels_from="auto"``, whether the final labels read the votes or the features
(:mod:`polarlab.harmonizer.labels_from`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from .combine import H_ONLY, _softmax
from .combiners import Combiner
from .diagnostics import warn
from .labels_from import votes_or_features
from .shift import VoteShift, compare as compare_shift, vote_agreement
from .stage2 import FeatureClassifier, cross_fitted_proba, fit_temperature


class FallbackMixin:
    """The vote-shift check and the fallback (mixed into :class:`~polarlab.harmonizer.polar.PolarHarmonizer`)."""

    def _fit_vote_shift(self, X: np.ndarray, L: np.ndarray, log_h: np.ndarray, comb: Combiner) -> None:
        """The vote-shift check's reference and fallback (:mod:`polarlab.harmonizer.shift`): ``fit_vote_agreement_``,
        how often a fit row's vote agrees with the cross-fitted prior ``log_h`` (n, k), per pool of sources
        (:meth:`_shift_pools`), and ``fallback_model_`` / ``fallback_temperature_``, the features-only two-stage
        classifier (trained on the combined labels of the covered fit rows) that labels rows whose votes do not
        behave like these."""
        self.fit_vote_agreement_ = [vote_agreement(L[:, cols], log_h.argmax(axis=1)) for cols in self._shift_pools()]
        # (trained on the combined distributions, not their argmax, and standardised on every fit row, as the
        # two-stage baseline's end model: see :mod:`polarlab.harmonizer.stage2`). The distributions are taken at
        # T = 1: the temperature is chosen for a distribution with one source left out (the risk), while these
        # read every source; at T = 4 on a 400-row sms subset with the LLM the soft labels were so flat that the
        # classifier's LLM-risk ECE was 0.155 (T = 1: 0.087; compared on test gold, reported in docs/results/label_quality.md)
        q = _softmax(comb.scores(L, log_h))
        final = q.argmax(axis=1)
        final[~(L >= 0).any(axis=1)] = -1
        if (final >= 0).any():
            self.fallback_model_ = FeatureClassifier(self.n_classes).fit(final, X, scale_all_rows=True, soft=q)
            self.fallback_temperature_ = self._fallback_temperature(X, L, log_h, comb, final, q,
                                                                    self._heard_tuned_sources())

    def _fallback_temperature(self, X: np.ndarray, L: np.ndarray, log_h: np.ndarray, comb: Combiner,
                              final: np.ndarray, q: np.ndarray, tuned: Sequence[int]) -> float:
        """The temperature of the fallback classifier's distributions (:func:`polarlab.harmonizer.stage2.sharpen`;
        never changes a label): the T under which the classifier, cross-fitted on the fit rows, best predicts
        (cross-entropy) the combined distribution without the ``tuned`` sources (the LLM, whose answers the risk
        scores), on the rows some other source voted on. Trained on soft labels, the classifier inherits their
        softness, and on rows only the LLM voted on its labels are the prior's and the LLM's own guesses; the rows the
        rules voted on say how sure it may be. On a 400-row WRENCH sms subset with the LLM (test votes shifted, risk
        from this classifier) T = 0.79 took the LLM-risk ECE from 0.092 to 0.062 and R² from 0.925 to 0.964, AUROC
        0.988 both, labels unchanged (compared on test gold); chosen on every covered row against the combined
        distribution with the LLM, T = 1.00. On synthetic data (random rule firing, an LLM right on 70 %) it lowered
        the risk ECE when the features were strong and raised it by up to 0.007 when they were weak."""
        rows = (np.delete(L, list(tuned), axis=1) >= 0).any(axis=1) if tuned else final >= 0
        if not rows.any():
            return 1.0
        target = _softmax(comb.scores(L, log_h, exclude=list(tuned)))
        P = cross_fitted_proba(self.n_classes, final, X, q, self.combine_folds, self.seed + 7919,
                               C=self.fallback_model_.chosen_C_)
        return fit_temperature(P[rows], target[rows])

    def _choose_labels_from(self, X: np.ndarray, L: np.ndarray, held: list[tuple[np.ndarray, np.ndarray]],
                            held_fits: list[Combiner], comb: Combiner) -> None:
        """Votes or features (``labels_from``): with ``"auto"`` and the held-out priors ``held`` of an ``"auto"``
        selection, the features-only classifier is kept when its held-out agreement beats the chosen candidate's
        (:func:`polarlab.harmonizer.labels_from.votes_or_features`, reusing the chosen candidate as the selection
        fitted it for each group, ``held_fits``; its row added to ``combine_table_``).
        ``X`` (n, d), ``L`` (n, m): the fit rows as the combination reads them. Sets ``labels_from_``."""
        if self.fallback_model_ is None or self.labels_from == "votes" or comb.describe() == H_ONLY:
            return          # (h alone chosen among the candidates reads no votes: predict_proba gives h(x) either way)
        if self.labels_from == "features":
            self.labels_from_ = "features"
            return
        if not held:
            return
        votes, features = votes_or_features(L, X, held, comb.describe(), self.n_classes,
                                            C=self.fallback_model_.chosen_C_, folds=self.combine_folds,
                                            seed=self.seed, fitted=held_fits, tuned=comb.tuned)
        # its SE: of the difference between the two forms (the same whichever is better)
        self.combine_table_ = [*self.combine_table_, replace(features, se=max(votes.se, features.se))]
        if features.agreement > votes.agreement:
            self.labels_from_ = "features"

    def _shift_pools(self) -> list[list[int]]:
        """The pools of sources the vote-shift check compares separately: the tuned sources (the LLM, which votes on
        nearly every row) and the others. Pooled together, a well-behaved LLM's many votes hid the shift of WRENCH
        sms's rules on a 400-row subset (agreement 0.799 → 0.729, z 2.9: not flagged; the rules alone: flagged)."""
        silenced = set(getattr(self, "silenced_sources_", []))
        tuned = [j for j in (self.tune_sources or []) if j not in silenced]
        rest = [j for j in range(self.n_sources_) if j not in tuned and j not in silenced]
        return [cols for cols in (rest, tuned) if cols]

    def _vote_shift(self, L: np.ndarray, prior: np.ndarray) -> VoteShift:
        """The check of each pool of sources (:meth:`_shift_pools`) on the combination's votes ``L``: the first pool
        that shifted, else the first pool's (the rules') result."""
        labels = prior.argmax(axis=1)
        one_label = len(labels) > 1 and np.unique(labels).size == 1     # the classifier does not tell them apart
        if one_label and self._pool_checks(L, labels).shifted:     # a shift, had its one label been a judgement
            self._warn_one_label(len(labels))
        return self._pool_checks(L, labels, one_label)

    def _pool_checks(self, L: np.ndarray, labels: np.ndarray, one_label: bool = False) -> VoteShift:
        """The first pool whose votes ``L`` shifted against the classifier's ``labels`` (n,), else the first pool's."""
        fit = getattr(self, "fit_vote_agreement_", [])
        if isinstance(fit, tuple):                      # a harmonizer fitted before the pools
            fit = [fit]
        pools = self._shift_pools() if len(fit) > 1 else [list(range(L.shape[1]))]
        checks = [compare_shift(*f, *vote_agreement(L[:, cols], labels), one_label=one_label)
                  for f, cols in zip(fit, pools)]
        if not checks:
            return compare_shift(0, 0, *vote_agreement(L, labels), one_label=one_label)
        return next((c for c in checks if c.shifted), checks[0])

    def _warn_one_label(self, n: int) -> None:
        msg = (f"the features-only classifier gives all {n} of these rows the same label, so whether their votes "
               "behave like the fit rows' cannot be checked (their features may not carry over: e.g. TF-IDF words "
               "the fit rows never had, or too few fit rows); their votes are used")
        warn(msg, None if msg in self.warnings_ else self.warnings_)

    def _warn_shift(self, shift: VoteShift, n: int) -> None:
        msg = (f"the votes of these {n} rows agree with the features-only classifier on {shift.agreement:.3f} of "
               f"{shift.votes} votes, against {shift.fit_agreement:.3f} on the fit rows (z = {shift.z:.1f}): the "
               "sources do not behave as they did on the fit rows, so these rows are labelled from their features "
               "alone (the two-stage classifier); check that the votes were computed by the same sources on the "
               "same kind of data")
        warn(msg, None if msg in self.warnings_ else self.warnings_)

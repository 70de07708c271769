"""The harmonizer's final distribution: choosing and fitting a candidate around h(x) (``combine``).

:class:`CombinationMixin` is the part of :class:`polarlab.harmonizer.polar.PolarHarmonizer` that, once h is trained,
cross-fits h as the per-row prior, chooses a candidate of :mod:`polarlab.harmonizer.combiners` (the ``combine`` spec,
or ``"auto"``: by held-out agreement, :mod:`polarlab.harmonizer.select`), refits the prior to the candidate's labels
(the second stage, ``refit_prior``) and chooses the temperature and risk scales. The last steps of
:meth:`CombinationMixin._fit_combination`, the vote-shift reference, the features-only fallback and the
votes-or-features choice (``labels_from``), are :mod:`polarlab.harmonizer.fallback`'s.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .combine import H_ONLY
from .combiners import (FALLBACK_CANDIDATE, Combiner, choose_risk_scales, choose_risk_temperature,
                        choose_temperature, make_combiner)
from .one_class import one_class_combiner
from .groups import make_groups
from .select import CandidateScore, select_by_agreement
from .stage2 import FeatureClassifier

if TYPE_CHECKING:
    from .polar import PolarHarmonizer


class CombinationMixin:
    """The combined output (mixed into :class:`~polarlab.harmonizer.polar.PolarHarmonizer`)."""

    def _fit_combination(self, X: np.ndarray, L: np.ndarray) -> None:
        """Choose and fit the final distribution (see ``combine``); h itself is already fitted.

        ``"auto"``: every candidate of ``combine_candidates`` (:mod:`polarlab.harmonizer.combiners`) is fitted
        on the fit rows with the cross-fitted h as prior and scored by its held-out agreement with each group
        of sources left out (votes and prior, :mod:`polarlab.harmonizer.select`); the best one is kept. Then the
        temperature of its distribution is chosen (never changes a label).

        The steps, in order (``X``: the fit rows' features (n, d); ``L``: their votes (n, m)): reset the combination
        attributes (:meth:`_reset_combination`); the cross-fitted log h(x) (n, k) as prior; the candidate
        (:meth:`_choose_combiner`); the second stage (:meth:`_second_stage`); the temperature and risk scales
        (:meth:`_choose_temperatures`); the vote-shift reference and fallback classifier (:meth:`_fit_vote_shift`);
        votes or features (:meth:`_choose_labels_from`).
        Sets ``combine_``, ``combiner_``, ``combine_table_``, ``prior_model_``, ``fit_log_prior_``,
        ``silenced_sources_``, ``fit_vote_agreement_``, ``fallback_model_``, ``fallback_temperature_``,
        ``labels_from_``.
        """
        self._reset_combination()
        if self.combine == H_ONLY:
            return
        answers, L = L, self._combination_votes(L)
        if min(self.combine_folds, L.shape[0]) < 2:
            return
        log_h = self._cross_fit(X, L, self.weights_)
        comb, held, held_fits = self._choose_combiner(X, L, log_h)
        comb, log_h = self._second_stage(X, L, comb, log_h)
        self.fit_log_prior_ = log_h
        self._choose_temperatures(comb, L, log_h, answers)
        self.combiner_ = comb
        self.combine_ = comb.describe()
        self._fit_vote_shift(X, L, log_h, comb)
        self._choose_labels_from(X, L, held, held_fits, comb)

    def _reset_combination(self) -> None:
        """The combination attributes before any choice (h alone, no fallback); ``silenced_sources_``: the tuned
        sources whose chosen weight is 0."""
        self.combine_table_: list[CandidateScore] = []
        self.combiner_: Combiner | None = None
        self.prior_model_: PolarHarmonizer | None = None
        self.fallback_model_: FeatureClassifier | None = None
        self.fallback_temperature_ = 1.0
        self.labels_from_ = "votes"
        self.fit_vote_agreement_: list[tuple[int, int]] = []
        self.combine_ = H_ONLY
        # a tuned source (the LLM) whose gold-free weight is 0 adds nothing to h; it takes no part in the combined
        # output either (its answers are still scored by the risk). Without this, ``mv`` counted its every vote
        # as one full vote: on a 400-row chemprot subset (LLM right on 9 % of rows, tuned ×0) POLAR fell from
        # 0.555 (rules only) to 0.478 with the LLM
        self.silenced_sources_ = [j for j in (self.tune_sources or []) if self.tuned_multiplier_ == 0.0]

    def _combination_votes(self, L: np.ndarray) -> np.ndarray:
        """``L`` with the silenced sources' votes (tuned weight 0) set to abstain: the votes the combination reads."""
        silenced = getattr(self, "silenced_sources_", [])
        if not silenced:
            return L
        L = L.copy()
        L[:, silenced] = -1
        return L

    def _choose_combiner(self, X: np.ndarray, L: np.ndarray,
                         log_h: np.ndarray) -> tuple[Combiner, list[tuple[np.ndarray, np.ndarray]], list[Combiner]]:
        """The candidate fitted to the votes ``L`` (n, m) with the prior ``log_h`` (n, k): the ``combine`` spec
        when it names one, else (``"auto"``) the one the sources' held-out agreement chooses
        (:meth:`_select_combiner`), or with votes for one class only :meth:`_one_class_combiner`; the held-out
        priors of that selection (per source group: its columns, log h cross-fitted without them; [] if none) and
        the chosen candidate as fitted for each of those groups ([] if none)."""
        if self.combine != "auto":
            spec = self.combine if isinstance(self.combine, str) else f"ds:{float(self.combine):g}"
            return make_combiner(spec, self.n_classes, self._tuned()).fit(L, log_h), [], []
        if len(np.unique(L[L >= 0])) < 2:
            return self._one_class_combiner(L, log_h), [], []
        return self._select_combiner(X, L, log_h)

    def _one_class_combiner(self, L: np.ndarray, log_h: np.ndarray) -> Combiner:
        """The sources vote for one class only: :func:`polarlab.harmonizer.one_class.one_class_combiner` (h(x)
        breaking the silences when it tells the covered rows from the rest, else the silences read as the other
        classes)."""
        return one_class_combiner(L, log_h, self.n_classes, self._tuned())

    def _select_combiner(self, X: np.ndarray, L: np.ndarray,
                         log_h: np.ndarray) -> tuple[Combiner, list[tuple[np.ndarray, np.ndarray]], list[Combiner]]:
        """``"auto"``: the candidate of ``combine_candidates`` chosen by held-out agreement with each group of sources
        (``combine_groups_by``, :mod:`polarlab.harmonizer.groups`) left out in turn (:func:`polarlab.harmonizer.select.select_by_agreement`; sets ``combine_table_``), or
        ``FALLBACK_CANDIDATE`` when no group can be left out (a single source, or one group votes alone)."""
        held = []
        m = L.shape[1]
        active = np.array([j for j in range(m) if j not in self.silenced_sources_], dtype=np.int64)
        groups = make_groups(self.combine_groups_by, L[:, active], self.combine_groups, self.seed, self.n_classes)
        for group in groups:                                                        # silenced sources: in none
            cols = active[group]
            Lg = L.copy()
            Lg[:, cols] = -1
            if (Lg >= 0).any() and (L[:, cols] >= 0).any():
                held.append((cols, self._cross_fit(X, Lg, self.weights_)))
        if not held:
            return make_combiner(FALLBACK_CANDIDATE, self.n_classes, self._tuned()).fit(L, log_h), [], []
        # the one-SE rule falls back on the first (simplest) candidate, a safe default with rules: with a
        # tuned source that is heard (the LLM, voting on every row at its gold-free weight), ``mv`` counts
        # its every vote as a full one whatever the tuning said, so no candidate is a safe default and the
        # best score is kept (WRENCH sms, 400-row subset with the LLM: the rule took ds:3 → mv, test F1
        # 0.855 → 0.605, compared on test gold; mv's SE there 0.099)
        tuned_heard = self._heard_tuned_sources()
        comb, self.combine_table_, held_fits = select_by_agreement(
            L, log_h, held, self.n_classes, self.combine_candidates, n_se=0.0 if tuned_heard else self.combine_se,
            seed=self.seed, tuned=self._tuned())
        return comb, held, held_fits

    def _tuned(self) -> tuple[int, ...]:
        """The tuned sources' columns (the LLM), for the candidates that treat them apart (``mvh``)."""
        return tuple(self.tune_sources or ())

    def _second_stage(self, X: np.ndarray, L: np.ndarray, comb: Combiner,
                      log_h: np.ndarray) -> tuple[Combiner, np.ndarray]:
        """``refit_prior``: h refitted to the combined labels (the "label model -> classifier" pipeline), then the
        same candidate refitted around it; h's own votes-skew (sources that vote one class far more often) is
        corrected by labels that already weigh every source. Sets ``prior_model_``.

        Returns:
            ``(comb, log_h)``: the refitted candidate and the second stage's cross-fitted log prior (n, k); the
            arguments unchanged without a second stage (``refit_prior`` off, or the labels hold one class).
        """
        labels = comb.posterior(L, log_h).argmax(axis=1)[:, None]
        if self.refit_rows == "covered":
            # the classifier learns from the rows some source voted on, as in the two-stage pipeline; the
            # other rows' labels are the first prior's own guesses, and training on them feeds its biases back
            labels[~(L >= 0).any(axis=1)] = -1
        if not (self.refit_prior and len(np.unique(labels[labels >= 0])) >= 2):
            return comb, log_h
        if self.stage2 == "lr":
            y = labels[:, 0]
            log_h = self._cross_fit_stage2(X, y)
            self.prior_model_ = FeatureClassifier(self.n_classes).fit(y, X)
        else:
            log_h = self._cross_fit(X, labels, np.ones(1))
            self.prior_model_ = self.fold_copy(np.ones(1), seed=self.seed).fit(labels, X)
        return make_combiner(comb.describe(), self.n_classes, comb.tuned).fit(L, log_h), log_h

    def _choose_temperatures(self, comb: Combiner, L: np.ndarray, log_h: np.ndarray, answers: np.ndarray) -> None:
        """Choose ``comb``'s temperature T and, with tuned sources, its risk scales (in place; labels unchanged).
        ``L``: the combination's votes (n, m); ``answers``: the votes before silencing (the tuned sources' answers
        are scored by the risk even when silenced)."""
        # T: by how well the distribution without the tuned source (the LLM) predicts its answers; when its weight is 0
        # (silenced) the combination never reads it, so T is chosen as without an LLM: every source left out in turn
        # (on a 400-row chemprot subset both give T = 1)
        comb.risk_scales_ = None
        heard = self._heard_tuned_sources()
        choose_temperature(comb, L, log_h, sources=heard or None, answers=answers if heard else None)
        # a silenced tuned source's answers are still scored by the risk, and how sure the distribution without it
        # should be is a question about *its* answers: a risk temperature by the same criterion on them (labels keep T)
        silenced = [j for j in (self.tune_sources or []) if j not in heard]
        if silenced:
            choose_risk_temperature(comb, L, log_h, sources=silenced, answers=answers)
        # the LLM's risk (a leave-out distribution) may need the prior weighed against the votes differently from one
        # T: two scales by the same criterion on its answers (silenced or not: they are still scored), kept only when
        # they predict them significantly better (labels keep T). Without a tuned source (rules only) T serves
        if self.tune_sources:
            choose_risk_scales(comb, L, log_h, sources=list(self.tune_sources), answers=answers)

    def _cross_fit(self, X: np.ndarray, L: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """log of h(x) for every row, each scored by an h fitted on the other folds; shape (n, k)."""
        n = X.shape[0]
        out = np.empty((n, self.n_classes))
        order = np.random.default_rng(self.seed + 7919).permutation(n)
        for f, held in enumerate(np.array_split(order, min(self.combine_folds, n))):
            train = np.setdiff1d(np.arange(n), held)
            twin = self.fold_copy(weights, seed=self.seed + f)
            out[held] = np.log(np.clip(twin.fit(L[train], X[train])._proba(X[held]), 1e-6, 1.0))
        return out

    def _cross_fit_stage2(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log of the second-stage classifier for every row, each scored by one fitted on the other folds."""
        n = X.shape[0]
        out = np.empty((n, self.n_classes))
        order = np.random.default_rng(self.seed + 7919).permutation(n)
        for held in np.array_split(order, min(self.combine_folds, n)):
            train = np.setdiff1d(np.arange(n), held)
            out[held] = np.log(np.clip(FeatureClassifier(self.n_classes).fit(y[train], X[train]).proba(X[held]),
                                       1e-6, 1.0))
        return out

    def prior_proba(self, X: np.ndarray) -> np.ndarray:
        """The prior of the combined output at prediction time, shape (n, k), rows sum to 1: the second-stage
        classifier ``prior_model_`` when the fit made one (``refit_prior``), else h(x).

        Args:
            X: the rows' features, shape (n, d), checked as :meth:`predict_proba` checks them.

        With ``n_seeds`` > 1 this is this fit's own prior (each of ``seed_members_`` has its own; :meth:`predict_h`
        averages the members' h instead).
        """
        X, _ = self._checked_rows(None, X)
        return self._prior_proba(X)

    def _prior_proba(self, X: np.ndarray) -> np.ndarray:
        """:meth:`prior_proba` of rows already checked (``X`` (n, d) float32)."""
        pm = getattr(self, "prior_model_", None)
        if pm is None:
            return self._proba(X)
        return pm.proba(X) if isinstance(pm, FeatureClassifier) else pm._proba(X)

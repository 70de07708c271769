"""Self-paced review rounds (active self-paced learning, Lin et al. 2017, with POLAR risk).

Each round: items whose risk is under the round's threshold are accepted automatically (the
threshold relaxes round by round, :class:`ThresholdSchedule`; with ``accepted="source"``, the default, they keep
that label from then on, as a pseudo-label source of the refits); the top of the queue
(:func:`review_order`) goes to a person in a batch, with a few random audits of the rest
(for :func:`estimate_accuracy`); the person's answers become one more source ("human") with
the top weight; the POLAR harmonizer is fitted again through its public API (the rules' weights
re-estimated on the answers, :func:`answer_weights`), the risks are recomputed and the queue re-ordered
(by the risk recalibrated per label on the answers, :func:`polar_priority`). Audited items are kept out of the fit so that they stay an
unbiased check of the machine labels; their answers still become their final labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..validation import check_votes
from ..harmonizer import PolarHarmonizer
from .estimate import DEFAULT_ESTIMATOR, AccuracyEstimate, StoppingRule, check_estimator, estimate_accuracy
from .robust_prior import check_robust_weight
from .queue import (class_recalibrated_risk, draw_probability, label_risk, review_order, source_disagreement,
                    stratified_sample)
from .schedule import ThresholdSchedule

HUMAN = "human"


def with_human_weight(weights: np.ndarray, human_weight: float = 10.0) -> np.ndarray:
    """The m source weights plus one for the human source: ``human_weight`` × the largest; (m + 1,)."""
    weights = np.asarray(weights, dtype=np.float64)
    return np.append(weights, human_weight * float(weights.max()))


def answer_weights(weights: np.ndarray, L: np.ndarray, answers: np.ndarray, n_classes: int,
                   prior_accuracy: float = 0.7, pseudo: float = 30.0) -> np.ndarray:
    """The sources' weights re-estimated on the answers so far: ``w_j × max(lo(acc_j) / lo(prior), 0)``.

    ``acc_j = (right_j + pseudo · prior) / (fired_j + pseudo)`` is source j's accuracy on the answered rows
    it voted on, shrunk towards ``prior_accuracy``; ``lo(a) = log(a (k - 1) / (1 - a))`` is its log-odds
    weight in a weighted vote (0 at chance, 1/k). A rule that answers keep proving wrong loses its weight.
    The answered rows are the risky ones, where every source is wrong more often than on average, so
    the estimate is pessimistic (measured on WRENCH trec: the rule that votes class 0 on 3084 rows,
    right on 23 % of them, was right on 9 % of the reviewed rows; youtube's most frequent rule, right on 57 %
    of its rows, on 18 % of the reviewed ones); hence the strong shrinkage (``pseudo`` = 30: with 10 the
    youtube and sms curves got worse, README's review section).

    Args:
        weights: (m,) the first fit's weights.  L: (n, m) votes.  answers: (n,) -1 where not answered.
        n_classes: k.

    Returns:
        (m,) weights (``weights`` itself when every source would get 0).
    """
    weights = np.asarray(weights, dtype=np.float64)
    rows = np.asarray(answers) >= 0
    if not rows.any():
        return weights
    Lr, y = np.asarray(L)[rows], np.asarray(answers)[rows]
    fired = Lr >= 0
    acc = (((Lr == y[:, None]) & fired).sum(axis=0) + pseudo * prior_accuracy) / (fired.sum(axis=0) + pseudo)

    def lo(a: np.ndarray | float) -> np.ndarray:
        a = np.clip(a, 1e-3, 1 - 1e-3)
        return np.log(a * (n_classes - 1) / (1 - a))

    new = weights * np.clip(lo(acc) / lo(prior_accuracy), 0.0, None)
    return new if new.max() > 0 else weights


def polar_priority(review: "SelfPacedReview") -> np.ndarray:
    """POLAR risk of the current label, recalibrated per label on the answers so far (risk-ordered reviews and
    audits alike, with the label and risk they had when answered; :func:`~polarlab.review.queue.class_recalibrated_risk`)."""
    rev = review.reviewed_ & np.isfinite(review.review_risk_)
    return class_recalibrated_risk(review.risk_, review.machine_labels(), review.review_risk_[rev],
                                   review.review_label_[rev], review.review_label_[rev] != review.human_[rev],
                                   review.n_classes)


def plain_risk(review: "SelfPacedReview") -> np.ndarray:
    """POLAR risk of the current label as it is (the order before the per-label recalibration)."""
    return review.risk_


PRIORITIES: dict[str, Callable[["SelfPacedReview"], np.ndarray]] = {"polar": polar_priority, "risk": plain_risk}
ACCEPTED = ("free", "lock", "source")
# the default of SelfPacedReview, ReviewConfig and `polarlab review --accepted` (before 2026-12-03: "free")
DEFAULT_ACCEPTED = "source"
AUDIT_POOLS = ("open", "accepted")


@dataclass
class RoundRecord:
    """What one round did."""

    round: int
    threshold: float
    accepted: int
    reviewed: int
    audited: int
    remaining: int
    estimate: dict[str, Any]
    estimate_all: dict[str, Any]


@dataclass
class Batch:
    """Items to show a person: ``rows`` risk-ordered first, then ``audit`` (random, stratified)."""

    rows: np.ndarray
    audit: np.ndarray


class SelfPacedReview:
    """The review loop over one set of items (scikit-learn style: parameters in ``__init__``).

    Args:
        n_classes: k.
        schedule: acceptance thresholds per round.
        batch_size: risk-ordered reviews per round.
        audit_size: random audits per round (stratified by risk over the unreviewed items).
        human_weight: weight of the human source, as a multiple of the largest other weight.
        harmonizer: keyword options of :class:`PolarHarmonizer` (first fit; refits reuse the weights
            it chose, LLM multiplier included). ``combine`` defaults to ``"h"``: the labels are h(x) alone.
            With ``"auto"`` they are the harmonizer's combined output on the votes (human column included),
            chosen again without gold at every refit (:mod:`polarlab.harmonizer.select`); measured in the
            README's review section (not better for the order, and the accuracy estimate lost its coverage on
            chemprot), hence not the default.
        order: ``"polar"`` (the risk recalibrated per label on the answers so far, :func:`polar_priority`; ties
            by disagreement), ``"risk"`` (the plain risk, ties by disagreement) or a callable
            ``(review) -> (n,) scores``, highest reviewed first (for comparing orders).
        stopping: target accuracy and budget.
        reweight_sources: at each refit, re-estimate the sources' weights on the answers
            (:func:`answer_weights`); measured (README's review section): WRENCH trec 0.58 -> 0.78 at 5 %
            reviewed, youtube, sms and chemprot not worse on average over 4 seeds.
        n_strata, level, prior_strength, robust_weight, estimator: options of :func:`estimate_accuracy`
            (``robust_weight``: the vague component's weight in each stratum's robust prior; 0 = the single
            informative Beta; ``estimator``: a name in :data:`.estimate.ESTIMATORS`, how k is set and whether the audits
            floor the lower bound; default ``"evidence"``, :data:`.estimate.DEFAULT_ESTIMATOR`).
        seed: seeds the audits.
        audit_pool: where each round's audits come from. ``"open"`` (default): every open item not in the round's
            batch, so the audits are a sample of what ``estimate("all")`` (the stopping rule's) describes.
            ``"accepted"``: the open items accepted this round (``priority_`` under the threshold: the population of
            ``estimate("accepted")``) first; when they are fewer than the audits, all of them and the rest from the
            other open items. Each item's chance that round (:func:`draw_probability` of its own pool) enters
            ``audit_pi_``, so the estimate's ``1 / audit_pi_`` weights correct for items that joined the accepted
            set late. Not the default: over seeds 0-8 (``docs/results/review.md``, issue 12) the stopping rule's
            estimate covered more often on average (0.914 against 0.892; less on sms and trec) but trec's mean
            |error| rose 0.053 -> 0.060, past the bound fixed beforehand. The app (``session.py``) draws its audits
            once, from every item.
        accepted: what acceptance does to an item's label. ``"source"`` (default, :data:`DEFAULT_ACCEPTED`): the
            item keeps the label it had when it was first accepted (self-paced learning's pseudo-label), and the kept
            labels enter each refit as one more source (weight: the largest rule weight), as the pseudo-labelled
            samples train the model in Lin et al.; ``"lock"``: kept, not a source; ``"free"`` (the default before
            2026-12-03): nothing, every refit may change an accepted item's label (acceptance only ranks it last in
            the queue). Measured in ``docs/results/review.md`` (WRENCH, POLAR order, mean quality at 5 %
            reviewed, free → source; fresh seeds 18-26): youtube 0.931 → 0.939, sms 0.896 → 0.930, trec 0.765 →
            0.726 (gold-LR at 3.0 % either way), chemprot 0.619 → 0.616. With ``"risk_prior"`` its estimate was
            unsafe (the calibrated risk of the kept labels comes out too small: the lower bound above the truth in up
            to 0.22 of sms's rounds); with ``"evidence"`` (the default ``estimator``) it covered the truth in
            0.92-0.97 of the rounds on seeds 18-26, its lower bound above the truth in at most 0.011 of them (rule
            R42). Audited
            items are accepted and kept like any other (an audit must not change how the loop treats the item it
            checks, or it stops being a sample of the kept labels).

    Attributes (after fit):
        proba_: (n, k) current label distributions.  risk_: (n,) risk of the current labels.
        priority_: (n,) the ``order``'s value of an answer (named orders; the risk for a callable), which
            also decides acceptance (``priority_ < threshold``).
        human_: (n,) the person's answers, -1 where not reviewed.  audited_: (n,) bool.
        review_label_, review_risk_: (n,) machine label and its risk when the item was reviewed
            (-1 / NaN where not).
        audit_pi_: (n,) each item's chance of having been audited so far, ``1 - prod_r (1 - p_ir)`` over the rounds'
            draws (:meth:`audit_sample`; p_ir = 0 in a round whose pool left the item out); the estimate weighs each
            audit by ``1 / audit_pi_`` within its stratum.
        audit_passed_: (n,) bool, audited items the risk order has since reached (the queue would have served them
            before the last of a later batch's risk-ordered items, :meth:`mark_passed`): without the audit the person
            would have reviewed them then, so they have left the population the estimate describes, as the unaudited
            items of that priority did. Kept in, their errors stay while the order removes the like errors of the
            unaudited items (with ``accepted="source"`` a kept label leaves only by review), so the audits overstate the
            error (measured, sms ``source``: the interval fell below the truth in 0.19 of the rounds, 0.02 without
            them).
        harmonizer_: the current fitted harmonizer.  history_: list of :class:`RoundRecord`.
        locked_: (n,) the label an item was accepted with (-1: not accepted yet, or ``accepted="free"``).
    """

    def __init__(self, n_classes: int, schedule: ThresholdSchedule | None = None, batch_size: int = 20,
                 audit_size: int = 5, human_weight: float = 10.0, harmonizer: dict[str, Any] | None = None,
                 order: str | Callable[["SelfPacedReview"], np.ndarray] = "polar",
                 stopping: StoppingRule | None = None, n_strata: int = 5, level: float = 0.9,
                 prior_strength: float = 2.0, seed: int = 0, reweight_sources: bool = True,
                 accepted: str = DEFAULT_ACCEPTED, robust_weight: float = 0.0, audit_pool: str = "open",
                 estimator: str = DEFAULT_ESTIMATOR) -> None:
        if batch_size < 0 or audit_size < 0 or batch_size + audit_size == 0:
            raise InputError(f"batch_size={batch_size}, audit_size={audit_size}", column="review.batch_size",
                             fix="review at least one item per round")
        if human_weight <= 0:
            raise InputError(f"human_weight={human_weight}", column="review.human_weight", fix="use a positive number")
        self.n_classes = int(n_classes)
        self.schedule = schedule or ThresholdSchedule()
        self.batch_size = int(batch_size)
        self.audit_size = int(audit_size)
        self.human_weight = float(human_weight)
        self.harmonizer = dict(harmonizer or {})
        self.order = order
        self.stopping = stopping or StoppingRule()
        self.n_strata = int(n_strata)
        self.level = float(level)
        self.prior_strength = float(prior_strength)
        self.robust_weight = check_robust_weight(robust_weight)
        check_estimator(estimator)
        self.estimator = estimator
        self.seed = int(seed)
        self.reweight_sources = bool(reweight_sources)
        if accepted not in ACCEPTED:
            raise InputError(f"accepted={accepted!r}", column="review.accepted", fix=f"use one of {list(ACCEPTED)}")
        self.accepted_mode = accepted
        if audit_pool not in AUDIT_POOLS:
            raise InputError(f"audit_pool={audit_pool!r}", column="review.audit_pool",
                             fix=f"use one of {list(AUDIT_POOLS)}")
        self.audit_pool = audit_pool

    # ------------------------------------------------------------------ fitting
    def fit(self, L: np.ndarray, X: np.ndarray) -> "SelfPacedReview":
        """First fit on the sources' votes L (n, m) and features X (n, d); nobody has reviewed yet."""
        self.L_ = np.asarray(L, dtype=np.int64)
        self.X_ = np.asarray(X, dtype=np.float32)
        n = self.L_.shape[0]
        if not callable(self.order) and self.order not in PRIORITIES:
            raise InputError(f"unknown review order {self.order!r}", column="review.order",
                             fix=f"use one of {sorted(PRIORITIES)} or a callable")
        self.human_ = np.full(n, -1, dtype=np.int64)
        self.audited_ = np.zeros(n, dtype=bool)
        self.audit_pi_ = np.zeros(n)
        self.audit_passed_ = np.zeros(n, dtype=bool)
        self.audit_label_ = np.full(n, -1, dtype=np.int64)   # machine label when audited
        self.review_label_ = np.full(n, -1, dtype=np.int64)  # machine label when reviewed (audits too)
        self.review_risk_ = np.full(n, np.nan)               # its risk then
        self.disagreement_ = source_disagreement(self.L_, self.n_classes)
        self.round_ = 0
        self.locked_ = np.full(n, -1, dtype=np.int64)
        self.history_: list[RoundRecord] = []
        self._rng = np.random.default_rng(self.seed)
        opts = {"seed": self.seed, "combine": "h", **self.harmonizer}     # as measured: h(x) per round
        self.base_ = PolarHarmonizer(self.n_classes, **opts).fit(self.L_, self.X_)
        self.base_weights_ = np.asarray(self.base_.weights_, dtype=np.float64)
        self._set(self.base_, self.L_)
        self._lock()
        return self

    def _set(self, h: PolarHarmonizer, L: np.ndarray) -> None:
        """Current distributions: ``h``'s final distribution on the votes ``L`` (its combined output, or h(x)
        alone when that is what it uses); the risk of an accepted item is that of the label it keeps."""
        self.harmonizer_ = h
        self.proba_ = h.predict_proba(L, self.X_)
        self.risk_ = label_risk(self.proba_)
        locked = self.locked_ >= 0
        if locked.any():
            self.risk_[locked] = 1.0 - self.proba_[locked, self.locked_[locked]]
        self.priority_ = self.risk_ if callable(self.order) else PRIORITIES[self.order](self)

    def refit(self) -> None:
        """Fit the harmonizer again with the human answers (non-audit) as a top-weight source.

        A fresh fit: h(x) learns from the sources and the answers, the sources weighted by the first fit's weights
        re-estimated on the answers (:func:`answer_weights`; unless ``reweight_sources=False``; the
        audits, kept out of the fit, do not enter there either). With ``combine="auto"`` the combined
        output is chosen again among its candidates (h(x) alone, majority vote, one-coin, Dawid–Skene) by the
        gold-free held-out agreement, now over the sources *and* the human column. The choice of the first fit
        is not kept: as answers come in, a combination that estimates each source's accuracy from the rows
        (Dawid–Skene) can read the reviewed rows as near-certain truth, so one answer re-weighs every rule
        that fired on the item; when it cannot, the choice falls back to another candidate.
        """
        votes = np.where(self.audited_, -1, self.human_)
        if not (votes >= 0).any():
            self._set(self.base_, self.L_)
            return
        L0, w0 = self.L_, self.base_weights_
        if self.accepted_mode == "source" and (self.locked_ >= 0).any():
            # the kept labels as one more source (weight: the largest rule weight), reviewed items left out
            # audited items keep their kept label in the fit (an audit must not change how the machine treats the item)
            L0 = np.column_stack([self.L_, np.where(self.reviewed_ & ~self.audited_, -1, self.locked_)])
            w0 = np.append(w0, w0.max())
        L, h = self._fit(L0, w0, votes)
        self._set(h, L)

    def _fit(self, L0: np.ndarray, w0: np.ndarray, votes: np.ndarray) -> tuple[np.ndarray, PolarHarmonizer]:
        """(votes with the human column, the harmonizer fitted on them) for sources ``L0`` (n, m) with weights ``w0``."""
        L = np.column_stack([L0, votes])
        base = answer_weights(w0, L0, votes, self.n_classes) if self.reweight_sources else w0
        w = with_human_weight(base, self.human_weight)
        opts = {"seed": self.seed, "combine": "h", **self.harmonizer, "weights": w, "tune_sources": None}
        return L, PolarHarmonizer(self.n_classes, **opts).fit(L, self.X_)

    # ------------------------------------------------------------------ state
    @property
    def reviewed_(self) -> np.ndarray:
        """(n,) bool: a person answered."""
        return self.human_ >= 0

    @property
    def threshold_(self) -> float:
        return self.schedule(self.round_)

    def accepted(self) -> np.ndarray:
        """(n,) bool: accepted automatically this round (not reviewed, ``priority_`` under the threshold)."""
        return ~self.reviewed_ & (self.priority_ < self.threshold_)

    def machine_labels(self) -> np.ndarray:
        """(n,) the harmonizer's labels (argmax), or the label an item was accepted with (``accepted`` lock/source)."""
        return np.where(self.locked_ >= 0, self.locked_, self.proba_.argmax(axis=1))

    def advance(self) -> None:
        """Next round: the threshold relaxes; with ``accepted`` lock/source the newly accepted items keep their label."""
        self.round_ += 1
        self._lock()

    def restore(self, locked: np.ndarray, round_: int) -> None:
        """Resume a review: the labels items were accepted with in earlier rounds (-1: none) and the round reached."""
        locked = np.asarray(locked, dtype=np.int64)
        if self.accepted_mode != "free":
            self.locked_ = np.where(locked >= 0, locked, self.locked_)
        self.round_ = max(int(round_), 0)

    def _lock(self) -> None:
        """With ``accepted`` lock/source: the items accepted this round keep their current label from now on."""
        if self.accepted_mode == "free":
            return
        open_ = ~self.reviewed_ | self.audited_
        new = open_ & (self.priority_ < self.threshold_) & (self.locked_ < 0)
        self.locked_[new] = self.proba_[new].argmax(axis=1)

    def labels(self) -> np.ndarray:
        """(n,) final labels: the person's answer where reviewed, else the machine label."""
        return np.where(self.reviewed_, self.human_, self.machine_labels())

    def scores(self) -> np.ndarray:
        """(n,) review priority, highest first."""
        if callable(self.order):
            return np.asarray(self.order(self), dtype=np.float64)
        return self.priority_

    # ------------------------------------------------------------------ rounds
    def next_batch(self, limit: int | None = None) -> Batch:
        """The round's risk-ordered reviews (not yet reviewed, not accepted) and random audits; at most
        ``limit`` items in all (audits keep their share)."""
        open_ = ~self.reviewed_
        # the open items by priority: those not accepted come first (acceptance is priority < threshold); when
        # they are fewer than the batch, the riskiest accepted ones fill it (before: the batch was cut short,
        # sms reviewed 217 items by "5 %" with the POLAR order, 229 with the plain risk), as the app's queue
        # serves every open item. One ranking of the open and the audited items serves the batch and the audits
        # it passes (a callable order's scores, e.g. cleanlab's out-of-fold fit, are computed once a round)
        queue = self.ranked(np.flatnonzero(open_ | self.audited_))
        rows = queue[open_[queue]][: self.batch_size]
        n_audit = self.audit_size
        if limit is not None and len(rows) + n_audit > limit:
            n_audit = int(round(limit * n_audit / (self.batch_size + n_audit)))
            rows = rows[: max(limit - n_audit, 0)]
        self.mark_passed(rows, queue)
        rest = np.setdiff1d(np.flatnonzero(open_), rows)
        return Batch(rows=rows, audit=self.audit_sample(rest, n_audit))

    def ranked(self, items: np.ndarray) -> np.ndarray:
        """``items`` (positions) in the order the queue serves them: the ``order``'s priority (:meth:`scores`)
        descending; ties (named orders: equal but for float noise, :func:`review_order`) by source disagreement, then
        by position."""
        items = np.sort(np.asarray(items, dtype=np.int64))
        if callable(self.order):
            return items[np.lexsort((items, -self.scores()[items]))]
        return items[review_order(self.priority_[items], self.disagreement_[items])]

    def mark_passed(self, rows: np.ndarray, queue: np.ndarray | None = None) -> None:
        """The risk order is about to review ``rows``: the audited items it would serve before the last of them
        (:meth:`ranked`, ties broken as the queue breaks them) would have been reviewed by now; they leave the
        estimate (``audit_passed_``). ``queue``: :meth:`ranked` of (at least) ``rows`` and the audited items, when the
        caller has it (:meth:`next_batch`); else it is ranked here.

        Not "priority at least the lowest of ``rows``": when the priorities tie (measured, trec with
        ``accepted="source"``, seed 14: from round 9 on every open item's POLAR priority rounds to 0, one value), the
        batch takes 20 of thousands of tied items, and that test sent every audit out of the estimate (95 of 95), which
        then read the kept labels' own certainty: its lower bound was above the truth in 0.13 of the rounds (seeds
        9-17), 0.06 with ties broken as the queue breaks them (``docs/results/review.md``)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows):
            if queue is None:
                queue = self.ranked(np.union1d(rows, np.flatnonzero(self.audited_)))
            ahead = queue[: np.flatnonzero(np.isin(queue, rows)).max()]
            self.audit_passed_[ahead[self.audited_[ahead]]] = True

    def audit_sample(self, pool: np.ndarray, size: int) -> np.ndarray:
        """``size`` random items of ``pool``, spread over the risk strata (:func:`stratified_sample`); updates
        ``audit_pi_`` by each item's chance in this draw (the items audited before, still in the estimate's
        population, by the chance they would have had in the pool they would be in).

        With ``audit_pool="accepted"`` the pool is drawn in two tiers: its accepted items (``priority_`` under the
        threshold) first, then, for the audits they cannot fill, the others; each tier is an equal-probability
        stratified draw with its own chance (:func:`draw_probability`: 0 for the second tier when the first fills
        the audits)."""
        pool = np.asarray(pool, dtype=np.int64)
        before = np.flatnonzero(self.audited_)
        if self.audit_pool == "accepted":
            acc = self.priority_ < self.threshold_
            tiers = [(pool[acc[pool]], before[acc[before]]), (pool[~acc[pool]], before[~acc[before]])]
        else:
            tiers = [(pool, before)]
        out, left = [], int(size)
        for rows, audited in tiers:
            p = draw_probability(len(rows), left)
            if len(rows):
                for r in (rows, audited):
                    self.audit_pi_[r] = 1.0 - (1.0 - self.audit_pi_[r]) * (1.0 - p)
            out.append(stratified_sample(self.risk_, rows, left, self._rng, self.n_strata))
            left -= len(out[-1])
        return np.sort(np.concatenate(out)).astype(np.int64)

    def record(self, rows: np.ndarray, answers: np.ndarray, audit: bool = False) -> None:
        """Store a person's answers (label indices) for item positions ``rows``."""
        rows, answers = np.asarray(rows, dtype=np.int64), np.asarray(answers, dtype=np.int64)
        if rows.shape != answers.shape:
            raise InputError(f"{len(rows)} rows but {len(answers)} answers", fix="give one answer per item")
        check_votes(answers, n_classes=self.n_classes, ndim=1, what="answer", abstain=False)
        self.human_[rows] = answers
        self.audited_[rows] = audit
        self.review_label_[rows] = self.machine_labels()[rows]
        self.review_risk_[rows] = self.risk_[rows]
        if audit:     # the machine label when audited (for reports; the estimate uses the current one)
            self.audit_label_[rows] = self.machine_labels()[rows]

    def estimate(self, scope: str = "accepted") -> AccuracyEstimate:
        """Gold-free accuracy of the machine labels of ``"accepted"`` items (this round's threshold) or of
        ``"all"`` unreviewed items (what stopping now would accept); audited items count in their stratum, but
        not those the risk order has since reached (``audit_passed_``)."""
        live = self.audited_ & ~self.audit_passed_
        pop = ~self.reviewed_ | live
        if scope == "accepted":
            pop &= self.priority_ < self.threshold_
        elif scope != "all":
            raise InputError(f"scope={scope!r}", column="scope", fix="use 'accepted' or 'all'")
        # audited items stay out of the fit, so their *current* machine labels are a random sample of the
        # current labels: an audit keeps checking the labels as refits change them
        err = self.audited_ & (self.machine_labels() != self.human_)
        rev = self.reviewed_ & np.isfinite(self.review_risk_)
        weight = np.divide(1.0, self.audit_pi_, out=np.ones_like(self.audit_pi_), where=self.audit_pi_ > 0)
        return estimate_accuracy(self.risk_, pop, live, err, audit_weight=weight,
                                 calib_risk=self.review_risk_[rev],
                                 calib_error=self.review_label_[rev] != self.human_[rev], n_strata=self.n_strata,
                                 level=self.level, prior_strength=self.prior_strength,
                                 robust_weight=self.robust_weight, estimator=self.estimator,
                                 seed=self.seed + self.round_)

    def run_round(self, annotate: Callable[[np.ndarray], np.ndarray], limit: int | None = None) -> RoundRecord:
        """One round: batch (at most ``limit`` items) → ``annotate(rows) -> labels`` → refit → record."""
        batch = self.next_batch(limit)
        if len(batch.rows):
            self.record(batch.rows, annotate(batch.rows))
        if len(batch.audit):
            self.record(batch.audit, annotate(batch.audit), audit=True)
        self.refit()
        self.advance()
        rec = RoundRecord(round=self.round_, threshold=self.threshold_, accepted=int(self.accepted().sum()),
                          reviewed=int(self.reviewed_.sum()), audited=int(self.audited_.sum()),
                          remaining=int((~self.reviewed_ & ~self.accepted()).sum()),
                          estimate=self.estimate("accepted").to_dict(), estimate_all=self.estimate("all").to_dict())
        self.history_.append(rec)
        return rec

    def run(self, annotate: Callable[[np.ndarray], np.ndarray], max_rounds: int = 1000) -> str:
        """Rounds until the stopping rule says stop; returns why (``"target"``, ``"budget"``, ``"exhausted"``)."""
        n = len(self.human_)
        for _ in range(max_rounds):
            why = self.stopping.check(self.estimate("all"), int(self.reviewed_.sum()), n)
            if why:
                return why
            if self.reviewed_.all():
                return "exhausted"
            self.run_round(annotate, self.stopping.allowed(n) - int(self.reviewed_.sum()))
        return "max_rounds"

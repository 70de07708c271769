"""The span-level harmonizer: POLAR h on candidate-span features as a prior, the sources' span
votes weighed by per-source response models learnt without gold, non-overlapping selection, and
the guaranteed fallback to majority vote.

1. Candidates are the union of the sources' proposals, each with a 2-class vote per source
   (right = proposed exactly this span, wrong = proposed an overlapping different one, silent;
   :mod:`polarlab.spans.candidates`).
2. h is :class:`polarlab.harmonizer.PolarHarmonizer` (no gold) on the candidates' features
   (contextual MiniLM vectors of the span, its edges and its context), fitted to the span votes and
   *cross-fitted* over documents (each candidate scored by an h that never saw its document).
3. The probability that a candidate is right is the classification harmonizer's combined
   posterior (:class:`polarlab.harmonizer.combine.VoteLikelihood`, unchanged)::

       q(right | x, L) ∝ prior_tau(x) · Π_j θ_j(L_j | right)

   with θ_j learnt by EM (span-level Dawid–Skene when tau = 0; h as the prior for tau > 0), under
   the constraint that a source proposes right spans at least as often as wrong ones
   (:class:`SpanVoteLikelihood`).
4. Output: per document the non-overlapping candidates with the largest sum of ``q - 1/2``
   (:func:`polarlab.spans.candidates.select_spans`): overlaps are resolved by probability and a
   candidate more likely wrong than right is dropped.

Every choice is made without gold. tau: for every source j, the harmonizer is fitted on the *other*
sources (candidates, h and θ without j) for every tau of ``tau_grid``, and its spans are compared
with j's spans (exact-match F1); majority vote of the other sources is compared the same way. The
tau with the highest mean agreement is used (ties: the smaller tau). If it does not beat majority
vote's mean agreement, the harmonizer says so (``fallback_`` True, ``check_`` holds the numbers) and
outputs majority vote's spans, each still scored by q (the POLAR risk of an answer is 1 − q, whoever
answered). The temperature of q (the risk's calibration) is chosen by the leave-one-source-out
pseudo-likelihood on the candidates (:func:`polarlab.harmonizer.pseudo_likelihood.choose_likelihood_temperature`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..harmonizer.combine import VoteLikelihood
from ..harmonizer.polar import PolarHarmonizer
from ..harmonizer.pseudo_likelihood import choose_likelihood_temperature
from .aggregate import MajoritySpans, decode_tags
from .candidates import SpanCandidates, build_candidates, candidate_features, select_spans
from .evaluate import span_scores
from .harmonize import SpanHarmonizer, left_out_sources
from .types import Span
from .votes import SpanVotes

log = logging.getLogger(__name__)


class SpanVoteLikelihood(VoteLikelihood):
    """:class:`VoteLikelihood` for span votes, with the usual weak-supervision assumption that every
    source proposes a right span at least as often as a wrong one: θ_j(right-vote | right) >=
    θ_j(right-vote | wrong). Where an EM step breaks it for a source, that source's two response
    distributions are replaced by their average (the source carries no evidence that step).

    Why: every candidate was proposed by some source, so no population of "nothing proposed"
    anchors the two classes (the token model has the many tokens no source marks). Left free, EM
    can settle on "wrong = the spans one source proposes" (seen on NCBI-disease with the suffix
    rule: θ(proposes | wrong) = 0.99), a source whose proposals count *against* a span.
    """

    def _constrain(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` (m, 2, 3) with the assumption imposed: where a source's right-vote rate under "wrong"
        exceeds its rate under "right", both rows become their average."""
        theta = theta.copy()
        bad = theta[:, 1, 2] < theta[:, 0, 2]
        theta[bad] = theta[bad].mean(axis=1, keepdims=True)
        return theta


@dataclass
class SpanCheck:
    """Leave-one-source-out agreement (exact F1 with the left-out source's spans) of majority vote
    and of the span harmonizer for every tau; the chosen tau and temperature."""

    majority: dict[str, float] = field(default_factory=dict)
    by_tau: dict[str, dict[str, float]] = field(default_factory=dict)
    tau: float = 0.0
    temperature: float = 1.0

    @property
    def majority_mean(self) -> float:
        return float(np.mean(list(self.majority.values()))) if self.majority else float("nan")

    def mean(self, tau: float) -> float:
        v = self.by_tau.get(f"tau={tau}", {})
        return float(np.mean(list(v.values()))) if v else float("nan")

    @property
    def polar(self) -> dict[str, float]:
        return self.by_tau.get(f"tau={self.tau}", {})

    @property
    def polar_mean(self) -> float:
        return self.mean(self.tau)

    def to_dict(self) -> dict:
        return {"majority": self.majority, "majority_mean": self.majority_mean, "by_tau": self.by_tau,
                "mean_by_tau": {k: float(np.mean(list(v.values()))) if v else None for k, v in self.by_tau.items()},
                "tau": self.tau, "polar_mean": self.polar_mean, "temperature": self.temperature}


class SpanLevelHarmonizer:
    """POLAR prior × per-source span-vote likelihoods over candidate spans, with the majority-vote fallback.

    Args:
        model, scalarization, weights, epochs: h's form (see :class:`PolarHarmonizer`).
        folds: K of h's cross-fitting over documents.
        tau_grid: candidate weights of h's prior (0 = the span votes alone).
        threshold: a candidate is output only when q(right) exceeds it (1/2: more likely right than wrong).
        fallback: fall back to majority vote when no tau beats it on held-out agreement.
        seed: seeds h and the folds.

    Attributes (after fit):
        cands_, F_: the candidates and their features; h_: h fitted on all documents;
        log_h_cf_: shape (n, 2), cross-fitted log h of the candidates; tau_, vl_ (``temperature_`` set);
        check_: :class:`SpanCheck`; fallback_: True when the spans are majority vote's.
    """

    def __init__(self, model: str = "lr", scalarization: str = "linear", weights=None, epochs: int = 100,
                 folds: int = 3, fallback: bool = True, seed: int = 0,
                 tau_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0), threshold: float = 0.5) -> None:
        self.model, self.scalarization, self.weights, self.epochs = model, scalarization, weights, epochs
        self.folds, self.fallback, self.seed, self.threshold = folds, fallback, seed, float(threshold)
        self.tau_grid = tuple(float(t) for t in tau_grid)

    # ------------------------------------------------------------------ pieces
    def _h(self, seed: int) -> PolarHarmonizer:
        return PolarHarmonizer(2, model=self.model, scalarization=self.scalarization, weights=self.weights,
                               epochs=self.epochs, seed=seed, combine="h")

    @staticmethod
    def _learnable(L: np.ndarray) -> bool:
        """h needs votes of both classes (a right and a wrong) to learn anything."""
        return bool((L == 1).any() and (L == 0).any())

    def cross_fit(self, cands: SpanCandidates, F: np.ndarray, n_docs: int) -> np.ndarray:
        """log h of every candidate from an h fitted on the other documents' candidates, shape (n, 2);
        log(1/2) where a fold cannot be fitted (no vote of one class in its training part)."""
        out = np.full((len(cands), 2), -np.log(2.0))
        parts = np.array_split(np.random.default_rng(self.seed).permutation(n_docs), max(1, min(self.folds, n_docs)))
        for f, held in enumerate(parts):
            te = cands.of_docs(held)
            tr = np.setdiff1d(np.arange(len(cands)), te)
            if not len(te) or not self._learnable(cands.L[tr]):
                continue
            h = self._h(self.seed + 1 + f).fit(cands.L[tr], F[tr])
            out[te] = np.log(np.clip(h.predict_proba(None, F[te]), 1e-12, 1.0))
        return out

    def _spans_for(self, votes: SpanVotes, X: np.ndarray, taus) -> dict[float, list[list[Span]]]:
        """The harmonizer's spans for every tau in ``taus``, fitted on ``votes`` alone."""
        cands = build_candidates(votes)
        if not len(cands):
            return {t: [[] for _ in votes.docs] for t in taus}
        log_h = self.cross_fit(cands, candidate_features(cands, votes, X), len(votes.docs)) \
            if any(t > 0 for t in taus) else None
        out = {}
        for t in taus:
            vl = SpanVoteLikelihood(2).fit(cands.L, log_h, t)
            out[t] = select_spans(cands, vl.posterior(cands.L, log_h, t)[:, 1], len(votes.docs), self.threshold)[0]
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, votes: SpanVotes, X: np.ndarray) -> "SpanLevelHarmonizer":
        """Fit on the sources' proposals in ``votes`` and token features ``X`` (N, d); no gold."""
        self.n_docs_ = len(votes.docs)
        self.cands_ = build_candidates(votes)
        self.F_ = candidate_features(self.cands_, votes, X)
        self.h_ = self._h(self.seed).fit(self.cands_.L, self.F_) if self._learnable(self.cands_.L) else None
        self.log_h_cf_ = self.cross_fit(self.cands_, self.F_, self.n_docs_)
        self.check_, self.fallback_ = SpanCheck(), False
        self.tau_ = self.tau_grid[0]
        if self.fallback or len(self.tau_grid) > 1:
            self.heldout_check(votes, X)
            self.tau_ = self.check_.tau
            if self.fallback:
                self.fallback_ = not (self.check_.polar_mean > self.check_.majority_mean)
                if self.fallback_:
                    log.warning("span harmonizer: its held-out agreement with the left-out sources (%.3f) does not "
                                "beat majority vote's (%.3f); using majority vote's spans",
                                self.check_.polar_mean, self.check_.majority_mean)
        self.vl_ = SpanVoteLikelihood(2).fit(self.cands_.L, self.log_h_cf_, self.tau_) if len(self.cands_) else None
        if self.vl_ is not None:
            choose_likelihood_temperature(self.vl_, self.cands_.L, self.vl_.log_prior(self.log_h_cf_, self.tau_))
            self.check_.temperature = self.vl_.temperature_
        self.check_.tau = self.tau_
        return self

    def heldout_check(self, votes: SpanVotes, X: np.ndarray) -> SpanCheck:
        """Leave-one-source-out agreement (exact F1) of majority vote and of every tau of the grid;
        ``check_.tau`` = the tau with the highest mean agreement (ties: the smaller)."""
        check = self.check_
        per: dict[float, dict[str, float]] = {t: {} for t in self.tau_grid}
        for name, rest, target, mv_f1 in left_out_sources(votes):
            check.majority[name] = mv_f1
            for t, spans in self._spans_for(rest, X, self.tau_grid).items():
                per[t][name] = span_scores(spans, target)["exact"]["f1"]
        check.by_tau = {f"tau={t}": v for t, v in per.items()}
        means = {t: float(np.mean(list(v.values()))) if v else float("-inf") for t, v in per.items()}
        check.tau = max(self.tau_grid, key=lambda t: (means[t], -t))
        return check

    # ------------------------------------------------------------------ output
    def _posterior(self, cands: SpanCandidates, log_h: np.ndarray | None, calibrated: bool = True) -> np.ndarray:
        """q(right) of the candidates; ``calibrated=False``: at temperature 1 (what selection uses, as
        in the held-out check; the temperature never moves q across 1/2)."""
        if self.vl_ is None or not len(cands):
            return np.zeros(len(cands))
        T, self.vl_.temperature_ = self.vl_.temperature_, (self.vl_.temperature_ if calibrated else 1.0)
        try:
            return self.vl_.posterior(cands.L, log_h, self.tau_)[:, 1]
        finally:
            self.vl_.temperature_ = T

    def _log_h_of(self, cands: SpanCandidates, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        if self.h_ is None or not len(cands):
            return np.full((len(cands), 2), -np.log(2.0))
        return np.log(np.clip(self.h_.predict_proba(None, candidate_features(cands, votes, X)), 1e-12, 1.0))

    def span_probabilities(self, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
        """q(right) of any spans per document (e.g. majority vote's), scored against the same
        proposals; spans that are fit candidates keep their cross-fitted prior, others get h's."""
        cands = build_candidates(votes, spans)
        log_h = self._log_h_of(cands, votes, X)
        if len(votes.docs) == self.n_docs_:                  # the fit documents: cross-fitted prior
            index = {(int(i), s.key): r for r, (i, s) in enumerate(zip(self.cands_.doc, self.cands_.spans))}
            for r, (i, s) in enumerate(zip(cands.doc, cands.spans)):
                k = index.get((int(i), s.key))
                if k is not None:
                    log_h[r] = self.log_h_cf_[k]
        q = self._posterior(cands, log_h)
        out = [[] for _ in votes.docs]
        for i, p in zip(cands.doc, q):
            out[int(i)].append(float(p))
        return [np.asarray(P, dtype=np.float64) for P in out]

    def prior_probabilities(self, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
        """P(right) of ``spans`` under h alone (the votes unused), for comparison."""
        cands = build_candidates(votes, spans)
        q = np.exp(self._log_h_of(cands, votes, X)[:, 1])
        out = [[] for _ in votes.docs]
        for i, p in zip(cands.doc, q):
            out[int(i)].append(float(p))
        return [np.asarray(P, dtype=np.float64) for P in out]

    def predict_spans(self, votes: SpanVotes, X: np.ndarray) -> tuple[list[list[Span]], list[np.ndarray]]:
        """The output spans per document (sorted) and P(span exactly right) aligned with them."""
        if self.fallback_:
            mv = votes.decode(decode_tags(MajoritySpans().predict_proba(votes), votes, "argmax"), "polar")
            spans = [sorted(S) for S in mv]
            return spans, self.span_probabilities(votes, X, spans)
        if len(votes.docs) == self.n_docs_:
            cands, log_h = self.cands_, self.log_h_cf_
        else:
            cands = build_candidates(votes)
            log_h = self._log_h_of(cands, votes, X)
        q = self._posterior(cands, log_h, calibrated=False)
        spans, _ = select_spans(cands, q, len(votes.docs), self.threshold)
        return spans, self.span_probabilities(votes, X, spans)


class LevelChoice:
    """The span harmonizer of the level that agrees best with held-out sources, or majority vote.

    Fits the span-level harmonizer (:class:`SpanLevelHarmonizer`) and the token-level one
    (:class:`polarlab.spans.harmonize.SpanHarmonizer`); each reports its leave-one-source-out
    agreement (exact F1 of its spans, fitted without source j, with source j's spans, averaged over
    the sources) for its own gold-free choice of tau, and majority vote's under the same protocol.
    The level with the higher agreement gives the spans (ties: span level); when neither beats
    majority vote, majority vote's spans are output (``fallback_``). Every output span's probability
    (and POLAR risk = 1 − probability) is, by default, the *mean* of the two levels' P(span exactly
    right) (:data:`SPAN_RISKS`, :meth:`predict_spans`). No gold anywhere.

    Args: as :class:`SpanLevelHarmonizer` (``tau_grid`` is the span level's), and
        risk: where a span's probability comes from, a key of :data:`SPAN_RISKS` (default ``"both"``).

    Attributes (after fit):
        members_: {"span": fitted SpanLevelHarmonizer, "token": fitted SpanHarmonizer};
        level_: the chosen level; fallback_, tau_, check_: the chosen member's (``fallback_`` re-decided
        here); agreement_: {"span": ..., "token": ..., "majority": ...} mean held-out agreements.
    """

    def __init__(self, model: str = "lr", scalarization: str = "linear", weights=None, epochs: int = 100,
                 folds: int = 3, fallback: bool = True, seed: int = 0,
                 tau_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0), threshold: float = 0.5,
                 risk: str = "both") -> None:
        from .harmonize import SpanHarmonizer

        if risk not in SPAN_RISKS:
            raise ValueError(f"risk={risk!r}: expected one of {sorted(SPAN_RISKS)}")
        self.risk = risk

        common = dict(model=model, scalarization=scalarization, weights=weights, epochs=epochs, folds=folds,
                      fallback=True, seed=seed)
        self.fallback = fallback
        self.members_ = {"span": SpanLevelHarmonizer(tau_grid=tau_grid, threshold=threshold, **common),
                         "token": SpanHarmonizer(**common)}

    def fit(self, votes: SpanVotes, X: np.ndarray) -> "LevelChoice":
        loggers = [logging.getLogger(n) for n in (__name__, "polarlab.spans.harmonize")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:                 # the members' own fallback notes; the choice below says what matters
            lg.setLevel(logging.ERROR)
        try:
            for h in self.members_.values():
                h.fit(votes, X)
        finally:
            for lg, lvl in zip(loggers, levels):
                lg.setLevel(lvl)
        agree = {lvl: h.check_.polar_mean for lvl, h in self.members_.items()}
        agree = {lvl: (a if np.isfinite(a) else float("-inf")) for lvl, a in agree.items()}
        mv = self.members_["span"].check_.majority_mean
        self.agreement_ = {**agree, "majority": mv}
        self.level_ = max(("span", "token"), key=lambda lvl: (agree[lvl], lvl == "span"))
        chosen = self.members_[self.level_]
        self.fallback_ = bool(self.fallback and not (agree[self.level_] > (mv if np.isfinite(mv) else float("-inf"))))
        chosen.fallback_ = self.fallback_
        if hasattr(chosen, "decode"):
            chosen.decode = "argmax" if self.fallback_ else "viterbi"
        if self.fallback_:
            log.warning("span harmonizer: held-out agreement of the span level (%.3f) and the token level (%.3f) "
                        "does not beat majority vote's (%.3f); using majority vote's spans",
                        agree["span"], agree["token"], mv)
        self.tau_, self.check_ = chosen.tau_, chosen.check_
        return self

    @property
    def chosen_(self):
        return self.members_[self.level_]

    def predict_spans(self, votes: SpanVotes, X: np.ndarray) -> tuple[list[list[Span]], list[np.ndarray]]:
        """The chosen level's spans (or majority vote's), each with P(span exactly right) from
        :data:`SPAN_RISKS` ``[self.risk]`` (default: the mean of both levels'), whichever level chose the spans."""
        spans, _ = self.chosen_.predict_spans(votes, X)
        return spans, self.span_probabilities(votes, X, spans)

    def span_probabilities(self, votes: SpanVotes, X: np.ndarray, spans, risk: str | None = None
                           ) -> list[np.ndarray]:
        """P(span exactly right) of any spans per document (sorted) by ``risk`` (a key of
        :data:`SPAN_RISKS`; None = ``self.risk``)."""
        return SPAN_RISKS[risk or self.risk](self, votes, X, spans)

    def prior_probabilities(self, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
        return self.members_["token"].prior_probabilities(votes, X, spans)


def _token_risk(h: LevelChoice, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
    return h.members_["token"].span_probabilities(votes, X, spans)


def _span_risk(h: LevelChoice, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
    if h.members_["span"].vl_ is None:          # no source proposed anything: no span-level model
        return _token_risk(h, votes, X, spans)
    return h.members_["span"].span_probabilities(votes, X, [sorted(S) for S in spans])


def _both_risk(h: LevelChoice, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
    return [(t + s) / 2.0 for t, s in zip(_token_risk(h, votes, X, spans), _span_risk(h, votes, X, spans))]


#: Where :class:`LevelChoice` reads a span's P(span exactly right) (risk = 1 − it), whichever level
#: chose the span:
#:
#: - ``"token"``: the token level's posterior (P(B at the first token) × Π P(I inside) × P(no I right
#:   after), its temperature by the pseudo-likelihood). Its classes are anchored by the many tokens no
#:   source marks, but it treats the tokens of a span as independent evidence.
#: - ``"span"``: the span level's q(right), the whole span judged as one unit from the span votes. It
#:   sees only proposed spans (no "nothing here" population), so it can be far too sure.
#: - ``"both"`` (default): their mean. Without gold nothing says which of the two is better
#:   calibrated; for any outcome the mean's Brier score (and log loss) is at most the mean of the two
#:   levels' (the loss is convex in the probability), and the two levels err in different ways (the
#:   token level spreads its doubt over tokens, the span level over boundaries), so averaging also
#:   helps the ranking. One default for every dataset; nothing is fitted to gold.
SPAN_RISKS = {"token": _token_risk, "span": _span_risk, "both": _both_risk}

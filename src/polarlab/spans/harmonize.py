"""The span harmonizer: POLAR h(x) on token features as a prior, the sources' token votes weighed
by per-source response models learnt without gold, BIO Viterbi decoding, and a guaranteed
fallback to majority vote.

1. h is :class:`polarlab.harmonizer.PolarHarmonizer` (no gold) on token features (contextual
   MiniLM token vectors, :mod:`polarlab.spans.features`), fitted to every source's token votes
   at once and *cross-fitted* over documents (each document's tokens scored by an h that never
   saw that document), so that the prior does not already hold the document's own votes.
2. The token tag distribution is the classification harmonizer's combined posterior
   (:class:`polarlab.harmonizer.combine.VoteLikelihood`, reused as is)::

       q(tag | x, L) ∝ prior_tau(x)[tag] · Π_j θ_j(L_j | tag)

   where θ_j is source j's response distribution over O/B-/I- votes (abstain kept as a response),
   learnt by EM — the per-source weights, no gold — and ``log prior_tau = tau · log h(x) +
   (1 − tau)+ · log π``. tau = 0 is token-level Dawid–Skene (the votes alone), larger tau trusts
   h more. A tau comes from ``tau_grid`` by the held-out leave-one-source-out pseudo-likelihood on
   the tokens (:func:`polarlab.harmonizer.pseudo_likelihood.select_combination`: how well the posterior
   without source j predicts j's vote, on held-out folds), the same rule as ``combine = "auto"``
   of the classification harmonizer.
3. Spans are decoded from q by BIO Viterbi. Every output span gets ``probability`` = P(span
   exactly right) under q with a temperature T >= 1 on its log
   (:func:`polarlab.harmonizer.pseudo_likelihood.choose_likelihood_temperature`, chosen by the same
   leave-one-source-out
   pseudo-likelihood: no gold) and POLAR ``risk`` = 1 − probability
   (:func:`polarlab.spans.decode.span_probability`). T never changes a decoded span.

Which decoder, decided without gold by held-out agreement: for every source j, the harmonizer
is fitted on the *other* sources (h cross-fitted over documents) with the pseudo-likelihood's tau
and with tau = 0 (the votes alone), and its spans are compared with source j's spans (exact-match
F1); majority vote of the other sources is compared the same way. The tau with the higher mean
agreement decodes the spans (the token pseudo-likelihood measures how well sources' *votes* are
predicted, and h, fitted to the votes, is good at that whether or not it finds more entities; the
span agreement checks the spans). If neither beats majority vote's agreement, the harmonizer says
so (``fallback_`` True, ``check_`` has the numbers) and outputs majority vote's spans, still scored
by q: the POLAR risk of an answer is 1 − q[answer], whoever answered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..harmonizer.combine import H_ONLY, VoteLikelihood
from ..harmonizer.pseudo_likelihood import choose_likelihood_temperature, select_combination
from ..harmonizer.polar import PolarHarmonizer
from .aggregate import MajoritySpans, decode_tags
from .evaluate import span_scores
from .votes import SpanVotes

log = logging.getLogger(__name__)


def left_out_sources(votes: SpanVotes):
    """Leave-one-source-out protocol of the held-out span checks: for every source j that proposed some span
    while another source still votes, yield ``(name, votes without j, j's spans per document, majority vote's
    exact F1 against j's spans)``."""
    if len(votes.sources) < 2:
        return
    for j, name in enumerate(votes.sources):
        target = [p[j] for p in votes.proposals]
        if not any(target):
            continue
        rest = votes.without(j)
        if not (rest.L > 0).any():
            continue
        mv = rest.decode(decode_tags(MajoritySpans().predict_proba(rest), rest, "argmax"))
        yield name, rest, target, span_scores(mv, target)["exact"]["f1"]

@dataclass
class HeldoutCheck:
    """Held-out agreement of the harmonizer and of majority vote with each left-out source (exact F1),
    and the pseudo-likelihood of every tau of the grid (the gold-free choice of tau)."""

    polar: dict[str, float] = field(default_factory=dict)
    majority: dict[str, float] = field(default_factory=dict)
    pseudo_loglik: dict[str, float] = field(default_factory=dict)
    by_tau: dict[str, float] = field(default_factory=dict)
    tau_pseudo_loglik: float = 0.0
    tau: float = 0.0
    temperature: float = 1.0

    @property
    def polar_mean(self) -> float:
        return float(np.mean(list(self.polar.values()))) if self.polar else float("nan")

    @property
    def majority_mean(self) -> float:
        return float(np.mean(list(self.majority.values()))) if self.majority else float("nan")

    def to_dict(self) -> dict:
        return {"polar": self.polar, "majority": self.majority, "polar_mean": self.polar_mean,
                "majority_mean": self.majority_mean, "pseudo_loglik": self.pseudo_loglik,
                "tau_pseudo_loglik": self.tau_pseudo_loglik, "by_tau": self.by_tau, "tau": self.tau,
                "temperature": self.temperature}


class SpanHarmonizer:
    """POLAR prior × per-source vote likelihoods for spans, with the majority-vote fallback.

    Args:
        model: ``"lr"`` or ``"mlp"`` (h's form).
        scalarization: POLAR scalarization (``"linear"``, ``"square"``, ``"2norm"``, ``"max"``).
        weights: h's source weights (None = equal, ``"max_eigen"``, ``"min_var"`` or m numbers).
        epochs: h's training epochs.
        folds: K of h's cross-fitting, of the tau selection and of the held-out check (documents
            are split, never tokens of one document).
        tau_grid: candidate weights of h's prior (0 = the votes alone, token Dawid–Skene).
        fallback: run the held-out check and fall back to majority vote when the harmonizer does not beat it.
        seed: seeds h and the folds.

    Attributes (after fit):
        h_: the fitted :class:`PolarHarmonizer` (all documents; h alone, for comparison).
        log_h_cf_: shape (N, k), log of the cross-fitted h on the fit tokens.
        tau_: the chosen tau; ``vl_``: the :class:`VoteLikelihood` fitted with it (``temperature_`` set).
        check_: :class:`HeldoutCheck`.
        fallback_: True when the spans are majority vote's.
        decode: ``"viterbi"`` (the harmonizer's spans) or ``"argmax"`` (majority vote's).
    """

    def __init__(self, model: str = "lr", scalarization: str = "linear", weights=None, epochs: int = 100,
                 folds: int = 3, fallback: bool = True, seed: int = 0,
                 tau_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)) -> None:
        self.model, self.scalarization, self.weights = model, scalarization, weights
        self.tau_grid = tuple(float(t) for t in tau_grid)
        self.epochs, self.folds, self.fallback, self.seed = epochs, folds, fallback, seed

    def _h(self, k: int, seed: int) -> PolarHarmonizer:
        return PolarHarmonizer(k, model=self.model, scalarization=self.scalarization, weights=self.weights,
                               epochs=self.epochs, seed=seed, combine="h")

    def _parts(self, n_docs: int) -> list[np.ndarray]:
        return np.array_split(np.random.default_rng(self.seed).permutation(n_docs), max(1, min(self.folds, n_docs)))

    def cross_fit(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """log h(x) of every token from an h fitted on the other documents' votes, shape (N, k);
        documents of a fold whose training part has no entity vote get log of uniform."""
        out = np.full((votes.L.shape[0], votes.k), -np.log(votes.k))
        parts = self._parts(len(votes.docs))
        for f, held in enumerate(parts):
            rest = [p for i, p in enumerate(parts) if i != f]
            train = np.sort(np.concatenate(rest)) if rest else np.sort(held)
            tr, te = votes.token_rows(train), votes.token_rows(np.sort(held))
            if not len(te) or not (votes.L[tr] > 0).any():
                continue
            h = self._h(votes.k, self.seed + 1 + f).fit(votes.L[tr], X[tr])
            out[te] = np.log(np.clip(h.predict_proba(None, X[te]), 1e-12, 1.0))
        return out

    def _posterior_spans(self, votes: SpanVotes, log_h: np.ndarray, tau: float):
        vl = VoteLikelihood(votes.k).fit(votes.L, log_h, tau)
        return votes.decode(decode_tags(vl.posterior(votes.L, log_h, tau), votes, "viterbi"))

    def fit(self, votes: SpanVotes, X: np.ndarray) -> "SpanHarmonizer":
        """Fit on all token votes ``votes.L`` (N, m) and features ``X`` (N, d); no gold."""
        self.h_ = self._h(votes.k, self.seed).fit(votes.L, X)
        self.log_h_cf_ = self.cross_fit(votes, X)
        self.check_, self.fallback_ = HeldoutCheck(), False
        if len(self.tau_grid) > 1:
            choice, _, rows = select_combination(votes.L, self.log_h_cf_, votes.k, self.tau_grid,
                                                 with_h_only=False, folds=max(2, self.folds), seed=self.seed)
            self.tau_ = 1.0 if choice == H_ONLY else float(choice)
            self.check_.pseudo_loglik = {f"tau={r.candidate}": r.pseudo_loglik for r in rows}
        else:
            self.tau_ = self.tau_grid[0]
        self.check_.tau_pseudo_loglik = self.tau_
        if self.fallback:
            self.heldout_check(votes, X)
            self.tau_ = self.check_.tau
            self.fallback_ = not (self.check_.polar_mean > self.check_.majority_mean)
            if self.fallback_:
                log.warning("span harmonizer: its held-out agreement with the left-out sources (%.3f) does not "
                            "beat majority vote's (%.3f); using majority vote's spans",
                            self.check_.polar_mean, self.check_.majority_mean)
        self.vl_ = VoteLikelihood(votes.k).fit(votes.L, self.log_h_cf_, self.tau_)
        self.check_.tau = self.tau_
        prior = self.vl_.log_prior(self.log_h_cf_, self.tau_)
        self.check_.temperature = choose_likelihood_temperature(self.vl_, votes.L, prior)
        self.decode = "argmax" if self.fallback_ else "viterbi"
        return self

    def heldout_check(self, votes: SpanVotes, X: np.ndarray) -> HeldoutCheck:
        """Leave-one-source-out agreement (exact F1) of majority vote, of the harmonizer with the
        pseudo-likelihood's tau and with tau = 0 (the votes alone); ``check_.tau`` = the better of
        the two taus by mean agreement (ties: the pseudo-likelihood's)."""
        check = self.check_
        taus = list(dict.fromkeys([self.tau_, 0.0]))
        per: dict[float, dict[str, float]] = {t: {} for t in taus}
        for name, rest, target, mv_f1 in left_out_sources(votes):
            check.majority[name] = mv_f1
            log_h = self.cross_fit(rest, X) if any(t > 0 for t in taus) else None
            for t in taus:
                per[t][name] = span_scores(self._posterior_spans(rest, log_h, t), target)["exact"]["f1"]
        mean = {t: float(np.mean(list(v.values()))) if v else float("nan") for t, v in per.items()}
        check.by_tau = {f"tau={t}": m for t, m in mean.items()}
        best = max(taus, key=lambda t: (mean[t], t == taus[0]))
        check.tau, check.polar = best, per[best]
        return check

    def _log_h(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        if votes.L.shape[0] == self.log_h_cf_.shape[0]:
            return self.log_h_cf_
        return np.log(np.clip(self.h_.predict_proba(None, X), 1e-12, 1.0))   # new documents: h never saw them

    def predict_proba(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """h's token distributions alone (the votes unused), shape (N, k)."""
        return self.h_.predict_proba(None, X)

    def risk_proba(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """The token distributions (N, k) every output span's probability and risk are read from:
        the combined posterior with the chosen temperature (also after a fallback)."""
        return self.vl_.posterior(votes.L, self._log_h(votes, X), self.tau_)

    def predict_spans(self, votes: SpanVotes, X: np.ndarray):
        """The output spans per document (sorted) and P(span exactly right) under the calibrated
        posterior, aligned with them (the interface of :class:`~polarlab.spans.span_harmonize.SpanLevelHarmonizer`)."""
        from .aggregate import spans_with_probability
        spans, _ = spans_with_probability(self.spans_proba(votes, X), votes, self.decode, "polar")
        return spans, self.span_probabilities(votes, X, spans)

    def span_probabilities(self, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
        """P(span exactly right) of any spans per document (sorted) under the calibrated posterior."""
        from .decode import span_probability
        q = self.risk_proba(votes, X)
        return [np.array([span_probability(q[votes.rows(i)], votes.offsets[i], s, votes.types) for s in sorted(S)])
                for i, S in enumerate(spans)]

    def prior_probabilities(self, votes: SpanVotes, X: np.ndarray, spans) -> list[np.ndarray]:
        """P(span exactly right) of ``spans`` under h alone (the votes unused), for comparison."""
        from .decode import span_probability
        q = self.predict_proba(votes, X)
        return [np.array([span_probability(q[votes.rows(i)], votes.offsets[i], s, votes.types) for s in S])
                for i, S in enumerate(spans)]

    def spans_proba(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """The distribution the output spans are decoded from: the combined posterior, or majority
        vote's after a fallback. Shape (N, k)."""
        if self.fallback_:
            return MajoritySpans().predict_proba(votes)
        return self.risk_proba(votes, X)

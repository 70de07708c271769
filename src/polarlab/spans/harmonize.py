"""The span harmonizer: POLAR h(x) on token features, fitted to every span source's token votes
at once, with a guaranteed fallback to majority vote.

h is :class:`polarlab.harmonizer.PolarHarmonizer` (no gold) on token features (contextual
MiniLM token vectors, :mod:`polarlab.spans.features`); its token distributions are decoded by
BIO Viterbi. Every output span gets ``probability`` = P(span exactly right) under the harmonized
token distribution (below) and POLAR ``risk`` = 1 − probability
(:func:`polarlab.spans.decode.span_probability`). Reading it from the combined distribution
rather than from h alone was decided on the NCBI-disease *development* split (risk ECE 0.17 vs
0.43, AUROC 0.67 vs 0.52), never on the test split.

h is fitted to the votes, so h(entity | x) estimates the share of sources that fire on x, not the
chance that x is an entity (sources of low recall vote O on most entities). Decoding therefore
shifts the entity tags' odds by a factor ``shift`` (entity beats O where h(entity) > 1 / (1 +
shift)), chosen from ``shift_grid`` without gold by the held-out agreement below.

The output spans are decoded (BIO Viterbi) from h's distribution alone (``strength`` None) or
from h combined with the token votes, ``p ∝ v_ε(tags) · h_shift(tags)^strength`` where ``v_ε`` is
majority vote's token distribution (skweak's convention, smoothed by ε = 0.05): h then re-weighs
the sources' votes — it breaks their B-/I- disagreements and overrules a lone weak source where
the context says otherwise. ``shift`` and ``strength`` come from ``shift_grid`` × ``strength_grid``
by the held-out agreement below.

Fallback, decided without gold by held-out agreement: for every source j, h is fitted on the
*other* sources by K-fold cross-fitting over documents, and its held-out spans are compared with
source j's spans (exact-match F1); majority vote of the other sources is compared the same way.
If h's mean agreement with the left-out sources does not beat majority vote's, the harmonizer
says so (``fallback_`` True, ``check_`` has the numbers) and outputs majority vote's spans, still
scored by h (with the votes, strength 1): the POLAR risk of an answer is 1 − h(x)[answer],
whoever answered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..harmonizer.polar import PolarHarmonizer
from .aggregate import MajoritySpans, decode_tags
from .evaluate import span_scores
from .votes import SpanVotes

log = logging.getLogger(__name__)


@dataclass
class HeldoutCheck:
    """Held-out agreement of h (per shift) and of majority vote with each left-out source (exact F1)."""

    polar: dict[str, float] = field(default_factory=dict)
    majority: dict[str, float] = field(default_factory=dict)
    by_setting: dict[str, float] = field(default_factory=dict)
    shift: float = 1.0
    strength: float | None = None

    @property
    def polar_mean(self) -> float:
        return float(np.mean(list(self.polar.values()))) if self.polar else float("nan")

    @property
    def majority_mean(self) -> float:
        return float(np.mean(list(self.majority.values()))) if self.majority else float("nan")

    def to_dict(self) -> dict:
        return {"polar": self.polar, "majority": self.majority, "polar_mean": self.polar_mean,
                "majority_mean": self.majority_mean, "by_setting": self.by_setting,
                "shift": self.shift, "strength": self.strength}


VOTE_SMOOTHING = 0.05


def combine(h_proba: np.ndarray, vote_proba: np.ndarray, shift: float, strength: float | None) -> np.ndarray:
    """The decoding distribution (N, k): h shifted, alone (``strength`` None) or times the
    ε-smoothed vote distribution."""
    hp = shift_proba(h_proba, shift)
    if strength is None:
        return hp
    v = (vote_proba + VOTE_SMOOTHING) / (1.0 + VOTE_SMOOTHING * vote_proba.shape[1])
    p = v * np.power(np.clip(hp, 1e-12, 1.0), strength)
    return p / p.sum(axis=1, keepdims=True)


def shift_proba(proba: np.ndarray, shift: float) -> np.ndarray:
    """Multiply the entity tags' probabilities by ``shift`` and renormalise; shape kept (N, k)."""
    w = np.full(proba.shape[1], float(shift))
    w[0] = 1.0
    p = proba * w
    return p / p.sum(axis=1, keepdims=True)


class SpanHarmonizer:
    """POLAR on token features for spans, with the majority-vote fallback.

    Args:
        model: ``"lr"`` or ``"mlp"`` (h's form).
        scalarization: POLAR scalarization (``"linear"``, ``"square"``, ``"2norm"``, ``"max"``).
        weights: source weights (None = equal, ``"max_eigen"``, ``"min_var"`` or m numbers).
        epochs: h's training epochs.
        folds: K of the held-out check (documents are split, never tokens of one document).
        shift_grid: candidate odds multipliers of the entity tags at decoding.
        strength_grid: candidate exponents of h when combined with the votes (None: h alone).
        fallback: run the held-out check and fall back to majority vote when h does not beat it.
        seed: seeds h and the folds.

    Attributes (after fit):
        h_: the fitted :class:`PolarHarmonizer` (all documents).
        check_: :class:`HeldoutCheck` (None without ``fallback``).
        fallback_: True when the spans are majority vote's.
        decode: ``"viterbi"`` (h's spans) or ``"argmax"`` (majority vote's).
    """

    def __init__(self, model: str = "lr", scalarization: str = "linear", weights=None, epochs: int = 100,
                 folds: int = 3, fallback: bool = True, seed: int = 0,
                 shift_grid: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
                 strength_grid: tuple[float | None, ...] = (None, 0.5, 1.0, 2.0)) -> None:
        self.strength_grid = tuple(None if g is None else float(g) for g in strength_grid)
        self.model, self.scalarization, self.weights = model, scalarization, weights
        self.shift_grid = tuple(float(g) for g in shift_grid)
        self.epochs, self.folds, self.fallback, self.seed = epochs, folds, fallback, seed

    def _h(self, k: int, seed: int) -> PolarHarmonizer:
        return PolarHarmonizer(k, model=self.model, scalarization=self.scalarization, weights=self.weights,
                               epochs=self.epochs, seed=seed, combine="h")

    def fit(self, votes: SpanVotes, X: np.ndarray) -> "SpanHarmonizer":
        """Fit h on all token votes ``votes.L`` (N, m) and features ``X`` (N, d); then the check."""
        self.h_ = self._h(votes.k, self.seed).fit(votes.L, X)
        self.check_, self.fallback_, self.shift_, self.strength_ = None, False, 1.0, None
        if self.fallback or len(self.shift_grid) * len(self.strength_grid) > 1:
            self.check_ = self.heldout_check(votes, X)
            self.shift_, self.strength_ = self.check_.shift, self.check_.strength
        if self.fallback:
            self.fallback_ = not (self.check_.polar_mean > self.check_.majority_mean)
            if self.fallback_:
                log.warning("span harmonizer: h's held-out agreement with the left-out sources (%.3f) does not "
                            "beat majority vote's (%.3f); using majority vote's spans",
                            self.check_.polar_mean, self.check_.majority_mean)
        self.decode = "argmax" if self.fallback_ else "viterbi"
        return self

    def heldout_check(self, votes: SpanVotes, X: np.ndarray) -> HeldoutCheck:
        """Leave-one-source-out agreement of h (K-fold over documents; each shift of the grid)
        and of majority vote; the best shift's numbers are ``polar``."""
        check = HeldoutCheck()
        settings = [(g, a) for a in self.strength_grid for g in self.shift_grid]
        per: dict[tuple, dict[str, float]] = {st: {} for st in settings}
        n_docs = len(votes.docs)
        parts = np.array_split(np.random.default_rng(self.seed).permutation(n_docs), min(self.folds, n_docs))
        for j, name in enumerate(votes.sources):
            target = [p[j] for p in votes.proposals]
            if not any(target) or len(votes.sources) < 2:
                continue
            rest = votes.without(j)
            if not (rest.L > 0).any():
                continue
            vp = MajoritySpans().predict_proba(rest)
            mv = rest.decode(decode_tags(vp, rest, "argmax"))
            check.majority[name] = span_scores(mv, target)["exact"]["f1"]
            proba = np.zeros((rest.L.shape[0], rest.k))
            proba[:, 0] = 1.0
            for f, held in enumerate(parts):
                train = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != f]))
                tr, te = rest.token_rows(train), rest.token_rows(np.sort(held))
                if not (rest.L[tr] > 0).any():
                    continue
                h = self._h(rest.k, self.seed + 1 + f).fit(rest.L[tr], X[tr])
                proba[te] = h.predict_proba(None, X[te])
            for g, a in settings:
                tags = decode_tags(combine(proba, vp, g, a), rest, "viterbi")
                per[(g, a)][name] = span_scores(rest.decode(tags), target)["exact"]["f1"]
        mean = {st: float(np.mean(list(v.values()))) if v else float("nan") for st, v in per.items()}
        check.by_setting = {f"shift={g},strength={a}": m for (g, a), m in mean.items()}
        if check.majority:
            best = max(settings, key=lambda st: (mean[st], -st[0]))
            check.shift, check.strength, check.polar = best[0], best[1], per[best]
        return check

    def predict_proba(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """h's token distributions with the chosen shift, shape (N, k)."""
        return shift_proba(self.h_.predict_proba(None, X), self.shift_)

    def risk_proba(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """The token distributions (N, k) every output span's probability and risk are read from:
        the decoding distribution, or after a fallback h with majority vote's votes (strength 1)."""
        if not self.fallback_:
            return self.spans_proba(votes, X)
        return combine(self.h_.predict_proba(None, X), MajoritySpans().predict_proba(votes), self.shift_, 1.0)

    def spans_proba(self, votes: SpanVotes, X: np.ndarray) -> np.ndarray:
        """The distribution the output spans are decoded from: h (with the votes, per the chosen
        strength), or majority vote's after a fallback."""
        vp = MajoritySpans().predict_proba(votes)
        if self.fallback_:
            return vp
        return combine(self.h_.predict_proba(None, X), vp, self.shift_, self.strength_)


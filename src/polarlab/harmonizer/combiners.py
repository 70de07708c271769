"""The candidate final distributions: ways to combine h(x) with a row's own votes.

Every candidate scores a row as ``s(y) = vote_evidence(L_i)[y] + tau · log h(x_i)[y]`` (plus a class prior
for Dawid–Skene) and outputs ``softmax(s / T)``; they differ in how a vote counts:

* ``h``           h(x) alone (the votes unused at prediction time; the original POLAR output);
* ``mv``          every vote counts the same and outweighs h, which only breaks ties and answers the rows no
                  source voted on: majority vote with h(x) as the tie-break (the strongest simple baseline);
* ``mvh``         ``mv``, except on the rows where only tuned sources (the LLM) vote: h answers those, as on the
                  rows no source voted on (h was trained on the tuned source's votes at its tuned weight, so
                  it already carries them as far as the tuning trusts them); ``mv`` itself without a tuned source;
* ``onecoin:tau`` a weighted vote, one accuracy per source (learnt by EM around the h prior, smoothed
                  towards a prior accuracy), the vote weight ``log((k - 1) a_j / (1 - a_j))``;
* ``ds:tau``      Dawid–Skene with abstain as a response and h as the per-row prior
                  (:class:`polarlab.harmonizer.combine.VoteLikelihood`).

So the family holds the strong label models as special cases (MV, a weighted vote, Dawid–Skene); the default
candidates (:data:`DEFAULT_CANDIDATES`) leave h alone out (it ignores the votes at prediction time). A gold-free
selector (:mod:`polarlab.harmonizer.select`) chooses among them; how well it ranks them is measured by
``benchmarks/combine_selection.py`` (docs/results/label_quality.md).
``posterior(L, log_h, exclude=[j])`` leaves source j's own vote out (the POLAR risk of j's answer); the
temperature ``T`` (:func:`choose_temperature`) changes only how sure the distribution is, never a label.
With ``risk_scales_ = (a, b)`` (:func:`choose_risk_scales`) a leave-out distribution scales the votes' evidence and
the prior apart, ``softmax(a · vote evidence + b · prior)``: the risk's two regimes, rows other sources voted on and
rows only the prior speaks for, need not share one T. The distribution without ``exclude`` (the labels) keeps T.
A tuned source silenced by its weight (×0) is not read by the combination, so T is chosen on the other sources; the
risk of its answers gets a temperature of its own by the same criterion on them (:func:`choose_risk_temperature`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.special import logsumexp

from ..errors import InputError
from ..labelmodels.majority import vote_counts
from .combine import VoteLikelihood, _softmax

MV_WEIGHT = 30.0
"""Log-odds of one vote in ``mv``: more than any h(x) (clipped at 1e-6) can outweigh, so h only breaks ties."""

TEMPERATURES = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)

MIN_SCALES_GAIN = 3.841
"""Smallest likelihood-ratio statistic ``2 · (log-likelihood with two scales - with one T)`` over the answers scored
that makes :func:`choose_risk_scales` keep two scales: the 95 % point of chi-square with 1 degree of freedom (the one
parameter the second scale adds). Below it the single T is kept."""


def _weighted_votes(L: np.ndarray, weights: np.ndarray, k: int, exclude: Sequence[int] = ()) -> np.ndarray:
    """``S[i, c] = Σ_{j voting c on row i, j not excluded} weights[j]``, shape (n, k)."""
    w = np.asarray(weights, dtype=np.float64).copy()
    if len(exclude):
        w[list(exclude)] = 0.0
    n = L.shape[0]
    rows, cols = np.nonzero(L >= 0)
    return np.bincount(rows * k + L[rows, cols], weights=w[cols], minlength=n * k).reshape(n, k)


class Combiner:
    """Base class: ``scores(L, log_h, exclude)`` (n, k) unnormalised log-probabilities; ``posterior``
    divides them by ``temperature_`` and normalises. Subclasses set ``name`` and implement ``fit``/``scores``.
    ``tuned``: the columns of the sources whose weight the harmonizer tunes (the LLM); only ``mvh`` reads it."""

    name = "base"
    fixed_vote_weight = False
    """True when a vote's weight against the prior is set by construction, not learnt (``mv``): only then may the
    risk scale the votes and the prior apart (:func:`choose_risk_scales`)."""

    def __init__(self, n_classes: int, tau: float = 1.0, tuned: Sequence[int] = ()) -> None:
        self.n_classes = int(n_classes)
        self.tau = float(tau)
        self.tuned = tuple(int(j) for j in tuned)
        self.temperature_ = 1.0
        self.risk_scales_: tuple[float, float] | None = None

    def fit(self, L: np.ndarray, log_h: np.ndarray) -> "Combiner":
        """Learn what the candidate needs from the fit rows' votes ``L`` (n, m) and cross-fitted ``log_h`` (n, k)."""
        self.n_sources_ = L.shape[1]
        return self

    def scores(self, L: np.ndarray, log_h: np.ndarray, exclude: Sequence[int] = ()) -> np.ndarray:
        raise NotImplementedError

    def posterior(self, L: np.ndarray, log_h: np.ndarray, exclude: Sequence[int] = ()) -> np.ndarray:
        """q(y | x, L) with the sources in ``exclude`` left out, shape (n, k): ``softmax(scores / T)``, or with
        ``exclude`` and ``risk_scales_ = (a, b)`` ``softmax(a · votes + b · prior)`` (:meth:`parts`)."""
        scales = getattr(self, "risk_scales_", None)
        if len(exclude) and scales is not None:
            votes, prior = self.parts(L, log_h, exclude)
            return _softmax(scales[0] * votes + scales[1] * prior)
        return _softmax(self.scores(L, log_h, exclude) / self.temperature_)

    def parts(self, L: np.ndarray, log_h: np.ndarray, exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """``(votes, prior)``, each (n, k), with ``votes + prior = scores(L, log_h, exclude)``: prior = the scores
        with every source left out (``tau · log h``, plus Dawid–Skene's class prior), votes = the evidence of the
        sources not in ``exclude``."""
        prior = self.scores(L, log_h, exclude=list(range(L.shape[1])))
        return self.scores(L, log_h, exclude) - prior, prior

    def describe(self) -> str:
        return self.name


class HOnly(Combiner):
    """h(x) alone."""

    name = "h"

    def scores(self, L, log_h, exclude=()):
        return np.array(log_h, dtype=np.float64)


class MajorityWithH(Combiner):
    """Equal-weight votes, h(x) breaking ties and answering uncovered rows."""

    name = "mv"
    fixed_vote_weight = True

    def scores(self, L, log_h, exclude=()):
        return MV_WEIGHT * _weighted_votes(L, np.ones(L.shape[1]), self.n_classes, exclude) + log_h


class MajorityTunedAlone(MajorityWithH):
    """``mv``, with h(x) answering the rows where only ``tuned`` sources vote (``mvh``).

    Under ``mv`` the LLM's vote outweighs h wherever no other source votes, whatever its tuned weight. Here its
    vote counts only beside another source's: it joins a majority or breaks a tie, but on a row only it voted on
    h answers. h was trained on the LLM's votes at the weight the gold-free tuning gave it, so that is the LLM as
    far as the tuning trusts it. Among ``combine_candidates`` the selection chooses between it and ``mv``: leaving
    a group of rules out makes rows on which only the LLM votes, and the two are scored there against the left-out
    rules' votes. Opt-in (not in :data:`DEFAULT_CANDIDATES`; measured in docs/results/label_quality.md)."""

    name = "mvh"

    def scores(self, L, log_h, exclude=()):
        m = L.shape[1]
        votes = _weighted_votes(L, np.ones(m), self.n_classes, exclude)
        tuned = [j for j in self.tuned if j not in exclude and j < m]
        if tuned:
            others = np.ones(m, dtype=bool)
            others[tuned] = False
            others[list(exclude)] = False
            alone = ~(L[:, others] >= 0).any(axis=1)
            votes[alone] = 0.0
        return MV_WEIGHT * votes + log_h


class SilenceAsOther(MajorityWithH):
    """``mv`` reading one-sided sources literally: where a source votes, the votes decide (h(x) breaking ties); a
    row where none votes goes to the classes that no source voted for on the fit rows (h(x) choosing among them).

    Used when every vote is for one class and h(x) cannot tell the rows the sources fire on from the rest
    (:mod:`polarlab.harmonizer.one_class`): the sources then say nothing about how common their class is, h(x)
    learnt that class everywhere, and labelling every row with it is surely wrong when the task has other classes.
    Reading a one-sided rule's silence as "not my class" is what a user who wrote only spam rules means (YouTube
    spam, 25 fit rows, TF-IDF features, three spam rules: 0.470 test accuracy, every row spam, before; 0.843 so).

    Attributes (after fit):
        silent_classes_: shape (k,), True for the classes no source voted for on the fit rows.
    """

    name = "silence_other"

    def fit(self, L, log_h):
        self.silent_classes_ = np.bincount(L[L >= 0], minlength=self.n_classes) == 0
        self.n_sources_ = L.shape[1]
        return self

    def scores(self, L, log_h, exclude=()):
        votes = _weighted_votes(L, np.ones(L.shape[1]), self.n_classes, exclude)
        s = MV_WEIGHT * votes + log_h
        silent_rows = votes.sum(axis=1) == 0
        s[np.ix_(silent_rows, ~self.silent_classes_)] -= MV_WEIGHT
        return s


class OneCoinVote(Combiner):
    """Weighted vote, one accuracy per source, learnt by EM with ``tau · log h`` as the per-row prior.

    Args:
        n_classes: k.
        tau: weight of log h(x).
        prior_accuracy, strength: the Beta prior of every source's accuracy (``strength`` pseudo-votes at
            ``prior_accuracy``), which keeps a source with few votes near the prior.
        iterations: maximum EM iterations.

    Attributes (after fit):
        accuracy_: shape (m,), each source's estimated accuracy (clipped to (1/k, 0.999)).
        weights_: shape (m,), ``log((k - 1) a_j / (1 - a_j))``.
    """

    name = "onecoin"

    def __init__(self, n_classes: int, tau: float = 1.0, prior_accuracy: float = 0.7, strength: float = 4.0,
                 iterations: int = 50, tuned: Sequence[int] = ()) -> None:
        super().__init__(n_classes, tau, tuned)
        self.prior_accuracy = float(prior_accuracy)
        self.strength = float(strength)
        self.iterations = int(iterations)

    def _set(self, acc: np.ndarray) -> None:
        k = self.n_classes
        self.accuracy_ = np.clip(acc, 1.0 / k + 1e-3, 0.999)
        self.weights_ = np.log((k - 1) * self.accuracy_ / (1.0 - self.accuracy_))

    def fit(self, L, log_h):
        n, m = L.shape
        k = self.n_classes
        voted = L >= 0
        totals = voted.sum(axis=0)
        rows, cols = np.nonzero(voted)
        q = _softmax(MV_WEIGHT * vote_counts(L, k) + self.tau * log_h)       # start: MV, h breaking ties
        for _ in range(self.iterations):
            hits = np.bincount(cols, weights=q[rows, L[rows, cols]], minlength=m)
            self._set((hits + self.prior_accuracy * self.strength) / (totals + self.strength))
            new = _softmax(_weighted_votes(L, self.weights_, k) + self.tau * log_h)
            done = np.abs(new - q).max() < 1e-5
            q = new
            if done:
                break
        self.n_sources_ = m
        return self

    def scores(self, L, log_h, exclude=()):
        return _weighted_votes(L, self.weights_, self.n_classes, exclude) + self.tau * log_h

    def describe(self) -> str:
        return f"onecoin:{self.tau:g}"


class DawidSkeneWithH(Combiner):
    """Dawid–Skene (abstain as a response) with ``h^tau`` as the per-row prior (:class:`VoteLikelihood`)."""

    name = "ds"

    def fit(self, L, log_h):
        self.likelihood_ = VoteLikelihood(self.n_classes).fit(L, log_h, self.tau)
        self.n_sources_ = L.shape[1]
        return self

    def scores(self, L, log_h, exclude=()):
        vl = self.likelihood_
        C = vl.contributions(L)
        if len(exclude):
            C[:, list(exclude), :] = 0.0
        return vl.log_prior(log_h, self.tau) + C.sum(axis=1)

    def describe(self) -> str:
        return f"ds:{self.tau:g}"


COMBINERS: dict[str, Callable[..., Combiner]] = {
    "h": HOnly, "mv": MajorityWithH, "mvh": MajorityTunedAlone, "onecoin": OneCoinVote, "ds": DawidSkeneWithH,
    "silence_other": SilenceAsOther,
}
"""Candidate kinds by name; a spec is ``"kind"`` or ``"kind:tau"``."""

FALLBACK_CANDIDATE = "ds:2"
"""Used when nothing can be held out (a single source)."""

ONE_CLASS_CANDIDATES = ("mv", "silence_other")
"""The two readings when every vote is for one class (one-sided rules; agreement cannot see over-prediction of that
class), chosen by :func:`polarlab.harmonizer.one_class.one_class_combiner`: ``mv``, the votes decide where they
fire and h(x) everywhere else; ``silence_other``, a row no source votes on goes to the other classes.
Dawid–Skene alone (``ds:0``, the second candidate before) cannot tell the classes apart from one-sided votes: on
YouTube spam subsets with three spam rules (25-150 fit rows, seeds 0-3) its classes switched or collapsed, test
accuracy 0.35-0.57, against 0.684 for WRENCH's majority vote."""

DEFAULT_CANDIDATES = ("mv", "onecoin:1", "ds:1", "ds:2", "ds:3")
"""Simplest first: the selector keeps the first within one standard error of the best (:mod:`.select`). ``mvh`` is
not among them (opt-in: ``combine = "mvh"`` or ``combine_candidates``): as a candidate it raised trec's labels and
the LLM risk's AUROC but also its ECE by 0.012-0.013 (docs/results/label_quality.md)."""


def make_combiner(spec: str, n_classes: int, tuned: Sequence[int] = ()) -> Combiner:
    """The unfitted candidate a spec names (``"mv"``, ``"onecoin:0.5"``, ``"ds:1"``, ...); ``tuned``: the tuned
    sources' columns (:class:`Combiner`)."""
    kind, _, tau = str(spec).partition(":")
    if kind not in COMBINERS:
        raise InputError(f"unknown combination {spec!r}", column="combine",
                         fix=f"use 'auto' or one of {sorted(COMBINERS)} (with ':tau' for a prior weight)")
    try:
        t = float(tau) if tau else 1.0
    except ValueError:
        t = float("nan")
    if not np.isfinite(t) or t < 0:
        raise InputError(f"combination {spec!r} has a bad prior weight", column="combine",
                         fix="write kind:tau with tau >= 0, e.g. 'onecoin:0.5'")
    return COMBINERS[kind](n_classes, tau=t, tuned=tuned)


def _leave_out_setup(comb: Combiner, L: np.ndarray, log_h: np.ndarray, sources: Sequence[int] | None,
                      answers: np.ndarray | None):
    """What :func:`choose_temperature` and :func:`choose_risk_scales` score: ``(C, scores, prior)``, each
    (n', |cols|, k) over the rows where a scored source answered: ``C[i, j, y] = log θ_j(answer_ij | y)`` (θ_j
    the responses given the class, estimated from the candidate's posterior at T = 1), the scores without j and
    their prior part (:meth:`Combiner.parts`: votes = scores - prior); None when no row is scored."""
    k, m = comb.n_classes, L.shape[1]
    q = _softmax(comb.scores(L, log_h))                                        # the posterior at T = 1
    A = L if answers is None else np.asarray(answers)
    onehot = np.eye(k + 1)[A + 1]                                              # (n, m, k + 1)
    theta = np.einsum("nk,nmr->mkr", q, onehot) + 1.0 / (k + 1)
    log_theta = np.log(theta / theta.sum(axis=2, keepdims=True))               # (m, k, k + 1)
    cols = list(range(m)) if not sources else [int(j) for j in sources]
    rows = np.ones(L.shape[0], dtype=bool) if not sources else (A[:, cols] >= 0).any(axis=1)
    if not rows.any():
        return None
    L, A, log_h = L[rows], A[rows], log_h[rows]
    C = np.stack([log_theta[j][:, A[:, j] + 1].T for j in cols], axis=1)      # (n', |cols|, k)
    S = np.stack([comb.scores(L, log_h, exclude=[j]) for j in cols], axis=1)  # (n', |cols|, k)
    prior = comb.scores(L, log_h, exclude=list(range(m)))                     # the same for every j
    return C, S, np.broadcast_to(prior[:, None, :], S.shape)


def _best_temperature(setup: tuple[np.ndarray, np.ndarray, np.ndarray], grid: Sequence[float],
                      default: float) -> float:
    """The T of ``grid`` under which the leave-out scores of ``setup`` (:func:`_leave_out_setup`) best predict the
    answers (mean log-likelihood, first of the grid on ties); ``default`` when no T gives a finite value."""
    C, S, _ = setup
    best, best_t = -np.inf, default
    for t in grid:
        val = float(_answer_loglik(S / t, C).mean())
        if val > best:
            best, best_t = val, float(t)
    return best_t


def _answer_loglik(s: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``log Σ_y softmax(s)(y) exp(C[..., y])`` per row and source, shape (n', |cols|): each answer's log-likelihood."""
    return logsumexp(s + C, axis=-1) - logsumexp(s, axis=-1)


def choose_temperature(comb: Combiner, L: np.ndarray, log_h: np.ndarray,
                       grid: Sequence[float] = TEMPERATURES, sources: Sequence[int] | None = None,
                       answers: np.ndarray | None = None) -> float:
    """Set ``comb.temperature_`` to the T of ``grid`` under which the posterior without source j best predicts
    j's response (mean over rows and sources of ``log Σ_y q_-j(y) θ_j(L_ij | y)``, θ_j the responses given the
    class, estimated from the candidate's own posterior) — the question the risk of j's answer asks; ``sources``:
    only those j (the LLM's, whose risk is read), on the rows where they voted. ``answers`` (n, m): the responses
    to predict when they differ from the votes ``L`` the combination reads (a source left out of the combination,
    whose answers are still scored); default ``L``. Returns T. Never changes an argmax."""
    comb.temperature_ = 1.0
    setup = _leave_out_setup(comb, L, log_h, sources, answers)
    if setup is None:
        return 1.0
    comb.temperature_ = _best_temperature(setup, grid, default=1.0)
    return comb.temperature_


def choose_risk_temperature(comb: Combiner, L: np.ndarray, log_h: np.ndarray, sources: Sequence[int],
                            answers: np.ndarray, grid: Sequence[float] = TEMPERATURES) -> float:
    """The temperature of the risk of ``sources``' answers when the combination does not read them (a tuned
    source silenced by its weight, ×0): the labels' T was chosen by leaving each *other* source out in turn, while
    the risk asks how well the distribution without j predicts *j's* answers (:func:`choose_temperature`'s
    criterion, on ``answers`` (n, m), the votes before silencing). Kept in ``comb.risk_scales_`` as one scale for
    the votes and the prior alike, ``(1/T_r, 1/T_r)``, when it differs from the labels' T (else None). Never
    changes a label. Returns T_r."""
    comb.risk_scales_ = None
    setup = _leave_out_setup(comb, L, log_h, sources, answers)
    if setup is None:
        return comb.temperature_
    best_t = _best_temperature(setup, grid, default=comb.temperature_)
    if best_t != comb.temperature_:
        comb.risk_scales_ = (1.0 / best_t, 1.0 / best_t)
    return best_t


def choose_risk_scales(comb: Combiner, L: np.ndarray, log_h: np.ndarray, grid: Sequence[float] = TEMPERATURES,
                       sources: Sequence[int] | None = None, answers: np.ndarray | None = None,
                       min_gain: float = MIN_SCALES_GAIN) -> tuple[float, float] | None:
    """Two scales for the leave-out distribution (the risk): ``softmax(a · votes + b · prior)``
    (:meth:`Combiner.parts`), ``1/a`` and ``1/b`` each from ``grid``, chosen by the criterion of
    :func:`choose_temperature` (how well the distribution without source j predicts j's answers; same ``sources``
    and ``answers``). One T scales both alike; the prior may deserve more (or less) weight against the votes than
    the combination gives it when j is left out. Only for a candidate whose vote weight is fixed by construction
    (``fixed_vote_weight``: ``mv``, where a vote outweighs any prior so that h only breaks ties); the others learn
    the weight of a vote against the prior (EM), and there one T keeps that learnt balance (on synthetic data two
    scales raised their risk ECE while they lowered ``mv``'s). Kept, in ``comb.risk_scales_``, only when the
    log-likelihood gain over the best single T (``comb.temperature_``, chosen first, or the risk's one scale when
    :func:`choose_risk_temperature` set one) is significant: ``2 · gain >= min_gain`` (:data:`MIN_SCALES_GAIN`);
    else ``risk_scales_`` is left as it was and the single scale serves.
    Never changes a label (the distribution without ``exclude`` keeps T). Returns the scales or None."""
    base = comb.risk_scales_            # one scale of the risk already chosen (:func:`choose_risk_temperature`)
    if not comb.fixed_vote_weight:
        return None
    setup = _leave_out_setup(comb, L, log_h, sources, answers)
    if setup is None:
        return None
    C, S, P = setup
    V = S - P
    one = base[0] if base is not None else 1.0 / comb.temperature_
    single = float(_answer_loglik(S * one, C).sum())
    best, best_ab = single, (one, one)
    for ta in grid:
        for tb in grid:
            val = float(_answer_loglik(V / ta + P / tb, C).sum())
            if val > best:
                best, best_ab = val, (1.0 / float(ta), 1.0 / float(tb))
    if 2.0 * (best - single) < min_gain:
        return None
    comb.risk_scales_ = best_ab
    return best_ab

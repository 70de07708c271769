"""Choosing the final distribution without gold: held-out agreement with the sources left out.

The sources are split into a few groups. For each group g, every candidate is fitted as if g did not exist
(its votes removed, and a prior h_-g(x) cross-fitted to the other sources only), labels the fit rows, and is
scored by how often its label agrees with each left-out source's own votes. For sources better than chance
whose errors are independent of the candidate's, agreement rises with the candidate's accuracy on the rows
the source votes on, so it is a criterion of accuracy (a likelihood criterion instead rewards modelling
which rules fire). Agreements are averaged over the sources of each class first, then over classes, so that
a candidate cannot win by leaning towards the class most rules vote for (rules are usually one-sided: each
votes for one class).

The differences between candidates are often smaller than the criterion's noise (WRENCH sms: 0.006 across all
five), so the choice is the first candidate, in the order given (simplest first), whose criterion is within one
standard error of the best (the one-standard-error rule); the SE of each difference is estimated by a paired
bootstrap over the fit rows and, independently, the sources of each class (:func:`difference_se`).

The groups are :mod:`polarlab.harmonizer.groups`'s (``combine_groups_by``): a seeded random partition by default, or
sources that vote together beyond chance left out together (``"dependency"``), or sources that are wrong together
beyond what the estimated label explains (``"conditional"``); both opt-in: measured, each made the ranking worse, not
better (``docs/results/label_quality.md``, "Correlation-aware source groups", "Label-conditional source groups").

Measured limits (docs/results/label_quality.md): sources whose errors are correlated (several keyword rules
firing on the same wrong rows) reward candidates that trust the votes; the ranking of candidates by this
criterion matched their true accuracy on some datasets and not on others. The one-SE rule moved youtube, sms and
chemprot to candidates better on test than the argmax's (chemprot a close call: gap 0.0100, SE 0.0113).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .combiners import Combiner, make_combiner
from .groups import random_groups


@dataclass(frozen=True)
class CandidateScore:
    """One candidate of the selection: its held-out, class-balanced agreement with the left-out sources, and the
    bootstrap standard error of its agreement minus the best candidate's (paired; 0 for the best itself, NaN when
    not estimated)."""

    candidate: str
    agreement: float
    se: float = float("nan")


source_groups = random_groups
"""The default grouping, a seeded random partition (:func:`polarlab.harmonizer.groups.random_groups`)."""

N_BOOTSTRAP = 200
"""Bootstrap replicates of :func:`difference_se`."""

RESAMPLE = ("rows", "sources")
"""What :func:`difference_se` resamples by default: the fit rows and the sources within each class."""


def source_classes(L: np.ndarray, n_classes: int) -> np.ndarray:
    """The class each source votes most often, shape (m,) (-1 for a source that never votes)."""
    out = np.full(L.shape[1], -1)
    for j in range(L.shape[1]):
        v = L[L[:, j] >= 0, j]
        if v.size:
            out[j] = np.bincount(v, minlength=n_classes).argmax()
    return out


def class_balanced_agreement(agreement: np.ndarray, classes: np.ndarray) -> float:
    """Mean over voted classes of the mean agreement of the sources voting mostly that class.

    Args:
        agreement: shape (m,), each source's held-out agreement (NaN: not scored).
        classes: shape (m,), :func:`source_classes`.
    """
    ok = ~np.isnan(agreement) & (classes >= 0)
    per_class = [agreement[ok & (classes == c)].mean() for c in np.unique(classes[ok])]
    return float(np.mean(per_class)) if per_class else 0.0


def _balanced_scores(agree: np.ndarray, mult: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class-balanced agreement of every candidate in every replicate: the mean over classes of the
    ``mult``-weighted mean agreement of that class's sources (sources with NaN agreement skipped).

    Args:
        agree: shape (c, b, m), each candidate's per-source agreement in each replicate.
        mult: shape (b, m), how many times each source is drawn in each replicate.
        classes: shape (m,), :func:`source_classes`.

    Returns:
        shape (c, b).
    """
    ok = ~np.isnan(agree)
    w = np.where(ok, mult[None], 0.0)
    per_class = []
    for c in np.unique(classes[classes >= 0]):
        cols = classes == c
        tot = w[:, :, cols].sum(axis=2)
        val = np.where(ok[:, :, cols], agree[:, :, cols], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class.append((w[:, :, cols] * val).sum(axis=2) / tot)
    return np.nanmean(np.stack(per_class), axis=0) if per_class else np.zeros(agree.shape[:2])


def difference_se(hits: np.ndarray, voted: np.ndarray, classes: np.ndarray, best: int,
                  n_boot: int = N_BOOTSTRAP, seed: int = 0, resample: Sequence[str] = RESAMPLE,
                  fixed: Sequence[int] = ()) -> np.ndarray:
    """Paired bootstrap standard error of each candidate's class-balanced agreement minus the ``best`` one's.

    The criterion is a mean over sources (within classes) of each source's agreement over the rows it voted on,
    so both are samples: the fit rows (of the data the user could have brought) and the sources (of the rules
    they could have written; correlated sources make this the larger part). Each replicate draws the rows with
    replacement and, independently, the sources of each class with replacement, and recomputes every candidate's
    criterion on the same draw (paired: the candidates' common noise cancels in the difference).

    Args:
        hits: shape (c, n, m), bool, candidate c's held-out label on row i equals source j's vote.
        voted: shape (n, m), bool, source j voted on row i and was scored.
        classes: shape (m,), :func:`source_classes` (-1: not scored).
        best: index of the candidate the differences are taken to.
        n_boot: replicates.
        seed: seed of the draws.
        resample: a subset of ``("rows", "sources")``.
        fixed: sources that are not draws from a population of rules (the tuned LLM): counted once in every
            replicate, never resampled.

    Returns:
        shape (c,), the standard deviation of the replicates' differences (0 for ``best``).
    """
    n_cand, n, m = hits.shape
    rng = np.random.default_rng(seed + 15485863)
    scored = voted.any(axis=0) & (classes >= 0)
    hits_f = hits.astype(np.float32)
    voted_f = voted.astype(np.float32)
    diffs = []
    for chunk in np.array_split(np.arange(n_boot), max(1, n_boot // 50)):
        b = len(chunk)
        if "rows" in resample:
            W = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float32)    # (b, n) row multiplicities
        else:
            W = np.ones((b, n), dtype=np.float32)
        den = W @ voted_f                                                           # (b, m)
        num = np.einsum("bn,cnm->cbm", W, hits_f, optimize=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            agree = np.where(den[None] > 0, num / np.where(den > 0, den, 1.0)[None], np.nan).astype(np.float64)
        agree[:, :, ~scored] = np.nan
        mult = np.zeros((b, m))
        keep = np.zeros(m, dtype=bool)
        keep[list(fixed)] = True
        mult[:, keep & scored] = 1.0
        for c in np.unique(classes[scored]):
            cols = np.flatnonzero(scored & (classes == c) & ~keep)
            if not len(cols):
                continue
            if "sources" in resample:
                mult[:, cols] = rng.multinomial(len(cols), np.full(len(cols), 1.0 / len(cols)), size=b)
            else:
                mult[:, cols] = 1.0
        scores = _balanced_scores(agree, mult, classes)                             # (c, b)
        diffs.append(scores - scores[best][None])
    d = np.concatenate(diffs, axis=1)
    return np.nan_to_num(np.nanstd(d, axis=1, ddof=1)) if d.shape[1] > 1 else np.zeros(n_cand)


def one_se_choice(scores: Sequence[float], se: Sequence[float], n_se: float = 1.0) -> int:
    """The first candidate (in the given order: simplest first) whose score is within ``n_se`` standard errors of
    the best score (Breiman et al.'s one-standard-error rule); ``n_se = 0``: the best (ties: the first)."""
    s = np.asarray(scores, dtype=np.float64)
    best = int(np.argmax(s))
    gap = s[best] - s
    ok = gap <= float(n_se) * np.nan_to_num(np.asarray(se, dtype=np.float64)) + 1e-12
    return int(np.flatnonzero(ok)[0]) if ok.any() else best


def scores_and_se(hits: np.ndarray, voted: np.ndarray, classes: np.ndarray, seed: int
                  ) -> tuple[list[float], np.ndarray]:
    """Each candidate's class-balanced held-out agreement and the bootstrap SE of its difference to the best.

    Args:
        hits: shape (c, n, m), bool, candidate c's held-out label on row i equals source j's vote (set to False where
            j did not vote).
        voted: shape (n, m), bool, source j voted on row i and was scored (a source in no group: never).
        classes: shape (m,), :func:`source_classes`.
        seed: seed of :func:`difference_se`.

    Returns:
        ``(scores, se)``: c scores (:func:`class_balanced_agreement`) and shape (c,) SEs (0 for the best).
    """
    hits = hits & voted[None]
    counts = voted.sum(axis=0)                                          # a source outside every group: NaN
    agree = np.where(counts > 0, hits.sum(axis=1) / np.maximum(counts, 1), np.nan)
    score = [class_balanced_agreement(a, classes) for a in agree]
    return score, difference_se(hits, voted, classes, int(np.argmax(score)), seed=seed)


def select_by_agreement(L: np.ndarray, log_h: np.ndarray, held_out: Sequence[tuple[np.ndarray, np.ndarray]],
                        n_classes: int, candidates: Sequence[str], n_se: float = 1.0, seed: int = 0,
                        tuned: Sequence[int] = ()) -> tuple[Combiner, list[CandidateScore], list[Combiner]]:
    """Score every candidate by its held-out agreement and fit the chosen one on all fit rows.

    For each source group g, each candidate is fitted on the votes without g and with the prior h_-g (so
    neither its parameters nor its prior ever saw g), labels every row, and each source j of g scores
    ``mean[label_i == L_ij]`` over the rows j voted on. The score is the mean of those agreements over the
    sources of each voted class, then over classes (:func:`class_balanced_agreement`). The chosen candidate is
    the first of ``candidates`` whose score is within ``n_se`` bootstrap standard errors
    (:func:`difference_se`) of the best score (:func:`one_se_choice`): the differences between candidates are
    often smaller than their noise, and the simpler candidate listed first is then kept.

    Args:
        L: shape (n, m), the fit rows' votes.
        log_h: shape (n, k), log of the cross-fitted h (fitted to every source) on those rows.
        held_out: per source group, (its column indices, log of a cross-fitted h fitted without them, (n, k)).
        n_classes: k.
        candidates: specs of :func:`polarlab.harmonizer.combiners.make_combiner`, simplest first.
        n_se: standard errors of tolerance (0: the best score, ties to the first listed; the SEs are reported
            either way).
        seed: seed of the bootstrap.
        tuned: the tuned sources' columns, for the candidates that read them (``mvh``).

    Returns:
        (the chosen candidate, fitted on all rows with ``log_h``; one :class:`CandidateScore` per candidate; the
        chosen candidate as fitted for each group of ``held_out``, in its order: on the votes without the group,
        with its prior, for :func:`polarlab.harmonizer.labels_from.votes_or_features` to reuse).
    """
    n, m = L.shape
    classes = source_classes(L, n_classes)
    hits = np.zeros((len(candidates), n, m), dtype=bool)
    voted = np.zeros((n, m), dtype=bool)
    fits: list[list[Combiner]] = [[] for _ in candidates]          # per candidate, its fit for each group
    for cols, log_h_g in held_out:
        L_g = L.copy()
        L_g[:, cols] = -1
        voted[:, cols] = L[:, cols] >= 0
        for c, spec in enumerate(candidates):
            fits[c].append(make_combiner(spec, n_classes, tuned).fit(L_g, log_h_g))
            pred = fits[c][-1].scores(L_g, log_h_g).argmax(axis=1)
            hits[c][:, cols] = pred[:, None] == L[:, cols]
    score, se = scores_and_se(hits, voted, classes, seed)
    best = int(np.argmax(score))
    chosen = one_se_choice(score, se, n_se) if n_se > 0 else best
    table = [CandidateScore(str(spec), float(s), float(e)) for spec, s, e in zip(candidates, score, se)]
    return make_combiner(candidates[chosen], n_classes, tuned).fit(L, log_h), table, fits[chosen]

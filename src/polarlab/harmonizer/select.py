"""Choosing the final distribution without gold: held-out agreement with the sources left out.

The sources are split into a few groups. For each group g, every candidate is fitted as if g did not exist
(its votes removed, and a prior h_-g(x) cross-fitted to the other sources only), labels the fit rows, and is
scored by how often its label agrees with each left-out source's own votes. For sources better than chance
whose errors are independent of the candidate's, agreement rises with the candidate's accuracy on the rows
the source votes on, so it is a criterion of accuracy (a likelihood criterion instead rewards modelling
which rules fire). Agreements are averaged over the sources of each class first, then over classes, so that
a candidate cannot win by leaning towards the class most rules vote for (rules are usually one-sided: each
votes for one class).

Measured limits (README, label-quality section): sources whose errors are correlated (several keyword rules
firing on the same wrong rows) reward candidates that trust the votes; the ranking of candidates by this
criterion matched their true accuracy on some datasets and not on others.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .combiners import Combiner, make_combiner


@dataclass(frozen=True)
class CandidateScore:
    """One candidate of the selection and its held-out, class-balanced agreement with the left-out sources."""

    candidate: str
    agreement: float


def source_groups(m: int, n_groups: int = 5, seed: int = 0) -> list[np.ndarray]:
    """A seeded partition of the m sources into ``min(n_groups, m)`` groups (column indices)."""
    order = np.random.default_rng(seed + 104729).permutation(m)
    return [np.sort(g) for g in np.array_split(order, max(1, min(n_groups, m)))]


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


def select_by_agreement(L: np.ndarray, log_h: np.ndarray, held_out: Sequence[tuple[np.ndarray, np.ndarray]],
                        n_classes: int, candidates: Sequence[str]
                        ) -> tuple[Combiner, list[CandidateScore]]:
    """Score every candidate by its held-out agreement and fit the best one on all fit rows.

    For each source group g, each candidate is fitted on the votes without g and with the prior h_-g (so
    neither its parameters nor its prior ever saw g), labels every row, and each source j of g scores
    ``mean[label_i == L_ij]`` over the rows j voted on. The score is the mean of those agreements over the
    sources of each voted class, then over classes (:func:`class_balanced_agreement`).

    Args:
        L: shape (n, m), the fit rows' votes.
        log_h: shape (n, k), log of the cross-fitted h (fitted to every source) on those rows.
        held_out: per source group, (its column indices, log of a cross-fitted h fitted without them, (n, k)).
        n_classes: k.
        candidates: specs of :func:`polarlab.harmonizer.combiners.make_combiner`; ties go to the first listed.

    Returns:
        (the chosen candidate, fitted on all rows with ``log_h``; one :class:`CandidateScore` per candidate).
    """
    m = L.shape[1]
    classes = source_classes(L, n_classes)
    agree = np.full((len(candidates), m), np.nan)
    for cols, log_h_g in held_out:
        L_g = L.copy()
        L_g[:, cols] = -1
        for c, spec in enumerate(candidates):
            pred = make_combiner(spec, n_classes).fit(L_g, log_h_g).scores(L_g, log_h_g).argmax(axis=1)
            for j in cols:
                ok = L[:, j] >= 0
                if ok.any():
                    agree[c, j] = float((pred[ok] == L[ok, j]).mean())
    score = [class_balanced_agreement(a, classes) for a in agree]
    best = int(np.argmax(score))
    table = [CandidateScore(str(spec), float(s)) for spec, s in zip(candidates, score)]
    return make_combiner(candidates[best], n_classes).fit(L, log_h), table

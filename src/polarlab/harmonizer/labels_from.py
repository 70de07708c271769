"""Votes or features: whether the final labels read each row's votes, chosen without gold.

The chosen candidate (:mod:`polarlab.harmonizer.select`) lets the votes decide wherever they fire, with h(x) as a
prior. When the rules are noisy and the features carry the class, a classifier trained on the candidate's labels
(the two-stage pipeline's end model, :class:`polarlab.harmonizer.stage2.FeatureClassifier`) is right more often
than the votes on the very rows they vote on: it averages the rules' errors away instead of copying them.
Measured on DataSculpt's LLM-written keyword rules for WRENCH sms (rules right on 90-91 % of the test rows they
vote on, the classifier on 96-97 %), POLAR was 0.12-0.22 F1 below label model -> logistic regression; on youtube
with the same kind of rules the votes won (docs/results/label_quality.md).

The choice uses the selection's own criterion: for each source group g left out, the candidate is fitted without
g, and both (a) its labels and (b) the labels of the classifier cross-fitted on its distributions (features only)
are scored by their agreement with g's votes, class-balanced (:func:`polarlab.harmonizer.select.class_balanced_agreement`).
The features are kept when (b) scores higher. The paired bootstrap SE of the difference is reported, not used.

Opt-in (``labels_from = "auto"``; default ``"votes"``). Measured (docs/results/label_quality.md): on DataSculpt's
sms rules it chose the features on 3 of 4 fits (seeds 0-1) and raised F1 (GPT-3.5: 0.641 -> 0.787 on seed 0;
GPT-4: 0.699 -> 0.805 mean), still below the best two-stage baseline; on WRENCH youtube, chemprot and census it chose them by margins of 0.1-0.2 SE and lowered
youtube 0.904 -> 0.884 and chemprot 0.581 -> 0.540 (youtube with the LLM 0.920 -> 0.896). Every margin, for or
against, was below one SE, so the criterion cannot make this choice reliably yet.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .combine import _softmax
from .combiners import Combiner, make_combiner
from .select import CandidateScore, scores_and_se, source_classes
from .stage2 import cross_fitted_proba

LABELS_FROM = ("auto", "votes", "features")
"""``labels_from`` settings: chosen without gold, always the votes (with h(x) as prior), always the features."""

MAX_ROWS = 20_000
"""Rows the choice is scored on at most (a seeded sample above it: the classifier is cross-fitted once per group)."""


def features_tag(spec: str) -> str:
    """The name of the features-only form of candidate ``spec`` in ``combine_table_``."""
    return f"features({spec})"


def votes_or_features(L: np.ndarray, X: np.ndarray, held_out: Sequence[tuple[np.ndarray, np.ndarray]], spec: str,
                      n_classes: int, *, C: float, folds: int, seed: int, max_rows: int = MAX_ROWS,
                      fitted: Sequence[Combiner] | None = None, tuned: Sequence[int] = ()
                      ) -> tuple[CandidateScore, CandidateScore]:
    """Held-out agreement of candidate ``spec`` reading the votes and of its features-only classifier.

    Args:
        L: shape (n, m), the fit rows' votes (as the combination reads them).
        X: shape (n, d), their features.
        held_out: per source group, (its column indices, log of a cross-fitted h fitted without them, (n, k)), as
            :func:`polarlab.harmonizer.select.select_by_agreement` takes them.
        spec: the chosen candidate (:func:`polarlab.harmonizer.combiners.make_combiner`).
        n_classes: k.
        C: the classifier's inverse L2 strength (the fallback classifier's, chosen on all fit rows).
        folds: folds of its cross-fitting.
        seed: seeds the row sample, the folds and the bootstrap.
        max_rows: rows scored at most.
        fitted: candidate ``spec`` already fitted for each group of ``held_out`` (same order; the selection's,
            :func:`polarlab.harmonizer.select.select_by_agreement`), reused instead of fitted again; None = fit here.
        tuned: the tuned sources' columns, for a candidate that reads them (``mvh``).

    Returns:
        ``(votes, features)``: two :class:`CandidateScore`; each ``se`` is the bootstrap SE of the difference
        to the better of the two (0 for it).
    """
    n, m = L.shape
    rows = np.arange(n)
    if n > max_rows:
        rows = np.sort(np.random.default_rng(seed + 31).choice(n, max_rows, replace=False))
    Lr = L[rows]
    hits = np.zeros((2, len(rows), m), dtype=bool)
    voted = np.zeros((len(rows), m), dtype=bool)
    if fitted is not None and len(fitted) != len(held_out):
        raise ValueError(f"{len(fitted)} fitted candidates for {len(held_out)} source groups")
    for g, (cols, log_h_g) in enumerate(held_out):
        L_g = L.copy()
        L_g[:, cols] = -1
        voted[:, cols] = Lr[:, cols] >= 0
        comb = fitted[g] if fitted is not None else make_combiner(spec, n_classes, tuned).fit(L_g, log_h_g)
        scores = comb.scores(L_g, log_h_g)[rows]
        hits[0][:, cols] = scores.argmax(axis=1)[:, None] == Lr[:, cols]
        q = _softmax(scores)                     # the distributions the fallback classifier is trained on (T = 1)
        y = q.argmax(axis=1)
        y[~(L_g[rows] >= 0).any(axis=1)] = -1
        P = cross_fitted_proba(n_classes, y, X[rows], q, folds, seed + 7919, C=C)
        hits[1][:, cols] = P.argmax(axis=1)[:, None] == Lr[:, cols]
    score, se = scores_and_se(hits, voted, source_classes(Lr, n_classes), seed)
    return (CandidateScore(spec, float(score[0]), float(se[0])),
            CandidateScore(features_tag(spec), float(score[1]), float(se[1])))

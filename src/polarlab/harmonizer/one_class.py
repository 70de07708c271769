"""Votes for one class only (one-sided rules): how the rows no source votes on are read.

When every vote is for one class c, agreement with the sources cannot see over-prediction of c, so the selection of
:mod:`polarlab.harmonizer.select` has nothing to go on, and h(x), trained on those votes alone, leans to c
everywhere. Two readings remain (:data:`polarlab.harmonizer.combiners.ONE_CLASS_CANDIDATES`):

- ``mv``: the votes decide where they fire, h(x) everywhere else. Right when h carries the class: a held-out h
  must then rank the rows the sources fire on above the rest (they are all c; the rest is a mix).
- ``silence_other``: a row no source votes on goes to the other classes (what a user who wrote only spam rules
  means). Used when h does not rank them so (its labels of the silent rows would be noise), or when h gives
  every fit row class c.

The test is one-sided Mann–Whitney on the cross-fitted log-odds of c, covered rows against silent ones, at
``MAX_P``. Measured on YouTube spam subsets with three spam rules (25-150 fit rows, seeds 0-3; docs/results/
label_quality.md, "One-sided rules on small projects").
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.special import logsumexp
from scipy.stats import mannwhitneyu

from .combiners import ONE_CLASS_CANDIDATES, Combiner, make_combiner

MAX_P = 0.05
"""h(x) breaks the silences only if it ranks the covered rows above the silent ones at this one-sided level."""


def separation_p(L: np.ndarray, log_h: np.ndarray) -> float:
    """One-sided p-value that the cross-fitted h ranks rows some source voted on above the others by the log-odds
    of the voted class (``L``: (n, m), votes for one class; ``log_h``: (n, k)). 1.0 when either group is empty."""
    covered = (L >= 0).any(axis=1)
    if covered.all() or not covered.any():
        return 1.0
    c = int(L[L >= 0][0])
    odds = log_h[:, c] - logsumexp(np.delete(log_h, c, axis=1), axis=1)
    return float(mannwhitneyu(odds[covered], odds[~covered], alternative="greater").pvalue)


def one_class_combiner(L: np.ndarray, log_h: np.ndarray, n_classes: int, tuned: Sequence[int] = ()) -> Combiner:
    """The reading of ``ONE_CLASS_CANDIDATES`` to use, fitted: ``mv`` when h separates (:func:`separation_p` <=
    ``MAX_P``) and gives some fit row another class, else ``silence_other``."""
    first, last = ONE_CLASS_CANDIDATES
    if separation_p(L, log_h) <= MAX_P:
        comb = make_combiner(first, n_classes, tuned).fit(L, log_h)
        if len(np.unique(comb.scores(L, log_h).argmax(axis=1))) >= 2:
            return comb
    return make_combiner(last, n_classes, tuned).fit(L, log_h)

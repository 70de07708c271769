"""Learnability of a candidate's labels (:mod:`polarlab.harmonizer.learnability`): a gold-free score measured as a
selection criterion (issue 10; rejected as the criterion, kept as a column of benchmarks/combine_selection.py)."""
from __future__ import annotations

import numpy as np

from polarlab.harmonizer.learnability import balanced_agreement, learnability


def features_and_class(seed: int, n: int = 600, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Features X (n, d) whose first column carries the class y (n,) with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    X[:, 0] += 2.0 * y
    return X, y


def test_random_label_errors_make_labels_less_learnable_than_the_class() -> None:
    for seed in range(3):
        X, y = features_and_class(seed)
        rng = np.random.default_rng(seed + 100)
        noisy = np.where(rng.random(len(y)) < 0.25, 1 - y, y)
        clean, flipped = learnability(y, X, 2, seed=seed), learnability(noisy, X, 2, seed=seed)
        assert clean["balanced"] > flipped["balanced"] + 0.05
        assert clean["loglik"] > flipped["loglik"]


def test_errors_the_features_predict_are_learnable_too() -> None:
    # the criterion's known limit: errors made by a rule on the features (keyword rules erring together) are as
    # learnable as the class itself, more than as many errors at random
    X, y = features_and_class(0)
    systematic = np.where(X[:, 1] > 1.0, 1 - y, y)                   # ~16 % of the rows, chosen by feature 1
    rng = np.random.default_rng(7)
    random_flip = y.copy()
    idx = rng.choice(len(y), int((systematic != y).sum()), replace=False)
    random_flip[idx] = 1 - y[idx]
    assert learnability(systematic, X, 2)["balanced"] > learnability(random_flip, X, 2)["balanced"]


def test_one_class_everywhere_cannot_win() -> None:
    X, y = features_and_class(1)
    one = np.zeros_like(y)
    assert learnability(one, X, 3)["balanced"] == 1.0 / 3
    assert learnability(one, X, 3)["balanced"] < learnability(y, X, 3)["balanced"]


def test_balanced_agreement_counts_every_class_and_only_the_given_rows() -> None:
    labels = np.array([0, 0, 1, 1])
    assert balanced_agreement(np.array([0, 1, 1, 1]), labels, 2) == 0.75
    assert balanced_agreement(labels, labels, 3) == 2.0 / 3                 # class 2 never given: 0
    X, y = features_and_class(2)
    y_part = y.copy()
    y_part[::2] = -1                                                        # unlabelled rows are left out
    rows = np.arange(1, len(y), 2)
    assert learnability(y_part, X, 2, seed=0) == learnability(y, X, 2, rows=rows, seed=0)

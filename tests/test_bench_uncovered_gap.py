"""benchmarks/uncovered_gap.py: its scikit-learn replica of h's objective is h's objective (the diagnosis rests on it)."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark_loader import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("uncovered_gap")


def _votes(n: int = 400, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Informative features, four noisy rules of uneven coverage (a third of the rows get no vote)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) + 0.8 * y[:, None]
    L = np.full((n, 4), -1)
    for j, (cover, acc) in enumerate(((0.5, 0.8), (0.3, 0.7), (0.2, 0.9), (0.1, 0.6))):
        fire = rng.random(n) < cover
        right = rng.random(n) < acc
        L[fire, j] = np.where(right[fire], y[fire], 1 - y[fire])
    return L, X.astype(np.float32)


def test_vote_weights_are_the_linear_scalarizations_aggregate(bench):
    import torch

    from polarlab.harmonizer.scalarize import class_aggregate

    L, _ = _votes()
    agg = class_aggregate("linear", torch.from_numpy(L), torch.ones(L.shape[1]), 2).numpy()
    assert np.array_equal(bench.vote_weights(L, 2), agg)


@pytest.mark.parametrize("C", [0.01, 0.1])
def test_scalarized_lr_matches_h_at_the_same_penalty(bench, C):
    """h (linear scalarization, equal weights, no held-out rows, trained to convergence) with weight_decay = l2(C)
    and the replica at that C give the same distributions; at another C they differ (the test can fail)."""
    from polarlab.harmonizer import PolarHarmonizer

    L, X = _votes()
    n = len(L)
    h = PolarHarmonizer(2, combine="h", val_fraction=0.0, weight_decay=bench.l2(C, n, 2, 0.0), epochs=200,
                        lbfgs_iter=20).fit(L, X)
    ours = h.predict_h(X)
    same = bench.scalarized_lr(L, X, 2, Cs=(C,)).proba(X)
    other = bench.scalarized_lr(L, X, 2, Cs=(C / 10,)).proba(X)
    assert np.abs(ours - same).max() < 2e-3
    assert np.abs(ours - other).max() > 1e-2

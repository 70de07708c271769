"""Source reweighting: hand values and the property each method claims."""
import numpy as np
import pytest

from polarlab.harmonizer.reweight import (agreement_covariance, loss_gradients, max_eigen_weights,
                                          min_var_weights, residual_moments, source_weights)


def _source(rng, y, acc, cov, k=2):
    wrong = (y + rng.integers(1, k, y.size)) % k
    v = np.where(rng.random(y.size) < acc, y, wrong)
    v[rng.random(y.size) > cov] = -1
    return v


def test_loss_gradients_by_hand():
    L = np.array([[1, -1], [0, 0]])
    proba = np.array([[0.25, 0.75], [0.5, 0.5]])
    G = loss_gradients(L, proba)
    assert G.shape == (2, 2, 2)
    np.testing.assert_allclose(G[0, 0], [0.25, -0.25])   # p - onehot(1)
    np.testing.assert_allclose(G[0, 1], [0.0, 0.0])      # abstained
    np.testing.assert_allclose(G[1, 1], [-0.5, 0.5])     # p - onehot(0)


def test_min_var_hand_value():
    # independent sources with variances 1 and 4: w ∝ (1/1, 1/4) -> mean-one (1.6, 0.4)
    np.testing.assert_allclose(min_var_weights(np.diag([1.0, 4.0]), ridge=0.0), [1.6, 0.4], rtol=1e-6)


def test_max_eigen_recovers_rank_one_loadings():
    a = np.array([0.6, 0.3, 0.3])
    cov = np.outer(a, a) + np.diag([1.0, 1.0, 1.0])       # diagonal does not follow the rank-one part
    np.testing.assert_allclose(max_eigen_weights(cov), a / a.mean(), rtol=1e-4)


def test_max_eigen_orders_sources_by_accuracy():
    """Property: more accurate sources weigh more; a source voting at random gets ~0."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20000)
    L = np.column_stack([_source(rng, y, acc, 0.5) for acc in (0.9, 0.8, 0.7, 0.5)])
    w = source_weights(L, "max_eigen", n_classes=2)
    assert w[0] > w[1] > w[2] > w[3]
    assert w[3] < 0.1 * w[0]


def test_max_eigen_with_one_sided_rules():
    """Rules that only ever vote one class (spam rules, ham rules) still get positive weights."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 20000)
    def rule(cls, precision, cov):
        fire = rng.random(y.size) < cov
        correct = rng.random(y.size) < precision
        on = fire & (((y == cls) & correct) | ((y != cls) & ~correct))
        return np.where(on, cls, -1)
    L = np.column_stack([rule(1, 0.95, 0.3), rule(0, 0.9, 0.3), rule(1, 0.5, 0.3)])
    w = source_weights(L, "max_eigen", n_classes=2)
    assert w[0] > 0.5 and w[1] > 0.5
    assert w[2] < 0.2 * min(w[0], w[1])


def test_max_eigen_copy_gets_the_same_weight_as_original():
    """Stated limitation: max_eigen does not penalise redundancy; a copy weighs as its original."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 20000)
    a, b, c = (_source(rng, y, acc, 0.6) for acc in (0.8, 0.8, 0.7))
    w = source_weights(np.column_stack([a, a, b, c]), "max_eigen", n_classes=2)
    assert w[0] == pytest.approx(w[1], rel=1e-6)
    assert w[0] >= w[2]


def test_min_var_duplicate_pair_shares_the_weight_of_one_source():
    """Property: duplicating source A splits A's weight between the copies; ratios to the
    other sources are unchanged, and each copy weighs less than an equally good independent source."""
    rng = np.random.default_rng(3)
    n = 20000
    y = rng.integers(0, 2, n)
    a, b, c = (_source(rng, y, acc, 0.7) for acc in (0.8, 0.8, 0.6))
    proba = np.where(y[:, None] == np.arange(2), 0.75, 0.25)   # a fixed harmonizer h
    w3 = source_weights(np.column_stack([a, b, c]), "min_var", proba=proba)
    w4 = source_weights(np.column_stack([a, a, b, c]), "min_var", proba=proba)
    assert w4[0] == pytest.approx(w4[1], rel=1e-6)
    assert (w4[0] + w4[1]) / w4[2] == pytest.approx(w3[0] / w3[1], rel=1e-3)
    assert w4[3] / w4[2] == pytest.approx(w3[2] / w3[1], rel=1e-3)
    assert w4[0] < w4[2]
    assert w3[2] < w3[1]          # the noisier source (acc 0.6) weighs less


def test_residual_moments_psd_and_agreement_covariance_shape():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 500)
    L = np.column_stack([_source(rng, y, 0.7, 0.5, k=3) for _ in range(4)])
    proba = rng.dirichlet(np.ones(3), 500)
    S = residual_moments(L, proba)
    assert np.linalg.eigvalsh(S).min() > -1e-10
    C = agreement_covariance(L, 3)
    assert C.shape == (4, 4) and np.allclose(C, C.T)


def test_never_voting_source_gets_zero_weight():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 5000)
    L = np.column_stack([_source(rng, y, 0.8, 0.6), _source(rng, y, 0.7, 0.6), np.full(5000, -1)])
    proba = np.where(y[:, None] == np.arange(2), 0.7, 0.3)
    for method, kw in (("max_eigen", {"n_classes": 2}), ("min_var", {"proba": proba})):
        w = source_weights(L, method, **kw)
        assert w[2] == 0.0 and w.mean() == pytest.approx(1.0)


def test_moments_match_their_definitions_on_loss_gradients():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 300)
    L = np.column_stack([_source(rng, y, 0.7, 0.5, k=3) for _ in range(4)])
    proba = rng.dirichlet(np.ones(3), 300)
    G = loss_gradients(L, proba)                                  # (n, m, k)
    mask = (L >= 0).astype(float)
    overlap = mask.T @ mask
    S_def = np.einsum("ijc,ikc->jk", G, G) / overlap              # every pair overlaps >= 10 here
    assert overlap.min() >= 10
    np.testing.assert_allclose(residual_moments(L, proba), S_def, atol=1e-8)   # already PSD
    Gu = loss_gradients(L, np.full((300, 3), 1 / 3))
    Gu = Gu - Gu.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(agreement_covariance(L, 3), np.einsum("ijc,ikc->jk", Gu, Gu) / 300, atol=1e-10)

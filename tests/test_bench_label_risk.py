"""The gold-free label-risk estimators of benchmarks/label_risk.py on synthetic votes with known accuracies."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark_loader import load_benchmark


@pytest.fixture(scope="module")
def lr():
    return load_benchmark("label_risk")


def synthetic(n: int, acc: np.ndarray, k: int, coverage: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gold y (n,) and votes L (n, m): source j votes with probability ``coverage``, right with ``acc[j]``, else a
    uniformly drawn wrong class (conditionally independent, symmetric noise)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    L = np.full((n, len(acc)), -1, dtype=np.int64)
    for j, a in enumerate(acc):
        votes = rng.random(n) < coverage
        right = rng.random(n) < a
        wrong = (y + rng.integers(1, k, n)) % k
        L[votes, j] = np.where(right, y, wrong)[votes]
    return y, L


def test_triplet_recovers_known_accuracies(lr):
    k = 3
    acc = np.array([0.9, 0.7, 0.55])
    _, V = synthetic(20000, acc, k, coverage=0.8, seed=0)
    est = lr.triplet_accuracies(V, k)
    assert est is not None
    np.testing.assert_allclose(est, acc, atol=0.03)


def test_triplet_says_nothing_without_overlap_or_with_anti_agreement(lr):
    V = np.full((100, 3), -1)
    V[:50, 0] = 0
    V[50:, 1] = 0
    V[:, 2] = 0
    assert lr.triplet_accuracies(V, 2) is None                   # groups 0 and 1 never vote together
    V = np.stack([np.zeros(100), np.ones(100), np.zeros(100)], axis=1).astype(int)
    assert lr.triplet_accuracies(V, 2) is None                   # group 1 always disagrees: M <= 0


def test_group_votes_abstain_on_ties_and_silence(lr):
    L = np.array([[0, 0, 1, -1], [0, 1, -1, -1], [-1, -1, 2, 2]])
    V = lr.group_votes(L, [np.array([0, 1]), np.array([2, 3])], 3)
    np.testing.assert_array_equal(V, [[0, 1], [-1, -1], [-1, 2]])


def test_group_risk_is_calibrated_when_its_assumptions_hold(lr):
    """Three conditionally independent sources (so every split puts one in each group), flat prior, the label a
    function of the group votes (their majority): the naive-Bayes risk matches the error rate and ranks the errors,
    while the majority vote's one-hot 'risk' (0 wherever it has a winner) does not."""
    from polarlab.risk import calibration_report

    k = 3
    acc = np.array([0.85, 0.7, 0.6])
    _, L_fit = synthetic(8000, acc, k, coverage=0.7, seed=1)
    y, L = synthetic(4000, acc, k, coverage=0.7, seed=2)
    prior = np.full((len(y), k), 1.0 / k)
    labels = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).argmax(axis=1)
    risk, valid, accs = lr.group_agreement_risk(L_fit, L, prior, labels, k, seed=0)
    assert valid == lr.REPEATS
    np.testing.assert_allclose(sorted(accs[0]), sorted(acc), atol=0.03)
    rep = calibration_report(risk, labels != y)
    assert abs(rep.mean_risk - rep.error_rate) < 0.02
    assert rep.ece < 0.03
    assert rep.auroc > 0.75
    one_hot = calibration_report(np.where((L >= 0).any(axis=1), 0.0, 2 / 3), labels != y)
    assert one_hot.ece > 3 * rep.ece


def test_group_risk_falls_back_to_the_prior_when_no_split_is_valid(lr):
    L = np.full((30, 3), -1)
    L[:, 0] = 0                                                   # only one source ever votes
    prior = np.tile([0.6, 0.4], (30, 1))
    risk, valid, accs = lr.group_agreement_risk(L, L, prior, np.zeros(30, dtype=int), 2)
    assert valid == 0 and accs == []
    np.testing.assert_allclose(risk, 0.4)


def test_loo_risk_averages_over_the_voting_sources(lr):
    L = np.array([[0, 1, -1], [-1, -1, -1], [0, -1, -1]])
    labels = np.array([0, 1, 0])
    without = {0: np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]]),
               1: np.array([[0.6, 0.4], [0.5, 0.5], [0.7, 0.3]]),
               2: np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])}     # source 2 never votes: never read
    r = lr.loo_risk(lambda j: without[j], L, labels, fallback=np.array([0.11, 0.22, 0.33]))
    np.testing.assert_allclose(r, [(0.8 + 0.4) / 2, 0.22, 0.1])


def test_label_risks_with_a_fitted_harmonizer(lr):
    """The real harmonizer on synthetic votes and features: every estimator gives one risk in [0, 1] per row, (i) is
    today's 1 − max p, and a row with no vote gets h's risk from the leave-one-out."""
    from polarlab.harmonizer import PolarHarmonizer

    k = 2
    acc = np.array([0.85, 0.8, 0.75, 0.7, 0.65, 0.6])
    y_fit, L_fit = synthetic(400, acc, k, coverage=0.4, seed=3)
    y, L = synthetic(200, acc, k, coverage=0.4, seed=4)
    L[0] = -1
    rng = np.random.default_rng(5)
    X_fit = (rng.normal(size=(400, 4)) + y_fit[:, None]).astype(np.float32)
    X = (rng.normal(size=(200, 4)) + y[:, None]).astype(np.float32)
    h = PolarHarmonizer(k, seed=0).fit(L_fit, X_fit)
    P = h.predict_proba(L, X)
    labels = P.argmax(axis=1)
    risks, extra = lr.label_risks(h, L_fit, L, X_fit, X, labels, k)
    assert set(risks) == set(lr.ESTIMATORS)
    for r in risks.values():
        assert r.shape == (200,) and np.all((r >= 0) & (r <= 1))
    np.testing.assert_allclose(risks["max_p"], 1 - P.max(axis=1))
    assert risks["loo"][0] == pytest.approx(risks["h"][0])
    assert 0 <= extra["groups_valid_splits"] <= lr.REPEATS

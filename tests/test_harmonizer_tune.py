"""Choosing the LLM's source weight without gold (harmonizer/tune.py)."""
import math

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer, heldout_loss
from polarlab.risk import calibration_report, risk_score


def _with_llm(acc, seed=0, n=2000, d=10):
    """Five noisy rules (acc 0.65-0.75, 60 % coverage) plus an 'LLM' column that votes on every row."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ rng.normal(size=d) > 0).astype(np.int64)
    L = np.column_stack([np.where(rng.random(n) < a, y, 1 - y) for a in (0.75, 0.7, 0.7, 0.65, 0.65)])
    L[rng.random(L.shape) > 0.6] = -1
    llm = np.where(rng.random(n) < acc, y, 1 - y)
    return X, y, np.column_stack([L, llm])


def test_heldout_loss_by_hand():
    P = np.array([[0.8, 0.2], [0.4, 0.6]])          # labels 0, 1
    L = np.array([[0, 1, 1], [1, -1, 0]])
    w = np.array([1.0, 3.0, 1.0])
    # source 2 is excluded: (row0,src0)=0 agrees (w 1); (row1,src0)=1 agrees (w 1); (row0,src1)=1 disagrees (w 3)
    assert heldout_loss(P, L, w, exclude=[2]) == pytest.approx(3 / 5)
    assert math.isnan(heldout_loss(P, L[:, 2:], np.ones(1), exclude=[0]))


def test_noise_llm_gets_little_weight():
    X, y, L = _with_llm(acc=0.5)                      # a coin flip that votes everywhere
    tr, te = slice(0, 1500), slice(1500, None)
    equal = PolarHarmonizer(2).fit(L[tr], X[tr])
    tuned = PolarHarmonizer(2, tune_sources=[5]).fit(L[tr], X[tr])
    assert tuned.tuned_multiplier_ <= 0.25
    assert [r.multiplier for r in tuned.tuning_] == [0.0, 0.25, 0.5, 1.0]
    assert tuned.weights_[5] == tuned.tuned_multiplier_ and tuned.weights_[:5].tolist() == [1.0] * 5
    acc = {name: (h.predict(None, X[te]) == y[te]).mean() for name, h in (("equal", equal), ("tuned", tuned))}
    assert acc["tuned"] >= acc["equal"]
    rep = calibration_report(risk_score(tuned.predict_proba(None, X[te]), L[te, 5]), L[te, 5] != y[te])
    assert rep.auroc > 0.9                              # risk separates the coin's wrong answers


def test_informative_llm_keeps_weight():
    X, y, L = _with_llm(acc=0.95)
    tuned = PolarHarmonizer(2, tune_sources=[5]).fit(L, X)
    assert tuned.tuned_multiplier_ == 1.0
    losses = {r.multiplier: r.loss for r in tuned.tuning_}
    assert losses[tuned.tuned_multiplier_] == min(losses.values())


def test_tuning_is_deterministic_and_leaves_settings_alone():
    X, y, L = _with_llm(acc=0.7, n=600)
    a = PolarHarmonizer(2, tune_sources=[5], tune_grid=(0.0, 1.0), tune_folds=3).fit(L, X)
    b = PolarHarmonizer(2, tune_sources=[5], tune_grid=(0.0, 1.0), tune_folds=3).fit(L, X)
    np.testing.assert_array_equal(a.predict_proba(None, X), b.predict_proba(None, X))
    assert a.tune_sources == [5] and a.weights is None     # constructor parameters untouched


def test_tuning_bad_input():
    X, y, L = _with_llm(acc=0.7, n=200)
    with pytest.raises(InputError, match="tune_sources"):
        PolarHarmonizer(2, tune_sources=[9]).fit(L, X)
    with pytest.raises(InputError, match="other sources"):
        PolarHarmonizer(2, tune_sources=[0]).fit(L[:, :1], X)
    with pytest.raises(InputError, match="tune_grid"):
        PolarHarmonizer(2, tune_grid=(-1.0,))
    with pytest.raises(InputError, match="tune_folds"):
        PolarHarmonizer(2, tune_folds=1)
    with pytest.raises(InputError, match="too few"):
        PolarHarmonizer(2, tune_sources=[5], tune_folds=5).fit(L[:8], X[:8])

"""POLAR risk score and the baselines' risks."""
import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.risk import (baseline_risks, dawid_skene_risk, llm_distilled_risk, llm_probability_risk,
                           majority_vote_risk, risk_score, snorkel_risk, source_risk)


def test_risk_is_one_minus_h_of_answer():
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    r = risk_score(proba, np.array([1, 1, -1]))
    np.testing.assert_allclose(r[:2], [0.2, 0.6])
    assert np.isnan(r[2])


def test_source_risk_uses_column():
    proba = np.array([[0.1, 0.9], [0.7, 0.3]])
    L = np.array([[0, 1], [-1, 0]])
    r = source_risk(proba, L, 0)
    assert r[0] == pytest.approx(0.9) and np.isnan(r[1])
    np.testing.assert_allclose(source_risk(proba, L, 1), [0.1, 0.3])


def test_risk_bad_input():
    with pytest.raises(InputError, match="row 1"):
        risk_score(np.full((2, 2), 0.5), np.array([0, 2]))
    with pytest.raises(InputError, match="answers"):
        risk_score(np.full((2, 2), 0.5), np.array([0]))


def test_majority_vote_risk_by_hand():
    L = np.array([[1, 1, 0], [0, -1, -1], [-1, -1, -1]])
    r = majority_vote_risk(L, np.array([1, 1, 0]), 2)
    np.testing.assert_allclose(r[:2], [1 - 2 / 3, 1.0])   # 2 of 3 agree; 0 of 1 agree
    assert np.isnan(r[2])                                # nobody voted


def test_llm_probability_risk():
    r = llm_probability_risk(np.array([[0.3, 0.7], [np.nan, np.nan]]), np.array([1, 0]))
    assert r[0] == pytest.approx(0.3) and np.isnan(r[1])


@pytest.fixture(scope="module")
def weak():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    L = np.column_stack([np.where(rng.random(n) < acc, y, 1 - y) for acc in (0.9, 0.85, 0.8, 0.75, 0.7)])
    L[rng.random(L.shape) > 0.8] = -1
    llm = np.where(rng.random(n) < 0.8, y, 1 - y)                # the answers to score
    X = (y[:, None] * 1.5 + rng.normal(size=(n, 4))).astype(np.float32)
    return L, y, llm, X


@pytest.mark.parametrize("fn", [snorkel_risk, dawid_skene_risk, majority_vote_risk])
def test_label_model_risks_separate_errors(weak, fn):
    from sklearn.metrics import roc_auc_score
    L, y, llm, X = weak
    r = fn(L, llm, 2)
    ok = ~np.isnan(r)
    assert ((r[ok] >= 0) & (r[ok] <= 1)).all()
    assert roc_auc_score((llm != y)[ok], r[ok]) > 0.85


def test_llm_distilled_risk_and_bundle(weak):
    L, y, llm, X = weak
    r = llm_distilled_risk(llm, X, np.where(np.arange(len(llm)) == 0, -1, llm), 2)
    assert np.isnan(r[0]) and np.isfinite(r[1:]).all()
    # the distilled h learns y from the features, so it flags wrong LLM answers
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score((llm != y)[1:], r[1:]) > 0.8
    out = baseline_risks(L, llm, 2, llm_proba=np.full((len(llm), 2), 0.5), llm_votes=llm, X=X)
    assert set(out) == {"majority_vote", "snorkel", "dawid_skene", "llm_probability", "llm_distilled"}
    assert all(v.shape == llm.shape for v in out.values())

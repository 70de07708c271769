"""The harmonizer's public read-outs for benchmarks and callers: ``prior_proba`` and ``reads_votes``."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from polarlab.errors import InputError, NotFittedError
from polarlab.harmonizer import PolarHarmonizer
from test_harmonizer_seeds import problem   # two classes, features that carry y, 6 rules of accuracy 0.75




def fit(**kwargs) -> PolarHarmonizer:
    X, L = problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PolarHarmonizer(2, seed=0, **kwargs).fit(L, X)


def test_prior_proba_is_the_second_stage_when_the_fit_made_one_else_h():
    Xt, _ = problem(seed=1, n=50)
    staged = fit(combine="ds:1")
    assert staged.prior_model_ is not None          # h refitted to the combined labels (refit_prior)
    P = staged.prior_proba(Xt)
    assert P.shape == (50, 2) and np.allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(P, staged.prior_model_.predict_h(Xt))
    assert not np.allclose(P, staged.predict_h(Xt))           # the second stage is not h
    plain = fit(combine="ds:1", refit_prior=False)
    np.testing.assert_array_equal(plain.prior_proba(Xt), plain.predict_h(Xt))
    np.testing.assert_array_equal(plain.prior_proba(Xt.astype(np.float64)), plain.prior_proba(Xt))  # rows checked


def test_prior_proba_checks_the_rows_and_the_fit():
    with pytest.raises(NotFittedError):
        PolarHarmonizer(2).prior_proba(np.zeros((3, 8), dtype=np.float32))
    with pytest.raises(InputError, match="features"):
        fit(combine="ds:1").prior_proba(np.zeros((3, 5), dtype=np.float32))


def test_reads_votes_is_false_for_h_alone_and_before_fit():
    assert PolarHarmonizer(2).reads_votes is False
    assert fit(combine="ds:1").reads_votes is True
    alone = fit(combine="h")
    assert alone.reads_votes is False
    with pytest.raises(NotFittedError):             # nothing to check: the votes are not read
        alone.vote_shift(*problem(seed=1, n=20)[::-1])

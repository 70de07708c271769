"""The harmonizer's seed ensemble (``n_seeds``): the mean of whole fits with seeds seed, seed+S, ... (issue 10)."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.polar import SEED_STRIDE


def problem(seed: int = 0, n: int = 300, m: int = 6, d: int = 8):
    """Two classes, features that carry y, m rules of accuracy 0.75 voting on 60 % of the rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, :2] += (2 * y[:, None] - 1)
    L = np.where(rng.random((n, m)) < 0.75, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > 0.6] = -1
    return X, L.astype(np.int64)


def test_seed_ensemble_is_the_mean_of_the_single_fits() -> None:
    X, L = problem()
    Xt, Lt = problem(seed=1, n=100)
    ens = PolarHarmonizer(2, seed=3, n_seeds=3).fit(L, X)
    singles = [PolarHarmonizer(2, seed=s).fit(L, X) for s in (3, 3 + SEED_STRIDE, 3 + 2 * SEED_STRIDE)]
    assert [m.seed for m in ens.seed_members_] == [3 + SEED_STRIDE, 3 + 2 * SEED_STRIDE]
    for use_votes in (True, False):
        for exclude in ([], [2]):           # the final distribution and a leave-one-source-out one (the risk)
            got = ens.predict_proba(Lt, Xt, exclude=exclude, use_votes=use_votes)
            want = np.mean([h.predict_proba(Lt, Xt, exclude=exclude, use_votes=use_votes) for h in singles], axis=0)
            np.testing.assert_allclose(got, want, atol=1e-9)
    np.testing.assert_allclose(ens.predict_h(Xt), np.mean([h.predict_h(Xt) for h in singles], axis=0), atol=1e-9)
    # the members differ (else the ensemble would average nothing), and the first member is the seed's own fit
    assert not np.allclose(singles[0].predict_h(Xt), singles[1].predict_h(Xt))
    np.testing.assert_allclose(ens._member_proba(Lt, Xt, [], True), singles[0].predict_proba(Lt, Xt, use_votes=True))
    # the vote-shift check is made once, for every member (the majority's decision)
    shift = ens.vote_shift(Lt, Xt)
    np.testing.assert_allclose(ens.predict_proba(Lt, Xt), ens.predict_proba(Lt, Xt, use_votes=not shift.shifted))


def test_one_seed_is_the_single_fit() -> None:
    X, L = problem()
    a = PolarHarmonizer(2, seed=1).fit(L, X)
    b = PolarHarmonizer(2, seed=1, n_seeds=1).fit(L, X)
    assert a.seed_members_ == [] and b.seed_members_ == []
    np.testing.assert_array_equal(a.predict_proba(L, X), b.predict_proba(L, X))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_n_seeds(bad) -> None:
    with pytest.raises(InputError, match="n_seeds"):
        PolarHarmonizer(2, n_seeds=bad)


def test_ensembles_of_neighbouring_seeds_share_no_member() -> None:
    """Runs with seeds 0, 1, 2 and K = 5 are independent ensembles (members seed + i * SEED_STRIDE), so their spread
    is not shrunk by construction (with members seed + i they shared up to 4 of 5 fits)."""
    X, L = problem(n=60)
    seeds = [{h.seed for h in (e, *e.seed_members_)}
             for e in (PolarHarmonizer(2, seed=s, n_seeds=5, epochs=2).fit(L, X) for s in (0, 1, 2))]
    assert all(len(s) == 5 for s in seeds)
    assert not (seeds[0] & seeds[1] or seeds[0] & seeds[2] or seeds[1] & seeds[2])


"""The harmonizer's seed ensemble (``n_seeds``): the mean of whole fits with seeds seed, seed+S, ... (issue 10)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.polar import SEED_STRIDE, VotesDecided
from polarlab.harmonizer.shift import vote_agreement


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


def shifted_votes(L: np.ndarray) -> np.ndarray:
    """``L`` with the votes of half the sources (columns 0-2) flipped: sources that no longer behave as on the fit
    rows."""
    S = L.copy()
    flip = S[:, :3] >= 0
    S[:, :3][flip] = 1 - S[:, :3][flip]
    return S


def calm(member: PolarHarmonizer, L: np.ndarray, X: np.ndarray) -> None:
    """Make ``member``'s vote-shift check pass on ``L`` / ``X``: its fit-rows reference becomes these rows' own
    agreement (no drop). Only this member's decision changes."""
    labels = member._prior_proba(X).argmax(axis=1)
    member.fit_vote_agreement_ = [vote_agreement(L, labels)]
    assert not member._vote_shift(L, member._prior_proba(X)).shifted


@pytest.mark.parametrize("calmed", [(0,), (1, 2)])
def test_seed_ensemble_decides_the_vote_shift_by_its_members_majority(calmed) -> None:
    """Test votes that ARE shifted (half the sources flipped) fire every member's check; then some members are made
    to pass it: (0,) the first member alone (the majority still says shifted), (1, 2) the two others (the majority
    says not shifted although the first member says shifted). ``predict_proba`` follows the majority for every
    member: the mean of the members' features-only distributions when shifted, of their combinations when not."""
    X, L = problem()
    Xt, Lt = problem(seed=1, n=200)
    St = shifted_votes(Lt)
    ens = PolarHarmonizer(2, seed=3, n_seeds=3).fit(L, X)
    members = [ens, *ens.seed_members_]
    assert all(m.labels_from_ == "votes" and m.fallback_model_ is not None for m in members)
    # the construction: the flipped votes shift every member, the original ones none
    assert all(m._vote_shift(St, m._prior_proba(Xt)).shifted for m in members)
    assert not ens.vote_shift(Lt, Xt).shifted and ens.vote_shift(St, Xt).shifted
    for i in calmed:
        calm(members[i], St, Xt)
    want_shifted = 2 * (len(members) - len(calmed)) >= len(members)
    assert want_shifted == (calmed == (0,))
    shift = ens.vote_shift(St, Xt)
    assert shift.shifted is want_shifted
    votes = np.mean([m._member_proba(St, Xt, [], True) for m in members], axis=0)
    features = np.mean([m._member_proba(St, Xt, [], False) for m in members], axis=0)
    assert not np.allclose(votes, features)                     # the decision shows in the output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ens.predict_proba(St, Xt)
    np.testing.assert_allclose(got, features if want_shifted else votes, atol=1e-12)
    assert any("labelled from their features" in str(w.message) for w in caught) is want_shifted
    # a split decided once (row blocks) gets the same decision, and so does the leave-one-out distribution (the risk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decided = VotesDecided.for_split(ens, St, Xt)
    assert decided.use_votes is (not want_shifted)
    np.testing.assert_allclose(decided.predict_proba(St[:50], Xt[:50]), got[:50], atol=1e-12)
    ex = np.mean([m._member_proba(St, Xt, [4], not want_shifted) for m in members], axis=0)
    np.testing.assert_allclose(ens.predict_proba(St, Xt, exclude=[4]), ex, atol=1e-12)


def test_one_seed_is_the_single_fit() -> None:
    X, L = problem()
    a = PolarHarmonizer(2, seed=1).fit(L, X)
    b = PolarHarmonizer(2, seed=1, n_seeds=1).fit(L, X)
    assert a.seed_members_ == [] and b.seed_members_ == []          # the default is one fit
    np.testing.assert_array_equal(a.predict_proba(L, X), b.predict_proba(L, X))
    # one fit is the first member of a larger ensemble, whose mean moves away from it
    two = PolarHarmonizer(2, seed=1, n_seeds=2).fit(L, X)
    np.testing.assert_allclose(two._member_proba(L, X, [], None), b.predict_proba(L, X))
    assert not np.allclose(two.predict_proba(L, X), b.predict_proba(L, X))


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



def test_seed_ensemble_computes_each_members_prior_once_per_prediction(monkeypatch) -> None:
    """``predict_proba`` with the vote-shift check reads each member's prior once (the check and the member's
    distribution share it; it was computed twice), and the output is the members' mean as before."""
    X, L = problem()
    Xt, Lt = problem(seed=1, n=100)
    ens = PolarHarmonizer(2, seed=3, n_seeds=3).fit(L, X)
    members = [ens, *ens.seed_members_]
    want = np.mean([m._member_proba(Lt, Xt, [], not ens.vote_shift(Lt, Xt).shifted) for m in members], axis=0)
    calls = []
    for i, m in enumerate(members):
        monkeypatch.setattr(m, "_prior_proba", lambda Z, i=i, f=m._prior_proba: calls.append(i) or f(Z))
    got = ens.predict_proba(Lt, Xt)
    assert sorted(calls) == [0, 1, 2]
    np.testing.assert_array_equal(got, want)

"""The source groups of POLAR's gold-free selection (``combine_groups_by``, :mod:`polarlab.harmonizer.groups`)."""
import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.groups import (GROUPINGS, dependency_groups, group_cap, make_groups, random_groups,
                                        vote_dependency)


def correlated_rules(seed: int = 0, n: int = 1500, m: int = 12, block: tuple[int, ...] = (2, 5, 9)):
    """Two classes, m independent rules (each fires on 20 % of rows, votes class j % 2), except the rules in
    ``block``, which all fire on the same 25 % of rows (plus a little noise of their own) and vote class 0 there."""
    rng = np.random.default_rng(seed)
    L = np.full((n, m), -1, dtype=np.int64)
    shared = rng.random(n) < 0.25
    for j in range(m):
        if j in block:
            L[shared | (rng.random(n) < 0.02), j] = 0
        else:
            L[rng.random(n) < 0.2, j] = j % 2
    return L


def assert_partition(groups, m: int, n_groups: int) -> None:
    assert 1 <= len(groups) <= min(n_groups, m) and all(len(g) for g in groups)
    assert sorted(np.concatenate(groups).tolist()) == list(range(m))


def test_sources_that_vote_together_end_in_one_group() -> None:
    L = correlated_rules()
    S = vote_dependency(L, 2)
    assert S.shape == (12, 12) and np.allclose(S, S.T) and np.allclose(np.diag(S), 1)
    assert S[2, 5] > 0.8 and S[5, 9] > 0.8                      # the block
    assert S[0, 1] == 0 and S[2, 3] == 0                          # independent, and different classes
    for seed in range(5):
        groups = dependency_groups(L, 5, seed, 2)
        assert_partition(groups, 12, 5)
        assert any({2, 5, 9} <= set(g.tolist()) for g in groups)
    # the random partition splits the block on most seeds (where the selection's measured bias comes from)
    split = [not any({2, 5, 9} <= set(g.tolist()) for g in random_groups(12, 5, s)) for s in range(20)]
    assert sum(split) > 10


def test_rules_that_co_fire_with_opposite_votes_are_not_dependent() -> None:
    """Only a source repeating the left-out source's vote on its rows can pass that vote on: two rules that fire on
    the same rows but vote different classes have similarity 0."""
    L = correlated_rules(block=(2, 5))
    L[L[:, 5] == 0, 5] = 1
    assert vote_dependency(L, 2)[2, 5] == 0


def test_group_sizes_are_capped_and_every_class_is_spread() -> None:
    """Eight class-0 rules that all vote together are not left out at once: no group holds more of a class's
    sources than the cap (twice the even share, at most half of them), and the class-1 rules, independent, are spread
    one per group (grouping by class would leave the candidates nothing to predict a class from)."""
    L = correlated_rules(m=14, block=tuple(range(8)))             # class 0: 0-7, 8, 10, 12; class 1: 9, 11, 13
    assert group_cap(12, 5) == 6 and group_cap(11, 5) == 5 and group_cap(9, 2) == 5 and group_cap(3, 5) == 1
    for seed in range(3):
        groups = dependency_groups(L, 5, seed, 2)
        assert_partition(groups, 14, 5)
        zeros = [len(set(g.tolist()) & set(range(8)) | (set(g.tolist()) & {8, 10, 12})) for g in groups]
        assert max(zeros) <= group_cap(11, 5) and sum(z > 0 for z in zeros) >= 3
        ones = [len(set(g.tolist()) & {9, 11, 13}) for g in groups]
        assert max(ones) == 1
    # with the cap held to half of the sources (2 groups) the groups still partition them
    assert_partition(dependency_groups(L, 2, 0, 2), 14, 2)


def test_groups_are_deterministic_by_seed_and_independent_sources_are_balanced() -> None:
    rng = np.random.default_rng(1)
    L = np.where(rng.random((400, 11)) < 0.3, rng.integers(0, 2, (400, 11)), -1)       # no dependence at all
    a, b = dependency_groups(L, 5, 7, 2), dependency_groups(L, 5, 7, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert sorted(len(g) for g in a) == [2, 2, 2, 2, 3]               # as even as a random partition
    others = [dependency_groups(L, 5, s, 2) for s in range(8)]
    assert len({tuple(map(tuple, g)) for g in others}) > 1             # the seed orders the ties


def test_fewer_sources_than_groups_and_sources_that_never_vote() -> None:
    L = correlated_rules(m=3, block=(0, 1))
    groups = dependency_groups(L, 5, 0, 2)
    assert_partition(groups, 3, 5)                                  # m < n_groups: one source per group
    L = correlated_rules(m=8, block=(1, 2))
    L[:, [3, 6]] = -1                                               # two sources that never vote
    S = vote_dependency(L, 2)
    assert (S[3, np.arange(8) != 3] == 0).all() and S[3, 3] == 1
    groups = dependency_groups(L, 5, 0, 2)
    assert_partition(groups, 8, 5)
    assert any({1, 2} <= set(g.tolist()) for g in groups)
    assert_partition(dependency_groups(np.full((50, 4), -1), 3, 0, 2), 4, 3)           # nobody votes
    assert [g.tolist() for g in make_groups("random", L, 5, 4)] == [g.tolist() for g in random_groups(8, 5, 4)]


def test_the_harmonizer_leaves_the_dependency_groups_out_and_names_a_bad_value() -> None:
    """``combine_groups_by="dependency"``: the selection runs on those groups (every source left out once) and
    chooses a candidate; an unknown value is named with the fix when the harmonizer is made."""
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X[:, :3] += 1.5 * (2 * y[:, None] - 1)
    L = correlated_rules(seed=0, n=n, m=8, block=(1, 4))
    right = rng.random((n, 8)) < 0.8
    L = np.where(L >= 0, np.where(right, y[:, None], 1 - y[:, None]), -1)
    h = PolarHarmonizer(2, seed=0, epochs=20, combine_groups_by="dependency").fit(L, X)
    assert h.combine_ != "h" and len(h.combine_table_) == len(h.combine_candidates)
    # the option reaches the selection: other groups left out, other held-out agreements
    assert [g.tolist() for g in dependency_groups(L, 5, 0, 2)] != [g.tolist() for g in random_groups(8, 5, 0)]
    plain = PolarHarmonizer(2, seed=0, epochs=20).fit(L, X)
    assert [r.agreement for r in plain.combine_table_] != [r.agreement for r in h.combine_table_]
    assert set(GROUPINGS) == {"random", "dependency"}
    with pytest.raises(InputError, match="combine_groups_by"):
        PolarHarmonizer(2, combine_groups_by="clustered")

"""The source groups of POLAR's gold-free selection (``combine_groups_by``, :mod:`polarlab.harmonizer.groups`)."""
from pathlib import Path

import numpy as np
import pydantic
import pytest

from polarlab.config import HarmonizerSection
from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.combine import VoteLikelihood
from polarlab.harmonizer.groups import (GROUPINGS, conditional_groups, dependency_groups, error_dependency,
                                        group_cap, make_groups, pair_out_posteriors, random_groups, vote_dependency)


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
    cond = PolarHarmonizer(2, seed=0, epochs=20, combine_groups_by="conditional").fit(L, X)
    assert cond.combine_ != "h" and len(cond.combine_table_) == len(cond.combine_candidates)
    assert set(GROUPINGS) == {"random", "dependency", "conditional"}
    with pytest.raises(InputError, match="combine_groups_by"):
        PolarHarmonizer(2, combine_groups_by="clustered")


def errors_together(seed: int = 0, n: int = 3000, m: int = 12, pair: tuple[int, int] = (0, 2), accurate: int = 4):
    """A known latent label y (two classes, balanced) and m rules voting class j % 2, each firing on 30 % of the rows
    of its class and 5 % of the others, independently given y, except the two rules of ``pair``, which on top fire
    on the same 15 % of the other class's rows (wrong together); rule ``accurate``, of the same class, fires on 60 %
    of its class's rows and 2 % of the others (accurate, co-firing with the pair on their class's rows)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    L = np.full((n, m), -1, dtype=np.int64)
    shared = (rng.random(n) < 0.15) & (y != pair[0] % 2)
    for j in range(m):
        own = y == j % 2
        p = np.where(own, 0.6, 0.02) if j == accurate else np.where(own, 0.3, 0.05)
        fire = rng.random(n) < p
        if j in pair:
            fire |= shared
        L[fire, j] = j % 2
    return L, y


def test_pair_out_posteriors_leave_both_sources_out() -> None:
    """Column k of source j's posteriors is the Dawid-Skene posterior without j's and k's votes (column j: without
    j alone), the same as the model's own posterior with those sources excluded."""
    L, _ = errors_together(n=400, m=6)
    model = VoteLikelihood(2).fit(L, None, 0.0)
    q = pair_out_posteriors(model, model.contributions(L), 1)
    assert q.shape == (400, 6, 2) and np.allclose(q.sum(axis=2), 1)
    assert np.allclose(q[:, 3], model.posterior(L, None, 0.0, exclude=[1, 3]))
    assert np.allclose(q[:, 1], model.posterior(L, None, 0.0, exclude=[1]))


def test_sources_wrong_together_end_in_one_group_and_an_accurate_one_of_their_class_does_not() -> None:
    """Conditional on the (estimated) label: the pair that errs together is dependent, the accurate rule of the same
    class is not, although it co-fires with the pair on their class's rows far more than chance (the marginal
    :func:`vote_dependency` calls it similar to them, which is what made the ``"dependency"`` groups one class each)."""
    L, y = errors_together()
    S = error_dependency(L, 2)
    V = vote_dependency(L, 2)
    assert S.shape == (12, 12) and np.allclose(S, S.T) and np.allclose(np.diag(S), 1)
    assert S[0, 2] > 0.3                                            # wrong together
    assert S[0, 4] == 0 and S[2, 4] == 0                            # accurate, same class: not
    assert V[0, 4] > 0 and V[2, 4] > 0                              # marginally, it is
    off = ~np.eye(12, dtype=bool)
    off[0, 2] = off[2, 0] = False
    assert S[off].max() < S[0, 2] / 3                               # no other pair comes close
    # the pair-out posterior estimates the latent label (never read by the grouping)
    q = pair_out_posteriors(VoteLikelihood(2).fit(L, None, 0.0), VoteLikelihood(2).fit(L, None, 0.0).contributions(L), 0)
    assert (q[:, 2].argmax(axis=1) == y).mean() > 0.7
    for seed in range(5):
        groups = conditional_groups(L, 5, seed, 2)
        assert_partition(groups, 12, 5)
        home = [g for g in groups if 0 in g][0].tolist()
        assert 2 in home and 4 not in home


def test_conditional_groups_are_deterministic_by_seed_and_keep_every_class_outside_each_group() -> None:
    """Same seed, same groups; other seeds order the ties differently; no group holds all the sources of a class
    (with at least two), so every candidate fitted without a group still has voters of every class, which the census
    collapse of the unstratified ``"dependency"`` grouping lacked."""
    L, _ = errors_together(seed=3, m=14, pair=(1, 3), accurate=5)
    a, b = conditional_groups(L, 5, 7, 2), conditional_groups(L, 5, 7, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len({tuple(map(tuple, conditional_groups(L, 5, s, 2))) for s in range(8)}) > 1
    classes = np.arange(14) % 2
    for n_groups in (2, 3, 5):
        for seed in range(3):
            groups = conditional_groups(L, n_groups, seed, 2)
            assert_partition(groups, 14, n_groups)
            for g in groups:
                outside = np.setdiff1d(np.arange(14), g)
                assert set(classes[outside].tolist()) == {0, 1}
                assert all(((L[:, outside] == c).any() for c in (0, 1)))


def test_conditional_groups_with_fewer_sources_than_groups_and_silent_sources() -> None:
    L, _ = errors_together(m=3, pair=(0, 2), accurate=1)
    assert_partition(conditional_groups(L, 5, 0, 2), 3, 5)          # m < n_groups: one source per group
    L, _ = errors_together(m=10, pair=(0, 2), accurate=4)
    L[:, [3, 6]] = -1                                               # two sources that never vote
    S = error_dependency(L, 2)
    assert (S[3, np.arange(10) != 3] == 0).all() and S[3, 3] == 1 and (S[6, np.arange(10) != 6] == 0).all()
    groups = conditional_groups(L, 5, 0, 2)
    assert_partition(groups, 10, 5)
    assert any({0, 2} <= set(g.tolist()) for g in groups)           # class 0 keeps 4 voters: a pair fits the cap
    assert_partition(conditional_groups(np.full((50, 4), -1), 3, 0, 2), 4, 3)        # nobody votes
    assert [g.tolist() for g in make_groups("conditional", L, 5, 0, 2)] == [g.tolist() for g in groups]


def test_the_project_file_accepts_every_registered_grouping_and_names_a_bad_one() -> None:
    """``[harmonizer] combine_groups_by`` takes exactly the keys of :data:`GROUPINGS` (docs/config.md lists them)."""
    for by in GROUPINGS:
        assert HarmonizerSection(combine_groups_by=by).combine_groups_by == by
    with pytest.raises(pydantic.ValidationError, match="combine_groups_by"):
        HarmonizerSection(combine_groups_by="clustered")
    table = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    row = next(line for line in table.splitlines() if line.startswith("| `combine_groups_by` |"))
    assert all(repr(by) in row for by in GROUPINGS)

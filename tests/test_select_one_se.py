"""The gold-free selection of the final distribution is honest about its noise: the one-standard-error rule over a
paired bootstrap of the held-out agreement (rows and sources within each class; issue 10)."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.combiners import DEFAULT_CANDIDATES
from polarlab.harmonizer.select import (class_balanced_agreement, difference_se, one_se_choice, select_by_agreement,
                                        source_classes)


def held_out_hits(seed: int, n: int, m: int, acc: tuple[float, ...], coverage: float = 0.3):
    """Candidates whose held-out labels are right with the given accuracies, scored against m sources of 80 %
    accuracy (half voting each class): returns (hits (c, n, m), voted (n, m), classes (m,))."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    cls = np.arange(m) % 2
    voted = (rng.random((n, m)) < coverage) & (y[:, None] == cls[None])        # one-sided rules
    right = rng.random((n, m)) < 0.8
    L = np.where(voted, np.where(right, y[:, None], 1 - y[:, None]), -1)
    voted = L >= 0
    preds = [np.where(rng.random(n) < a, y, 1 - y) for a in acc]
    hits = np.stack([(p[:, None] == L) & voted for p in preds])
    return hits, voted, source_classes(L, 2)


def scores(hits: np.ndarray, voted: np.ndarray, classes: np.ndarray) -> list[float]:
    agree = hits.sum(axis=1) / np.maximum(voted.sum(axis=0), 1)
    agree[:, ~voted.any(axis=0)] = np.nan
    return [class_balanced_agreement(a, classes) for a in agree]


def test_one_se_rule_keeps_the_first_candidate_within_noise_and_the_best_beyond_it() -> None:
    # candidates 0 and 1 of the same true accuracy: the score's order between them is noise; the rule keeps 0 where
    # the bare argmax (n_se = 0) takes whichever the noise favours
    kept = 0
    for seed in range(6):
        hits, voted, classes = held_out_hits(seed, 300, 10, (0.85, 0.85))
        s = scores(hits, voted, classes)
        best = int(np.argmax(s))
        se = difference_se(hits, voted, classes, best, seed=seed)
        assert se[best] == 0.0 and np.all(se >= 0)
        if best == 1:
            assert one_se_choice(s, se, 0.0) == 1
            kept += one_se_choice(s, se, 1.0) == 0
    assert kept >= 1                                          # the noise favoured 1 at least once, and was overruled
    # a candidate truly better by 15 points is chosen even though it is listed second
    hits, voted, classes = held_out_hits(7, 2000, 10, (0.75, 0.9))
    s = scores(hits, voted, classes)
    se = difference_se(hits, voted, classes, int(np.argmax(s)), seed=0)
    assert s[1] - s[0] > 3 * se[0]
    assert one_se_choice(s, se, 1.0) == 1


def test_bootstrap_without_resampling_has_no_spread_and_each_unit_adds_some() -> None:
    hits, voted, classes = held_out_hits(3, 400, 12, (0.8, 0.85, 0.9))
    best = int(np.argmax(scores(hits, voted, classes)))
    none = difference_se(hits, voted, classes, best, resample=())
    np.testing.assert_allclose(none, 0.0, atol=1e-6)
    rows = difference_se(hits, voted, classes, best, resample=("rows",))
    sources = difference_se(hits, voted, classes, best, resample=("sources",))
    both = difference_se(hits, voted, classes, best)
    others = [c for c in range(3) if c != best]
    assert np.all(rows[others] > 0) and np.all(sources[others] > 0) and np.all(both[others] > 0)


def test_one_se_choice_edge_cases() -> None:
    assert one_se_choice([0.5, 0.6, 0.55], [0.2, 0.0, 0.01], 1.0) == 0
    assert one_se_choice([0.5, 0.55, 0.6], [0.05, 0.06, 0.0], 1.0) == 1
    assert one_se_choice([0.5, 0.6, 0.55], [np.nan, 0.0, np.nan], 1.0) == 1      # no SE: the best
    assert one_se_choice([0.6, 0.6], [0.0, 0.0], 0.0) == 0                         # ties: the first


def test_harmonizer_reports_the_standard_errors_and_applies_the_rule() -> None:
    rng = np.random.default_rng(5)
    n, m = 400, 8
    y = rng.integers(0, 2, n)
    X = (rng.normal(size=(n, 8)) + 0.8 * (2 * y[:, None] - 1) * (np.arange(8) < 2)).astype(np.float32)
    L = np.where(rng.random((n, m)) < 0.75, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > 0.4] = -1
    h = PolarHarmonizer(2, seed=0, epochs=30).fit(L, X)
    table = h.combine_table_
    assert [r.candidate for r in table] == list(DEFAULT_CANDIDATES)
    best = max(table, key=lambda r: r.agreement)
    assert best.se == 0.0 and all(np.isfinite(r.se) and r.se >= 0 for r in table)
    first = next(r for r in table if best.agreement - r.agreement <= r.se + 1e-12)
    assert h.combine_ == first.candidate
    argmax = PolarHarmonizer(2, seed=0, epochs=30, combine_se=0).fit(L, X)
    assert argmax.combine_ == best.candidate
    for bad in (-1, float("nan"), True, "one"):
        with pytest.raises(InputError, match="combine_se"):
            PolarHarmonizer(2, combine_se=bad)


def test_select_by_agreement_n_se_zero_is_the_argmax() -> None:
    rng = np.random.default_rng(2)
    n, m = 300, 6
    y = rng.integers(0, 2, n)
    L = np.where(rng.random((n, m)) < 0.8, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > 0.5] = -1
    log_h = np.log(np.full((n, 2), 0.5))
    held = [(np.array([0, 1]), log_h), (np.array([2, 3]), log_h), (np.array([4, 5]), log_h)]
    comb0, table0, _ = select_by_agreement(L, log_h, held, 2, DEFAULT_CANDIDATES, n_se=0)
    comb1, table1, _ = select_by_agreement(L, log_h, held, 2, DEFAULT_CANDIDATES, n_se=1)
    assert [r.agreement for r in table0] == [r.agreement for r in table1]
    assert comb0.describe() == max(table0, key=lambda r: r.agreement).candidate
    assert [r.se for r in table0] == [r.se for r in table1] and all(np.isfinite(r.se) for r in table1)
    assert DEFAULT_CANDIDATES.index(comb1.describe()) <= DEFAULT_CANDIDATES.index(comb0.describe())


def test_a_heard_tuned_source_keeps_the_best_score() -> None:
    # with a tuned source (an LLM voting on every row) the first candidate, mv, would count its every vote fully
    # whatever its tuned weight: the selection then keeps the argmax, and reports the SEs all the same
    rng = np.random.default_rng(11)
    n, m = 300, 7
    y = rng.integers(0, 2, n)
    X = (rng.normal(size=(n, 8)) + 0.8 * (2 * y[:, None] - 1) * (np.arange(8) < 2)).astype(np.float32)
    L = np.where(rng.random((n, m)) < 0.8, y[:, None], 1 - y[:, None])
    L[:, :-1][rng.random((n, m - 1)) > 0.3] = -1
    L[:, -1] = np.where(rng.random(n) < 0.65, y, 1 - y)               # the "LLM": votes everywhere, often wrong
    h = PolarHarmonizer(2, seed=0, epochs=30, tune_sources=[m - 1], tune_grid=(0.25, 0.5)).fit(L, X)
    assert h.silenced_sources_ == []
    best = max(h.combine_table_, key=lambda r: r.agreement)
    assert h.combine_ == best.candidate and all(np.isfinite(r.se) for r in h.combine_table_)
    scores, ses = [r.agreement for r in h.combine_table_], [r.se for r in h.combine_table_]
    assert h.combine_table_[one_se_choice(scores, ses)].candidate != best.candidate   # the rule would have moved

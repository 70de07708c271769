"""benchmarks/candidate_average.py: its admission set is the one-SE rule's, and a candidate refitted alone is the
harmonizer's output when the selection chose it (the measurement of issue 10's averaging rests on both)."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark_loader import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("candidate_average")


def _votes(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Informative features (n, 5) and six noisy rules (n, 6) of uneven coverage and accuracy, both classes voted."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)[:, None]
    cover = np.array([0.5, 0.3, 0.2, 0.3, 0.4, 0.2])
    accuracy = np.array([0.8, 0.7, 0.9, 0.6, 0.75, 0.65])
    votes = np.where(rng.random((n, 6)) < accuracy, y, 1 - y)
    L = np.where(rng.random((n, 6)) < cover, votes, -1)
    return L, (rng.normal(size=(n, 5)) + 0.8 * y).astype(np.float32)


def test_admitted_are_the_candidates_within_n_se_and_the_one_se_choice_is_the_first(bench):
    from polarlab.harmonizer.select import CandidateScore, one_se_choice

    table = [CandidateScore("mv", 0.60, 0.02), CandidateScore("onecoin:1", 0.55, 0.03),
             CandidateScore("ds:1", 0.63, 0.0), CandidateScore("ds:2", 0.62, float("nan")),
             CandidateScore("ds:3", 0.625, 0.01)]
    assert bench.admitted(table, 1.0) == ["ds:1", "ds:3"]          # mv: gap 0.03 > SE 0.02; ds:2: NaN SE counts as 0
    assert bench.admitted(table, 2.0) == ["mv", "ds:1", "ds:3"]
    first = one_se_choice([r.agreement for r in table], [r.se for r in table], 1.0)
    assert bench.admitted(table, 1.0)[0] == table[first].candidate


def test_the_chosen_candidate_refitted_alone_is_todays_output_and_h_is_left_as_it_was(bench):
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.harmonizer.polar import VotesDecided

    L, X = _votes()
    h = PolarHarmonizer(2, seed=3).fit(L, X)
    before = VotesDecided.for_split(h, L, X).predict_proba(L, X)
    other = next(r.candidate for r in h.combine_table_ if r.candidate != h.combine_)
    got = bench.candidate_probas(h, L, X, L, X, [h.combine_, other])
    assert np.array_equal(got[h.combine_], before)
    assert not np.array_equal(got[other], before)                   # a different candidate: the check can fail
    assert h.combine == "auto"
    assert np.array_equal(VotesDecided.for_split(h, L, X).predict_proba(L, X), before)

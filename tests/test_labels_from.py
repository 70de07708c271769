"""Votes or features (harmonizer/labels_from.py): the final labels come from the features-only classifier when the
held-out agreement says it beats the votes, and from the votes when the rules are precise and the features weak."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.labels_from import features_tag, votes_or_features
from polarlab.harmonizer.stage2 import sharpen


def rules_and_features(seed: int, n: int, rule_acc: float, signal: float, m: int = 8, fire: float = 0.3):
    """y (n,), features X (n, 6) whose first two columns carry ``signal``, and m rules, each voting on a
    ``fire`` share of the rows and right on ``rule_acc`` of them, independently."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 6))
    X[:, :2] += signal * (2 * y[:, None] - 1)
    L = np.where(rng.random((n, m)) < rule_acc, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > fire] = -1
    return X.astype(np.float32), L, y


def test_noisy_rules_and_strong_features_label_by_the_features() -> None:
    X, L, y = rules_and_features(0, 1200, rule_acc=0.72, signal=1.5)
    fit, test = slice(0, 800), slice(800, None)
    assert PolarHarmonizer(2).labels_from == "votes"                     # opt-in
    h = PolarHarmonizer(2, seed=0, epochs=30, labels_from="auto").fit(L[fit], X[fit])
    assert h.labels_from_ == "features"
    scores = {r.candidate: r.agreement for r in h.combine_table_}
    assert scores[features_tag(h.combine_)] > scores[h.combine_]
    P = h.predict_proba(L[test], X[test])
    np.testing.assert_allclose(P, sharpen(np.clip(h.fallback_model_.proba(X[test]), 0, 1), h.fallback_temperature_))
    votes = PolarHarmonizer(2, seed=0, epochs=30, labels_from="votes").fit(L[fit], X[fit])
    assert votes.labels_from_ == "votes"
    assert (P.argmax(1) == y[test]).mean() >= (votes.predict(L[test], X[test]) == y[test]).mean() > 0.9


def test_precise_rules_and_weak_features_keep_the_votes() -> None:
    X, L, y = rules_and_features(1, 800, rule_acc=0.97, signal=0.2)
    h = PolarHarmonizer(2, seed=0, epochs=30, labels_from="auto").fit(L, X)
    assert h.labels_from_ == "votes" and h.combine_table_[-1].candidate == f"features({h.combine_})"
    covered = (L >= 0).any(axis=1)
    assert (h.predict(L, X)[covered] == y[covered]).mean() > 0.95


def test_the_choice_scores_both_forms_on_the_same_held_out_votes() -> None:
    X, L, _ = rules_and_features(2, 300, rule_acc=0.8, signal=1.0)
    log_h = np.log(np.full((300, 2), 0.5))
    held = [(np.array([0, 1, 2, 3]), log_h), (np.array([4, 5, 6, 7]), log_h)]
    votes, features = votes_or_features(L, X, held, "mv", 2, C=0.1, folds=3, seed=0)
    assert (votes.candidate, features.candidate) == ("mv", "features(mv)")
    assert 0.5 < votes.agreement < 1 and 0.5 < features.agreement < 1
    assert min(votes.se, features.se) == 0.0 and max(votes.se, features.se) > 0
    small = votes_or_features(L, X, held, "mv", 2, C=0.1, folds=3, seed=0, max_rows=150)
    assert small[0].agreement != votes.agreement           # scored on a 150-row sample


def test_a_bad_setting_is_refused_when_made() -> None:
    with pytest.raises(InputError, match="labels_from"):
        PolarHarmonizer(2, labels_from="both")
    with pytest.raises(InputError, match="combine='auto'"):             # auto is decided by the auto selection
        PolarHarmonizer(2, labels_from="auto", combine="ds:1")
    with pytest.raises(InputError, match="combine='h'"):                # h alone has no features-only classifier
        PolarHarmonizer(2, labels_from="features", combine="h")


def test_a_split_decided_once_matches_predict_proba_for_a_mixed_ensemble() -> None:
    """VotesDecided (how polarlab run predicts a split) gives predict_proba's own answer when the ensemble's members
    chose differently at fit (one the features, the others the votes); it used to look at the first member only."""
    from polarlab.harmonizer.polar import VotesDecided

    X, L, _ = rules_and_features(0, 300, rule_acc=0.8, signal=1.0)
    h = PolarHarmonizer(2, seed=0, epochs=10, n_seeds=3).fit(L, X)
    for first in ("features", "votes"):
        h.labels_from_, h.seed_members_[0].labels_from_, h.seed_members_[1].labels_from_ = first, "votes", "features"
        np.testing.assert_allclose(VotesDecided.for_split(h, L, X).predict_proba(L, X), h.predict_proba(L, X))


def test_the_choice_reuses_the_candidate_the_selection_fitted(monkeypatch) -> None:
    """``labels_from="auto"`` scores the chosen candidate as the selection fitted it for each source group (it was
    fitted again): with the selection's fits the scores are those of a fresh fit, and the harmonizer's choice fits
    no candidate in labels_from.py."""
    import polarlab.harmonizer.labels_from as lf
    from polarlab.harmonizer.select import select_by_agreement

    X, L, _ = rules_and_features(2, 300, rule_acc=0.8, signal=1.0)
    rng = np.random.default_rng(0)
    log_h = np.log(rng.dirichlet([2, 2], size=300))
    held = [(np.array([0, 1, 2, 3]), log_h[::-1].copy()), (np.array([4, 5, 6, 7]), log_h)]
    comb, _, fits = select_by_agreement(L, log_h, held, 2, ("mv", "onecoin:1", "ds:2"), n_se=0)
    assert len(fits) == len(held) and all(f.describe() == comb.describe() for f in fits)
    fresh = votes_or_features(L, X, held, comb.describe(), 2, C=0.1, folds=3, seed=0)
    assert votes_or_features(L, X, held, comb.describe(), 2, C=0.1, folds=3, seed=0, fitted=fits) == fresh
    # the reuse is real: another candidate's fits give other scores
    other = [lf.make_combiner("ds:0", 2).fit(np.where(np.isin(np.arange(8), c), -1, L), g) for c, g in held]
    assert votes_or_features(L, X, held, comb.describe(), 2, C=0.1, folds=3, seed=0, fitted=other) != fresh

    X, L, _ = rules_and_features(0, 600, rule_acc=0.72, signal=1.5)
    want = PolarHarmonizer(2, seed=0, epochs=30, labels_from="auto").fit(L, X)
    assert want.combine_table_[-1].candidate.startswith("features(")     # the choice was made (not skipped)

    def refused(*args, **kwargs):
        raise AssertionError("labels_from fitted a candidate again")

    monkeypatch.setattr(lf, "make_combiner", refused)
    got = PolarHarmonizer(2, seed=0, epochs=30, labels_from="auto").fit(L, X)
    assert got.combine_table_ == want.combine_table_ and got.labels_from_ == want.labels_from_
    np.testing.assert_array_equal(got.predict_proba(L, X), want.predict_proba(L, X))


@pytest.mark.parametrize("labels_from", ["auto", "features"])
def test_h_alone_chosen_among_the_candidates_is_not_reported_as_the_features(labels_from) -> None:
    """When the selection keeps h(x) alone (a candidate like the others), the labels are h(x) whatever
    ``labels_from`` says: the fit reports no votes-or-features choice for it (it reported "features" and a
    features(h) row while predict_proba gave h(x))."""
    X, L, _ = rules_and_features(0, 600, rule_acc=0.72, signal=1.5)
    h = PolarHarmonizer(2, seed=0, epochs=30, combine_candidates=("h",), labels_from=labels_from).fit(L, X)
    assert h.combine_ == "h" and h.combiner_ is not None
    assert h.labels_from_ == "votes" and [r.candidate for r in h.combine_table_] == ["h"]
    np.testing.assert_array_equal(h.predict_proba(L, X), h.predict_h(X))

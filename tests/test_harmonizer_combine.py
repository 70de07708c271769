"""The harmonizer's final distribution (h(x) combined with the row's votes), MV tie-breaks, two-stage
baselines, tabular WRENCH data, relation features, and the supervision warnings (issue 10)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from polarlab.data.wrench import load_wrench
from polarlab.errors import DataError
from polarlab.features import between_texts, make_features
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.combine import H_ONLY, VoteLikelihood
from polarlab.harmonizer.combiners import DEFAULT_CANDIDATES, make_combiner
from polarlab.harmonizer.diagnostics import SupervisionWarning
from polarlab.labelmodels import MajorityVote, TwoStage, make_label_model


def accuracy(P: np.ndarray, y: np.ndarray) -> float:
    return float((P.argmax(axis=1) == y).mean())


def synthetic(seed: int, n: int, informative_features: bool, rule_acc: float, coverage: float, m: int = 8,
              d: int = 16):
    """Two classes; X either carries y (a linear signal) or is pure noise; m rules of the given accuracy."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    if informative_features:
        X[:, :4] += 1.5 * (2 * y[:, None] - 1)
    right = rng.random((n, m)) < rule_acc
    L = np.where(right, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > coverage] = -1
    return X.astype(np.float32), L.astype(np.int64), y


def best_label_model(L_fit: np.ndarray, L_test: np.ndarray, y: np.ndarray) -> float:
    return max(accuracy(make_label_model(m, 2).fit(L_fit).predict_proba(L_test), y)
               for m in ("mv", "snorkel", "dawid_skene"))


def test_noise_features_precise_rules_matches_best_label_model() -> None:
    X, L, y = synthetic(0, 1200, informative_features=False, rule_acc=0.95, coverage=0.35)
    fit, test = slice(0, 800), slice(800, None)
    h = PolarHarmonizer(2, seed=0).fit(L[fit], X[fit])
    polar = accuracy(h.predict_proba(L[test], X[test]), y[test])
    h_only = accuracy(h.predict_h(X[test]), y[test])
    best = best_label_model(L[fit], L[test], y[test])
    assert h.combine_ != H_ONLY                      # the votes are used at prediction time
    assert polar >= best - 0.01                      # matches the best label model ...
    assert polar > h_only + 0.1                      # ... where h(x) alone cannot (the features are noise)


def test_noisy_rules_informative_features_beats_best_label_model() -> None:
    X, L, y = synthetic(1, 1200, informative_features=True, rule_acc=0.65, coverage=0.5)
    fit, test = slice(0, 800), slice(800, None)
    h = PolarHarmonizer(2, seed=0).fit(L[fit], X[fit])
    polar = accuracy(h.predict_proba(L[test], X[test]), y[test])
    assert polar > best_label_model(L[fit], L[test], y[test]) + 0.02


def test_choice_is_reported_and_fixed_candidates_and_h_only_work() -> None:
    X, L, y = synthetic(2, 300, informative_features=True, rule_acc=0.8, coverage=0.5)
    auto = PolarHarmonizer(2, seed=0).fit(L, X)
    names = [r.candidate for r in auto.combine_table_]
    assert names == list(DEFAULT_CANDIDATES)
    best = max(auto.combine_table_, key=lambda r: r.agreement)
    first = next(r for r in auto.combine_table_ if best.agreement - r.agreement <= r.se + 1e-12)   # one-SE rule
    assert first.candidate == auto.combine_ == auto.combiner_.describe()
    assert auto.combiner_.temperature_ >= 1.0
    only_h = PolarHarmonizer(2, seed=0, combine="h").fit(L, X)
    np.testing.assert_allclose(only_h.predict_proba(L, X), only_h.predict_h(X))
    fixed = PolarHarmonizer(2, seed=0, combine=0.5).fit(L, X)
    assert fixed.combine_ == "ds:0.5" and fixed.combine_table_ == []
    mv = PolarHarmonizer(2, seed=0, combine="mv").fit(L, X)
    counts = np.stack([(L == c).sum(axis=1) for c in (0, 1)], axis=1)
    clear = counts[:, 0] != counts[:, 1]
    np.testing.assert_array_equal(mv.predict(L, X)[clear], counts[clear].argmax(axis=1))   # votes decide ...
    tied = ~clear
    np.testing.assert_array_equal(mv.predict(L, X)[tied], mv.predict_h(X)[tied].argmax(axis=1))  # ... h breaks ties
    for bad in ("sometimes", "ds:-1", "vote:1"):
        with pytest.raises(Exception, match="combin"):
            PolarHarmonizer(2, combine=bad)


def test_mvh_lets_h_answer_the_rows_only_the_tuned_source_votes_on() -> None:
    # column 2 is the tuned source (the LLM); rows 0-2: rules vote; row 3: only the LLM; row 4: no vote
    L = np.array([[0, -1, 1], [1, 1, 0], [0, 1, 1], [-1, -1, 1], [-1, -1, -1]])
    log_h = np.log(np.array([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]))
    mv = make_combiner("mv", 2).fit(L, log_h)
    mvh = make_combiner("mvh", 2, tuned=[2]).fit(L, log_h)
    assert mv.scores(L, log_h).argmax(axis=1).tolist() == [0, 1, 1, 1, 1]      # the LLM alone outweighs h on row 3
    assert mvh.scores(L, log_h).argmax(axis=1).tolist() == [0, 1, 1, 0, 1]     # h answers it; elsewhere as mv
    np.testing.assert_allclose(mvh.scores(L, log_h, exclude=[2]), mv.scores(L, log_h, exclude=[2]))  # the LLM's risk
    plain = make_combiner("mvh", 2).fit(L, log_h)                              # no tuned source: mv itself
    np.testing.assert_allclose(plain.scores(L, log_h), mv.scores(L, log_h))
    assert make_combiner("mvh", 2, tuned=[2]).describe() == "mvh"


def test_selection_prefers_h_over_a_poor_llm_where_only_the_llm_votes() -> None:
    # informative features, precise sparse rules, an LLM voting on every row that is right 55 % of the time: leaving
    # a rule group out makes rows only the LLM votes on, where h agrees with the left-out rules and the LLM does not
    X, L, y = synthetic(11, 1500, informative_features=True, rule_acc=0.9, coverage=0.12)
    rng = np.random.default_rng(5)
    llm = np.where(rng.random(len(y)) < 0.55, y, 1 - y)
    Lf = np.column_stack([L, llm])
    h = PolarHarmonizer(2, seed=0, tune_sources=[Lf.shape[1] - 1], tune_grid=(1.0,), combine_candidates=("mv", "mvh"),
                        ).fit(Lf, X)
    table = {r.candidate: r.agreement for r in h.combine_table_}
    assert table["mvh"] > table["mv"] and h.combine_ == "mvh"
    only_llm = (L < 0).all(axis=1)
    pred = h.predict(Lf, X)
    assert only_llm.sum() > 100
    assert (pred[only_llm] == y[only_llm]).mean() > (llm[only_llm] == y[only_llm]).mean() + 0.2


def test_one_coin_vote_learns_which_source_to_trust() -> None:
    rng = np.random.default_rng(9)
    n = 3000
    y = rng.integers(0, 3, n)
    good = np.where(rng.random(n) < 0.9, y, rng.integers(0, 3, n))
    bad = [np.where(rng.random(n) < 0.45, y, rng.integers(0, 3, n)) for _ in range(2)]
    L = np.column_stack([good, *bad])
    flat = np.zeros((n, 3))                                   # no feature prior: the votes alone
    oc = make_combiner("onecoin:1", 3).fit(L, flat)
    assert oc.accuracy_[0] > oc.accuracy_[1] + 0.2 and oc.accuracy_[0] > oc.accuracy_[2] + 0.2
    mv = make_combiner("mv", 3).fit(L, flat)
    assert accuracy(oc.posterior(L, flat), y) > accuracy(mv.posterior(L, flat), y) + 0.05


def test_excluded_source_has_no_influence_on_its_own_risk() -> None:
    X, L, y = synthetic(3, 300, informative_features=True, rule_acc=0.8, coverage=0.6)
    h = PolarHarmonizer(2, seed=0, combine=1.0).fit(L, X)
    flipped = L.copy()
    flipped[:, 0] = np.where(L[:, 0] >= 0, 1 - L[:, 0], 1)
    a = h.predict_proba(L, X, exclude=[0])
    np.testing.assert_allclose(a, h.predict_proba(flipped, X, exclude=[0]))
    assert not np.allclose(h.predict_proba(L, X), h.predict_proba(flipped, X))


def test_vote_likelihood_learns_precise_and_silent_rules() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 2000)
    L = np.full((2000, 3), -1)
    L[(y == 1) & (rng.random(2000) < 0.6), 0] = 1            # a one-sided spam rule
    L[:, 1] = np.where(rng.random(2000) < 0.9, y, 1 - y)      # a 90 %-accurate source on every row
    L[:, 2] = np.where(rng.random(2000) < 0.8, y, 1 - y)      # an 80 %-accurate one
    vl = VoteLikelihood(2).fit(L, None, 0.0)
    theta = np.exp(vl.log_theta_)
    assert theta[0, 1, 2] > 0.5 > theta[0, 0, 2]              # the rule fires on class 1 only
    assert accuracy(vl.posterior(L, None, 0.0), y) > max((L[:, j] == y).mean() for j in range(3))


def test_one_sided_rules_warn_and_stay_no_worse_than_mv() -> None:
    rng = np.random.default_rng(5)
    n = 600
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X[:, 0] += 2.0 * y
    L = np.full((n, 3), -1)
    for j in range(2):
        L[(y == 1) & (rng.random(n) < 0.5), j] = 1            # spam rules only; the ham rule (col 2) never fires
    with pytest.warns(SupervisionWarning, match=r"class\(es\) \[0\] get no vote"):
        h = PolarHarmonizer(2, seed=0).fit(L[:400], X[:400])
    assert h.warnings_
    polar = accuracy(h.predict_proba(L[400:], X[400:]), y[400:])
    assert polar >= accuracy(MajorityVote(2).fit(L[:400]).predict_proba(L[400:]), y[400:])   # WRENCH's MV
    best_case = MajorityVote(2, tie_break="first").fit(L[:400]).predict_proba(L[400:])      # ties -> ham
    assert polar >= accuracy(best_case, y[400:]) - 0.02


def test_one_sided_rules_with_features_that_carry_nothing_read_silence_as_the_other_class() -> None:
    # every vote is for class 1 and the features are noise: h(x) learns class 1 everywhere and Dawid-Skene alone
    # cannot tell the classes apart, so both labelled every row 1 (test accuracy = the share of class 1). The rules
    # are precise: a row none of them fires on is read as class 0, as a user who wrote only spam rules means
    rng = np.random.default_rng(7)
    n = 60
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    L = np.full((n, 3), -1)
    for j in range(3):
        L[(y == 1) & (rng.random(n) < 0.4), j] = 1
    with pytest.warns(SupervisionWarning, match=r"class\(es\) \[0\] get no vote"):
        h = PolarHarmonizer(2, seed=0).fit(L[:30], X[:30])
    labels = h.predict_proba(L[30:], X[30:]).argmax(axis=1)
    assert h.combine_ == "silence_other"
    covered = (L[30:] >= 0).any(axis=1)
    np.testing.assert_array_equal(labels, covered.astype(int))        # spam where a rule fires, ham elsewhere
    assert accuracy(h.predict_proba(L[30:], X[30:]), y[30:]) > (y[30:] == 1).mean() + 0.1


def test_tuning_that_cannot_tell_weights_apart_warns_and_keeps_weight_one() -> None:
    rng = np.random.default_rng(6)
    n = 200
    X = rng.normal(size=(n, 4)).astype(np.float32)
    L = np.column_stack([np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64), rng.integers(0, 2, n)])
    with pytest.warns(SupervisionWarning, match="cannot tell"):
        h = PolarHarmonizer(2, seed=0, tune_sources=[2]).fit(L, X)
    assert h.tuned_multiplier_ == 1.0


def test_majority_vote_random_tie_break_is_seeded_and_mixes() -> None:
    L = np.array([[0, 1]] * 200 + [[-1, -1]] * 50 + [[1, 1]])
    a = MajorityVote(2, seed=0).predict_proba(L).argmax(axis=1)
    np.testing.assert_array_equal(a, MajorityVote(2, seed=0).predict_proba(L).argmax(axis=1))
    assert 50 < (a[:250] == 1).sum() < 200                    # both tied classes win sometimes
    assert a[-1] == 1                                         # a clear winner is untouched
    assert not np.array_equal(a, MajorityVote(2, seed=1).predict_proba(L).argmax(axis=1))
    P = MajorityVote(2).predict_proba(L)
    np.testing.assert_allclose(P[:250], 0.5, atol=1e-5)       # risk-wise still a tie
    assert (MajorityVote(2, tie_break="abstain").predict(L)[:250] == -1).all()
    with pytest.raises(Exception, match="tie_break"):
        MajorityVote(2, tie_break="coin")


def test_two_stage_baselines_are_registered_and_use_features() -> None:
    X, L, y = synthetic(7, 600, informative_features=True, rule_acc=0.7, coverage=0.5)
    for name in ("mv+lr", "snorkel+lr", "dawid_skene+lr"):
        model = make_label_model(name, 2).fit(L[:400], X[:400])
        assert isinstance(model, TwoStage)
        P = model.predict_proba(None, X[400:])
        assert P.shape == (200, 2)
        assert accuracy(P, y[400:]) > accuracy(make_label_model(name.split("+")[0], 2).fit(L[:400])
                                                .predict_proba(L[400:]), y[400:])


def _write_split(path, rows) -> None:
    path.write_text(json.dumps({str(i): r for i, r in enumerate(rows)}))


def test_tabular_wrench_loads_with_standardised_numeric_features(tmp_path) -> None:
    (tmp_path / "label.json").write_text(json.dumps({"0": "neg", "1": "pos"}))
    rng = np.random.default_rng(8)
    for split, n in (("train", 30), ("test", 10)):
        _write_split(tmp_path / f"{split}.json",
                     [{"label": int(i % 2), "weak_labels": [int(i % 2), -1],
                       "data": {"feature": (rng.normal(size=3) * [1, 10, 100]).tolist()}} for i in range(n)])
    splits = load_wrench(tmp_path)
    assert splits["train"].is_tabular and splits["train"].features.shape == (30, 3)
    assert splits["test"].weak_labels.shape == (10, 2)
    ext = make_features("auto").fit(splits["train"])
    Z = ext.transform(splits["train"])
    assert ext.kind_ == "numeric"
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-4)
    assert splits["test"].subset([0, 2]).features.shape == (2, 3)
    with pytest.raises(Exception, match="tabular"):
        make_features("embedding").fit(splits["train"]).transform(splits["train"])


@pytest.mark.parametrize("bad, message", [
    ([1.0, 2.0], "2 features where earlier rows have 3"),
    ([1.0, float("nan"), 2.0], r"data.feature\[1\] is NaN"),
    ("abc", "not a list of numbers"),
])
def test_tabular_bad_input_names_the_row(tmp_path, bad, message) -> None:
    (tmp_path / "label.json").write_text(json.dumps({"0": "neg", "1": "pos"}))
    rows = [{"label": 0, "weak_labels": [0], "data": {"feature": [0.0, 1.0, 2.0]}},
            {"label": 1, "weak_labels": [1], "data": {"feature": bad}}]
    _write_split(tmp_path / "test.json", rows)
    with pytest.raises(DataError, match=message) as err:
        load_wrench(tmp_path)
    assert "row 1" in str(err.value) and "test.json" in str(err.value)


def test_relation_features_carry_the_words_between_entities(tmp_path) -> None:
    (tmp_path / "label.json").write_text(json.dumps({"0": "none", "1": "inhibitor"}))
    rows = [{"label": i % 2, "weak_labels": [-1],
             "data": {"text": f"Drug{i} {'strongly inhibits' if i % 2 else 'was seen with'} GENE{i} in cells.",
                      "entity1": f"Drug{i}", "entity2": f"GENE{i}"}} for i in range(12)]
    _write_split(tmp_path / "test.json", rows)
    ds = load_wrench(tmp_path)["test"]
    assert between_texts(ds)[:2] == ["was seen with", "strongly inhibits"]
    ext = make_features("relation", cache_dir=str(tmp_path / "cache")).fit(ds)
    Z = ext.transform(ds)
    assert Z.shape[0] == 12 and Z.shape[1] > 384               # embedding + between-entity TF-IDF
    between = Z[:, 384:]
    assert not np.allclose(between[0], between[1]) and np.allclose(between[1], between[3])


def test_agreement_is_averaged_per_class_and_groups_partition_the_sources() -> None:
    from polarlab.harmonizer.select import class_balanced_agreement, source_classes, source_groups

    L = np.array([[0, 0, 1, -1], [0, -1, 1, -1], [-1, 0, -1, -1], [1, 0, -1, -1]])
    np.testing.assert_array_equal(source_classes(L, 2), [0, 0, 1, -1])
    # two class-0 sources agreeing 1.0 and one class-1 source agreeing 0.0: 0.5, not 0.67
    assert class_balanced_agreement(np.array([1.0, 1.0, 0.0, np.nan]), np.array([0, 0, 1, -1])) == 0.5
    groups = source_groups(11, 5, seed=3)
    assert len(groups) == 5 and sorted(np.concatenate(groups).tolist()) == list(range(11))


def test_second_stage_options_fit_and_bad_values_are_named() -> None:
    """``stage2="lr"`` (a cross-validated, L2-regularised classifier as the prior) and ``refit_rows="covered"``
    (the classifier learns from covered rows only) fit, use the votes, and beat h alone where features are noise."""
    from polarlab.errors import InputError
    from polarlab.harmonizer.stage2 import FeatureClassifier

    X, L, y = synthetic(0, 1200, informative_features=False, rule_acc=0.95, coverage=0.35)
    fit, test = slice(0, 800), slice(800, None)
    h = PolarHarmonizer(2, seed=0, stage2="lr", refit_rows="covered").fit(L[fit], X[fit])
    assert isinstance(h.prior_model_, FeatureClassifier)
    polar = accuracy(h.predict_proba(L[test], X[test]), y[test])
    assert polar >= best_label_model(L[fit], L[test], y[test]) - 0.01
    assert polar > accuracy(h.predict_h(X[test]), y[test]) + 0.1
    with pytest.raises(InputError, match="stage2"):
        PolarHarmonizer(2, stage2="svm")
    with pytest.raises(InputError, match="refit_rows"):
        PolarHarmonizer(2, refit_rows="some")

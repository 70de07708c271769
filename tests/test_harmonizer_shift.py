"""The vote-shift check: rows whose votes do not behave like the fit rows' are labelled from their features
alone by the harmonizer's two-stage classifier (issue 10; WRENCH sms's stored test votes are such a case)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from polarlab.engine.local import predict_in_blocks
from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.combine import _softmax
from polarlab.harmonizer.diagnostics import SupervisionWarning
from polarlab.harmonizer.polar import VotesDecided
from polarlab.harmonizer.shift import MIN_DROP, MIN_Z, compare, vote_agreement
from polarlab.harmonizer.stage2 import fit_temperature, sharpen


def data(seed: int, n: int, m: int = 8, d: int = 16, rule_acc: float = 0.9, coverage: float = 0.4):
    """Two classes, features that carry y, m rules of the given accuracy voting on ``coverage`` of the rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    X[:, :4] += 1.2 * (2 * y[:, None] - 1)
    L = np.where(rng.random((n, m)) < rule_acc, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > coverage] = -1
    return X.astype(np.float32), L.astype(np.int64), y


@pytest.fixture(scope="module")
def fitted():
    X, L, y = data(0, 1400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = PolarHarmonizer(2, seed=0).fit(L[:900], X[:900])
    return h, X[900:], L[900:], y[900:]


def test_votes_like_the_fit_rows_are_used(fitted) -> None:
    h, X, L, y = fitted
    shift = h.vote_shift(L, X)
    assert not shift.shifted and shift.votes == int((L >= 0).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error", SupervisionWarning)          # no warning either
        auto = h.predict_proba(L, X)
    np.testing.assert_allclose(auto, h.predict_proba(L, X, use_votes=True))


def test_votes_of_other_rows_are_detected_and_the_features_decide(fitted) -> None:
    h, X, L, y = fitted
    shuffled = L[np.random.default_rng(1).permutation(len(L))]       # each row gets another row's votes
    shift = h.vote_shift(shuffled, X)
    assert shift.shifted
    assert shift.fit_agreement - shift.agreement >= MIN_DROP and shift.z >= MIN_Z
    with pytest.warns(SupervisionWarning, match="do not behave as they did on the fit rows"):
        P = h.predict_proba(shuffled, X)
    np.testing.assert_allclose(P, sharpen(h.fallback_model_.proba(X), h.fallback_temperature_))
    combined = h.predict_proba(shuffled, X, use_votes=True)
    # the features-only labels are right where the (misplaced) votes would mislead
    assert (P.argmax(axis=1) == y).mean() > (combined.argmax(axis=1) == y).mean() + 0.05


def test_the_decision_is_made_once_per_split_whatever_the_blocks(fitted) -> None:
    h, X, L, y = fitted
    shuffled = L[np.random.default_rng(2).permutation(len(L))]
    with pytest.warns(SupervisionWarning):
        whole = VotesDecided.for_split(h, shuffled, X)
    assert whole.use_votes is False
    # equal up to float32 rounding: BLAS sums a 7-row block in another order than the whole matrix on some CPUs
    np.testing.assert_allclose(predict_in_blocks(whole, shuffled, X, block_rows=7),
                               sharpen(h.fallback_model_.proba(X), h.fallback_temperature_), rtol=0, atol=1e-6)
    kept = VotesDecided.for_split(h, L, X)
    assert kept.use_votes is True
    np.testing.assert_allclose(predict_in_blocks(kept, L, X, block_rows=7), h.predict_proba(L, X), rtol=0, atol=1e-6)


def test_a_classifier_giving_every_row_one_label_cannot_declare_a_shift(fitted) -> None:
    # every row the same features (as TF-IDF gives rows made only of words the fit rows never had): the classifier
    # labels them all alike, the votes' agreement with it falls to their share of that class, which says nothing
    # about the votes. Before, that fall counted as a shift and every row got the classifier's one label
    h, X, L, y = fitted
    same = np.zeros_like(X)                                 # (the features are centred: the intercept)
    with pytest.warns(SupervisionWarning, match="same label"):
        shift = h.vote_shift(L, same)
    assert shift.fit_agreement - shift.agreement >= MIN_DROP and shift.z >= MIN_Z    # the fall is there ...
    assert shift.one_label and not shift.shifted                                     # ... but is not a shift
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P = h.predict_proba(L, same)
    np.testing.assert_allclose(P, h.predict_proba(L, same, use_votes=True))
    fallback = sharpen(h.fallback_model_.proba(same), h.fallback_temperature_)
    assert len(np.unique(fallback.argmax(axis=1))) == 1
    assert (P.argmax(axis=1) == y).mean() > (fallback.argmax(axis=1) == y).mean() + 0.1


def test_small_or_slight_falls_never_count_as_a_shift() -> None:
    assert not compare(95, 100, 1, 2).shifted                 # a large fall on 2 votes: z too small
    assert not compare(9500, 10000, 9100, 10000).shifted      # a significant fall of 0.04 < MIN_DROP
    assert compare(9500, 10000, 700, 1000).shifted            # 0.95 -> 0.70 on 1000 votes
    assert not compare(0, 0, 5, 10).shifted                   # nothing to compare with
    L = np.array([[0, -1, 1], [-1, -1, -1], [1, 1, 1]])
    assert vote_agreement(L, np.array([0, 0, 1])) == (4, 5)


def test_soft_labels_weigh_each_class_and_one_hot_ones_equal_hard_labels() -> None:
    from polarlab.errors import InputError
    from polarlab.harmonizer.stage2 import FeatureClassifier

    X, _, y = data(3, 600)
    onehot = np.eye(2)[y]
    hard = FeatureClassifier(2).fit(y, X, scale_all_rows=True).proba(X)
    soft = FeatureClassifier(2).fit(y, X, scale_all_rows=True, soft=onehot).proba(X)
    np.testing.assert_allclose(soft, hard, atol=1e-6)
    # a row given half of each class pulls the classifier less towards the class its argmax names than a hard label
    flipped = y.copy()
    flipped[:150] = 1 - y[:150]                                        # a quarter of the labels wrong...
    half = np.eye(2)[flipped]
    half[:150] = 0.5                                                   # ...and marked as unsure
    acc_hard = (FeatureClassifier(2).fit(flipped, X).proba(X).argmax(1) == y).mean()
    p_soft = FeatureClassifier(2).fit(flipped, X, soft=half).proba(X)
    assert (p_soft.argmax(1) == y).mean() >= acc_hard
    assert np.abs(p_soft[:, 1] - 0.5).mean() > np.abs(FeatureClassifier(2).fit(flipped, X).proba(X)[:, 1] - 0.5).mean()
    with pytest.raises(InputError, match="soft labels"):
        FeatureClassifier(2).fit(y, X, soft=onehot[:, :1])


def test_the_fallback_learns_from_the_combined_distributions(fitted) -> None:
    h, X, L, y = fitted
    fb = h.fallback_model_
    assert fb is not None and fb.model_ is not None
    # standardised on every fit row (900), as the two-stage baseline's end model
    assert fb.scaler_.n_samples_seen_ == 900


def with_llm(seed: int, n: int, llm_acc: float, **kwargs):
    """``data`` plus a last column that votes on every row with accuracy ``llm_acc`` (an LLM)."""
    X, L, y = data(seed, n, **kwargs)
    rng = np.random.default_rng(seed + 1)
    llm = np.where(rng.random(n) < llm_acc, y, 1 - y)
    return X, np.hstack([L, llm[:, None]]), y


def test_a_source_tuned_to_weight_zero_takes_no_part_in_the_combination() -> None:
    X, L, y = with_llm(5, 700, 0.6)
    m = L.shape[1] - 1
    other = L.copy()
    other[:, m] = 1 - other[:, m]                                     # every LLM answer flipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        silent = PolarHarmonizer(2, seed=0, combine="mv", tune_sources=[m], tune_grid=(0.0,)).fit(L, X)
        heard = PolarHarmonizer(2, seed=0, combine="mv", tune_sources=[m], tune_grid=(1.0,)).fit(L, X)
    assert silent.silenced_sources_ == [m] and heard.silenced_sources_ == []
    np.testing.assert_allclose(silent.predict_proba(L, X, use_votes=True), silent.predict_proba(other, X, use_votes=True))
    assert not np.allclose(heard.predict_proba(L, X, use_votes=True), heard.predict_proba(other, X, use_votes=True))
    # its answers are still scored: the risk leaves it out, so it is the combination's distribution, only at the
    # risk's own temperature (chosen on the silenced source's answers; the same scores, so the same argmax)
    risk_q = silent.predict_proba(L, X, exclude=[m], use_votes=True)
    labels_q = silent.predict_proba(L, X, use_votes=True)
    np.testing.assert_array_equal(risk_q.argmax(axis=1), labels_q.argmax(axis=1))
    scales = silent.combiner_.risk_scales_
    if scales is None:
        np.testing.assert_allclose(risk_q, labels_q)
    else:
        assert scales[0] == scales[1]                                   # one scale for the votes and the prior
        z = scales[0] * silent.combiner_.temperature_ * np.log(labels_q)   # a * scores, up to a constant per row
        np.testing.assert_allclose(risk_q, _softmax(z), atol=1e-6)


def test_the_rules_shift_is_checked_apart_from_the_llm_votes() -> None:
    X, L, y = with_llm(7, 1600, 0.85, m=4, coverage=0.06)             # few rule votes, an LLM vote on every row
    m = L.shape[1] - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = PolarHarmonizer(2, seed=0, tune_sources=[m], tune_grid=(1.0,)).fit(L[:1000], X[:1000])
    assert len(h.fit_vote_agreement_) == 2                          # the rules' pool and the LLM's
    test = L[1000:].copy()
    test[:, :m] = test[np.random.default_rng(2).permutation(len(test)), :m]   # only the rules' votes misplaced
    shift = h.vote_shift(test, X[1000:])
    assert shift.shifted and shift.votes == int((test[:, :m] >= 0).sum())
    # pooled with the LLM's many unchanged votes, the same fall would not count
    labels = h._prior_proba(X[1000:]).argmax(axis=1)
    fit_all = tuple(np.sum(h.fit_vote_agreement_, axis=0))
    assert not compare(*fit_all, *vote_agreement(test, labels)).shifted
    assert not h.vote_shift(L[1000:], X[1000:]).shifted


def test_fit_temperature_recovers_the_temperature_of_sharper_targets() -> None:
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=500)
    for t in (0.5, 2.0):
        assert abs(fit_temperature(P, sharpen(P, t)) - t) < 0.02
    assert abs(fit_temperature(P, P) - 1.0) < 0.02
    np.testing.assert_array_equal(sharpen(P, 0.3).argmax(axis=1), P.argmax(axis=1))   # never changes a label
    assert fit_temperature(P[:0], P[:0]) == 1.0


def test_the_fallback_risk_of_the_llm_answers_is_sharpened_by_the_rules_rows() -> None:
    """The fallback classifier learns soft labels (on rows only the LLM voted on: the prior's and the LLM's own
    guesses), so its distributions are flatter than the combined ones where the rules voted; the temperature
    chosen there (cross-fitted) makes the risk of the LLM's answers on shifted rows better calibrated here, where
    the features are strong (with weak features the same rule measured up to 0.007 worse: README, label quality)."""
    from polarlab.risk import calibration_report

    X, L, y = with_llm(8, 1600, 0.7, m=4, coverage=0.3)
    m = L.shape[1] - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = PolarHarmonizer(2, seed=0, tune_sources=[m], tune_grid=(1.0,)).fit(L[:1000], X[:1000])
    assert h.fallback_temperature_ < 0.9
    test = L[1000:].copy()
    test[:, :m] = test[np.random.default_rng(2).permutation(len(test)), :m]      # the rules' votes misplaced
    with pytest.warns(SupervisionWarning):
        P = h.predict_proba(test, X[1000:], exclude=[m])
    flat = h.fallback_model_.proba(X[1000:])
    np.testing.assert_array_equal(P.argmax(axis=1), flat.argmax(axis=1))
    answers, rows = test[:, m], np.arange(len(test))
    wrong = (answers != y[1000:]).astype(float)
    sharp = calibration_report(1.0 - P[rows, answers], wrong)
    plain = calibration_report(1.0 - flat[rows, answers], wrong)
    assert sharp.ece < plain.ece and sharp.auroc == pytest.approx(plain.auroc)

"""The two scales of the leave-out distribution (the POLAR risk of a source's answer): votes and prior scaled apart,
chosen by how well the distribution without the source predicts its answers, kept only when significantly better
than one temperature, never changing a label (issue 10)."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.harmonizer import PolarHarmonizer
from polarlab.harmonizer.combine import _softmax
from polarlab.harmonizer.combiners import choose_risk_scales, choose_risk_temperature, choose_temperature, make_combiner
from polarlab.risk import auroc, ece


def votes_and_prior(seed: int, n: int = 3000, k: int = 4, prior_strength: float = 2.0, rule_acc: float = 0.75,
                    answer_acc: float = 0.6):
    """k classes; a per-row prior log h that carries y (``prior_strength``), two rules of accuracy ``rule_acc``
    voting on 60 % / 30 % of the rows, and a third source (the LLM) answering every row, right on ``answer_acc``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = prior_strength * np.eye(k)[y] + rng.normal(size=(n, k))
    log_h = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

    def noisy(acc: float) -> np.ndarray:
        return np.where(rng.random(n) < acc, y, (y + rng.integers(1, k, n)) % k)

    rules = [np.where(rng.random(n) < cover, noisy(rule_acc), -1) for cover in (0.6, 0.3)]
    return np.column_stack([*rules, noisy(answer_acc)]).astype(np.int64), log_h, y


def answer_risk(comb, L: np.ndarray, log_h: np.ndarray, j: int) -> np.ndarray:
    q = comb.posterior(L, log_h, exclude=[j])
    return 1.0 - q[np.arange(len(L)), L[:, j]]


def test_parts_add_up_to_the_scores_for_every_kind() -> None:
    L, log_h, _ = votes_and_prior(0, n=400)
    for spec in ("h", "mv", "onecoin:1", "ds:2"):
        comb = make_combiner(spec, 4).fit(L, log_h)
        for exclude in ([], [2], [0, 2]):
            votes, prior = comb.parts(L, log_h, exclude)
            np.testing.assert_allclose(votes + prior, comb.scores(L, log_h, exclude), atol=1e-9)
            np.testing.assert_allclose(prior, comb.scores(L, log_h, exclude=[0, 1, 2]), atol=1e-9)


def test_two_scales_calibrate_the_risk_when_the_prior_outweighs_a_vote() -> None:
    # majority vote lets one vote outweigh any prior; when the prior is as informative as a rule, one temperature
    # cannot make the leave-one-out distribution right both where rules voted and where they did not
    L, log_h, _ = votes_and_prior(0)
    comb = make_combiner("mv", 4).fit(L, log_h)
    T = choose_temperature(comb, L, log_h, sources=[2])
    labels = comb.posterior(L, log_h)
    scales = choose_risk_scales(comb, L, log_h, sources=[2])
    assert scales is not None and comb.risk_scales_ == scales
    assert scales[1] / scales[0] > 1.0       # the prior weighs more against the votes than under one T (b/a = 1)
    np.testing.assert_allclose(comb.posterior(L, log_h), labels)          # the labels' distribution keeps T
    L_new, log_h_new, y_new = votes_and_prior(1)
    is_error = L_new[:, 2] != y_new
    two = answer_risk(comb, L_new, log_h_new, 2)
    comb.risk_scales_ = None
    one = answer_risk(comb, L_new, log_h_new, 2)
    assert ece(two, is_error) < ece(one, is_error) - 0.02
    assert auroc(two, is_error) > auroc(one, is_error) + 0.02


def test_two_scales_are_dropped_when_they_add_nothing() -> None:
    L, log_h, _ = votes_and_prior(2, n=1000)
    flat = np.zeros_like(log_h)                  # no prior: a second scale has nothing to weigh
    comb = make_combiner("mv", 4).fit(L, flat)
    choose_temperature(comb, L, flat, sources=[2])
    assert choose_risk_scales(comb, L, flat, sources=[2]) is None and comb.risk_scales_ is None
    for spec in ("onecoin:1", "ds:1"):              # a vote's weight against the prior is learnt: one T keeps it
        learnt = make_combiner(spec, 4).fit(L, log_h)
        choose_temperature(learnt, L, log_h, sources=[2])
        assert choose_risk_scales(learnt, L, log_h, sources=[2], min_gain=-np.inf) is None
    comb = make_combiner("mv", 4).fit(L, log_h)
    T = choose_temperature(comb, L, log_h, sources=[2])
    assert choose_risk_scales(comb, L, log_h, sources=[2], min_gain=np.inf) is None
    np.testing.assert_allclose(comb.posterior(L, log_h, exclude=[2]),
                               _softmax(comb.scores(L, log_h, exclude=[2]) / T))


def features_and_votes(seed: int, n: int, strength: float, rules: tuple[tuple[float, float], ...],
                       answer_acc: float, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Features X (n, 12) whose first k columns carry y with ``strength``; votes L (n, len(rules) + 1): a rule per
    (accuracy, coverage) of ``rules``, then an LLM answering every row, right on ``answer_acc``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    X[:, :k] += strength * np.eye(k)[y]
    noisy = lambda acc, cover: np.where(rng.random(n) < cover,  # noqa: E731
                                        np.where(rng.random(n) < acc, y, (y + rng.integers(1, k, n)) % k), -1)
    return X, np.column_stack([*(noisy(a, c) for a, c in rules), noisy(answer_acc, 1.0)]).astype(np.int64)


@pytest.mark.filterwarnings("ignore")
def test_harmonizer_risk_uses_the_scales_and_keeps_its_labels() -> None:
    k = 3
    X, L = features_and_votes(4, 400, 2.0, ((0.7, 0.5), (0.7, 0.3), (0.7, 0.3)), 0.6)   # features that carry y
    h = PolarHarmonizer(k, seed=0, combine="mv", tune_sources=[3]).fit(L, X)
    comb = h.combiner_
    assert comb.risk_scales_ is not None
    a, b = comb.risk_scales_
    log_prior = np.log(np.clip(h._prior_proba(X), 1e-6, 1.0))
    votes, prior = comb.parts(h._combination_votes(L), log_prior, [3])
    risk_q = h.predict_proba(L, X, exclude=[3], use_votes=True)
    np.testing.assert_allclose(risk_q, _softmax(a * votes + b * prior), atol=1e-9)
    full = _softmax(comb.scores(h._combination_votes(L), log_prior) / comb.temperature_)
    np.testing.assert_allclose(h.predict_proba(L, X, use_votes=True), full, atol=1e-9)


def test_a_silenced_sources_risk_gets_a_temperature_of_its_own() -> None:
    # a tuned source silenced by its weight (the LLM at x0) is not read by the combination, so the labels' T is
    # chosen by leaving each *rule* out in turn; its answers are still scored by the risk, which asks how well the
    # distribution without it predicts *its* answers. Noisy rules and a good LLM: the rules ask for T = 32, the
    # LLM's answers for a much sharper distribution
    L, log_h, _ = votes_and_prior(0, rule_acc=0.6, answer_acc=0.8)
    silenced = L.copy()
    silenced[:, 2] = -1
    comb = make_combiner("mv", 4).fit(silenced, log_h)
    T = choose_temperature(comb, silenced, log_h)
    labels = comb.posterior(silenced, log_h)
    T_risk = choose_risk_temperature(comb, silenced, log_h, sources=[2], answers=L)
    assert T_risk < T and comb.risk_scales_ == (1.0 / T_risk, 1.0 / T_risk)
    np.testing.assert_allclose(comb.posterior(silenced, log_h), labels)      # the labels keep T
    L_new, log_h_new, y_new = votes_and_prior(1, rule_acc=0.6, answer_acc=0.8)
    is_error = L_new[:, 2] != y_new
    seen = L_new.copy()
    seen[:, 2] = -1
    q_own = comb.posterior(seen, log_h_new, exclude=[2])
    comb.risk_scales_ = None
    q_labels = comb.posterior(seen, log_h_new, exclude=[2])
    rows = np.arange(len(L_new))
    assert ece(1.0 - q_own[rows, L_new[:, 2]], is_error) < ece(1.0 - q_labels[rows, L_new[:, 2]], is_error) - 0.05
    # the same T for both: nothing kept
    again = make_combiner("mv", 4).fit(silenced, log_h)
    again.temperature_ = T_risk
    assert choose_risk_temperature(again, silenced, log_h, sources=[2], answers=L) == T_risk
    assert again.risk_scales_ is None


@pytest.mark.filterwarnings("ignore")
def test_harmonizer_with_a_silenced_llm_scores_its_answers_with_their_own_temperature() -> None:
    k = 3
    X, L = features_and_votes(5, 600, 0.5, ((0.6, 0.6), (0.6, 0.5), (0.6, 0.5)), 0.85)   # weak features
    h = PolarHarmonizer(k, seed=0, combine="mv", tune_sources=[3], tune_grid=[0.0]).fit(L, X)
    assert h.silenced_sources_ == [3]
    comb, lp = h.combiner_, h.fit_log_prior_
    seen = h._combination_votes(L)
    twin = make_combiner("mv", k).fit(seen, lp)
    T = choose_temperature(twin, seen, lp)
    T_risk = choose_risk_temperature(twin, seen, lp, sources=[3], answers=L)
    assert comb.temperature_ == T and T_risk < T
    assert comb.risk_scales_ == (1.0 / T_risk, 1.0 / T_risk)             # (two scales were not significantly better)
    log_prior = np.log(np.clip(h._prior_proba(X), 1e-6, 1.0))
    risk_q = h.predict_proba(L, X, exclude=[3], use_votes=True)
    np.testing.assert_allclose(risk_q, _softmax(comb.scores(seen, log_prior, exclude=[3]) / T_risk), atol=1e-9)
    np.testing.assert_allclose(h.predict_proba(L, X, use_votes=True),
                               _softmax(comb.scores(seen, log_prior) / T), atol=1e-9)

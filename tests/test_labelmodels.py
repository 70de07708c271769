"""Label model baselines: majority vote by hand, Snorkel and Dawid–Skene on planted truth."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from polarlab.errors import ConfigError, InputError
from polarlab.labelmodels import (LABEL_MODELS, DawidSkene, LabelModel, MajorityVote, SnorkelLabelModel,
                                  make_label_model, predict)

# 6 examples x 3 sources, 2 classes, -1 = abstain.
L_TINY = np.array([
    [0, 0, -1],    # counts (2, 0) -> class 0 wins
    [1, 0, 1],     # counts (1, 2) -> class 1 wins
    [-1, -1, -1],  # nobody votes  -> uniform
    [1, -1, -1],   # counts (0, 1) -> class 1
    [0, 1, -1],    # counts (1, 1) -> tie, split evenly
    [-1, 1, 1],    # counts (0, 2) -> class 1
])

ACCURACIES = [0.9, 0.8, 0.75, 0.7, 0.6]


def planted(n_classes: int, n: int = 2000, coverage: float = 0.7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Truth y (n,) and votes L (n, 5): source j votes w.p. ``coverage``, is right w.p. ACCURACIES[j],
    otherwise votes a uniformly chosen wrong class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    L = np.full((n, len(ACCURACIES)), -1)
    for j, acc in enumerate(ACCURACIES):
        votes = rng.random(n) < coverage
        wrong = (y + rng.integers(1, n_classes, n)) % n_classes
        L[:, j] = np.where(votes, np.where(rng.random(n) < acc, y, wrong), -1)
    return y, L


def unipolar(n_classes: int, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Truth y (n,) and votes L (n, 3k) of unipolar sources, as most labeling functions are: three
    sources per class c each only ever vote c, w.p. ``hit`` when Y = c and ``false`` otherwise,
    and abstain the rest of the time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    columns = [np.where(rng.random(n) < np.where(y == c, hit, false), c, -1)
               for c in range(n_classes) for hit, false in UNIPOLAR_RATES]
    return y, np.stack(columns, axis=1)


UNIPOLAR_RATES = [(0.5, 0.05), (0.3, 0.1), (0.2, 0.02)]  # (P(vote | its class), P(vote | other class))


def assert_distributions(proba: np.ndarray, n: int, k: int) -> None:
    assert proba.shape == (n, k)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


# --------------------------------------------------------------------------- majority vote

def test_majority_vote_by_hand() -> None:
    mv = MajorityVote(2, tie_break="first").fit(L_TINY)
    expected = np.array([
        [1.0, 0.0],  # 2 votes for 0
        [0.0, 1.0],  # 2 votes for 1 vs 1 for 0
        [0.5, 0.5],  # all abstain -> uniform 1/2 each
        [0.0, 1.0],  # single vote for 1
        [0.5, 0.5],  # 1 vs 1 tie -> 1/2 each
        [0.0, 1.0],  # 2 votes for 1
    ])
    np.testing.assert_array_equal(mv.predict_proba(L_TINY), expected)
    assert isinstance(mv, LabelModel)
    assert mv.n_sources_ == 3
    # argmax of the tie / all-abstain rows is the first tied class (numpy argmax)
    np.testing.assert_array_equal(predict(mv, L_TINY), [0, 1, 0, 1, 0, 1])


def test_majority_vote_three_class_ties() -> None:
    L = np.array([
        [0, 2, -1],   # 0 and 2 tie with 1 vote each -> 1/2, 0, 1/2
        [0, 1, 2],    # three-way tie -> 1/3 each
        [2, 2, 1],    # 2 wins 2:1 -> 0, 0, 1
        [-1, -1, -1],  # all abstain -> 1/3 each
    ])
    third = 1 / 3
    expected = np.array([[0.5, 0.0, 0.5], [third, third, third], [0.0, 0.0, 1.0], [third, third, third]])
    np.testing.assert_allclose(MajorityVote(3, tie_break="first").predict_proba(L), expected)


def test_bad_votes_and_settings_raise_clear_errors() -> None:
    with pytest.raises(InputError, match=r"vote 2 is outside -1\.\.1") as err:
        MajorityVote(2).fit(np.array([[0, 1], [1, 2]]))
    assert err.value.row == 1 and err.value.column == "1"
    with pytest.raises(InputError, match="2-D"):
        MajorityVote(2).predict_proba(np.array([0, 1, -1]))
    with pytest.raises(ConfigError, match="n_classes"):
        MajorityVote(1)
    with pytest.raises(ConfigError, match="class_balance"):
        SnorkelLabelModel(2, class_balance=[1.0, 0.0]).fit(L_TINY)


# --------------------------------------------------------------------------- predict and score: every model

def fitted(name: str, L: np.ndarray, X: np.ndarray, **kw) -> object:
    return make_label_model(name, 2, **kw).fit(L, X if "+lr" in name else None)


@pytest.mark.parametrize("name", sorted(LABEL_MODELS))
def test_every_registered_model_predicts_and_scores_by_its_tie_policy(name: str) -> None:
    """fit, predict_proba, predict and score on every registered label model; predict is the argmax of
    predict_proba, tied rows (within Snorkel's 1e-5) broken by the model's tie_break, and score is the module's."""
    from polarlab.labelmodels.base import TIE_TOL
    from polarlab.labelmodels.score import score

    y, L = planted(2, n=300)
    X = np.column_stack([L == 0, L == 1]).astype(float) + np.random.default_rng(0).normal(0, 0.1, (300, 10))
    model = fitted(name, L, X)
    for method in ("fit", "predict_proba", "predict", "score"):
        assert callable(getattr(model, method, None)), (name, method)
    P = model.predict_proba(L, X)
    labels = model.predict(L, X)
    assert labels.shape == (300,) and labels.dtype.kind == "i"
    top = P >= P.max(axis=1, keepdims=True) - TIE_TOL
    clear = top.sum(axis=1) == 1
    np.testing.assert_array_equal(labels[clear], P[clear].argmax(axis=1))
    tied = ~clear
    policy = model.tie_break
    if policy == "abstain":
        assert np.all(labels[tied] == -1)
    else:
        assert np.all(top[np.flatnonzero(tied), labels[tied]])
    if policy == "first":
        np.testing.assert_array_equal(labels, P.argmax(axis=1))
    assert model.score(L, y, X, metrics=["accuracy", "coverage"]) == score(model, L, y, X,
                                                                          metrics=["accuracy", "coverage"])


def test_snorkel_predict_follows_snorkel_tie_break_policy() -> None:
    """All-abstain rows get the uniform prior, a tie: Snorkel's predict abstains on them (its default policy), as
    this wrapper's does; "first" gives class 0 and "random" one of the classes, the same on every call."""
    y, L = planted(2, n=300, coverage=0.4)
    L[:40] = -1
    model = SnorkelLabelModel(2, epochs=100).fit(L)
    own = model.model_.predict(L, tie_break_policy="abstain")
    np.testing.assert_array_equal(model.predict(L), own)
    assert np.all(model.predict(L)[:40] == -1)
    first = SnorkelLabelModel(2, epochs=100, tie_break="first").fit(L).predict(L)
    assert np.all(first[own == -1] == 0) and np.array_equal(first[own >= 0], own[own >= 0])
    rand = SnorkelLabelModel(2, epochs=100, tie_break="random", seed=3).fit(L)
    drawn = rand.predict(L)
    assert set(drawn[own == -1]) == {0, 1} and np.array_equal(drawn, rand.predict(L))
    with pytest.raises(ConfigError, match="tie_break"):
        SnorkelLabelModel(2, tie_break="coin")


def test_dawid_skene_predict_ties_by_its_policy() -> None:
    """Fitted on no vote, Dawid–Skene's prior is uniform: every row ties. "first" (crowd-kit's idxmax) gives 0,
    "abstain" -1, "random" a seeded mix."""
    L = np.full((50, 3), -1)
    assert np.all(DawidSkene(2).fit(L).predict(L) == 0)
    assert np.all(DawidSkene(2, tie_break="abstain").fit(L).predict(L) == -1)
    drawn = DawidSkene(2, tie_break="random", seed=1).fit(L).predict(L)
    assert set(drawn) == {0, 1}
    np.testing.assert_array_equal(drawn, DawidSkene(2, tie_break="random", seed=1).fit(L).predict(L))


def test_majority_vote_predict_keeps_its_tie_break() -> None:
    """MV's labels: the random winner its predict_proba tilts towards, -1 on ties with "abstain", class 0 first."""
    L = np.array([[0, 1, -1]] * 30 + [[1, 1, 0]] * 5)
    rand = MajorityVote(2, seed=5)
    np.testing.assert_array_equal(rand.predict(L), rand.predict_proba(L).argmax(axis=1))
    assert set(rand.predict(L)[:30]) == {0, 1}
    np.testing.assert_array_equal(MajorityVote(2, tie_break="abstain").predict(L), [-1] * 30 + [1] * 5)
    np.testing.assert_array_equal(MajorityVote(2, tie_break="first").predict(L), [0] * 30 + [1] * 5)


# --------------------------------------------------------------------------- planted truth

@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", ["snorkel", "dawid_skene"])
def test_recovers_planted_truth(name: str, n_classes: int) -> None:
    y, L = planted(n_classes)
    model = make_label_model(name, n_classes).fit(L)
    proba = model.predict_proba(L)
    assert_distributions(proba, len(y), n_classes)
    acc = float((proba.argmax(axis=1) == y).mean())
    worst = min(float((L[L[:, j] >= 0, j] == y[L[:, j] >= 0]).mean()) for j in range(L.shape[1]))
    mv_acc = float((predict(MajorityVote(n_classes), L) == y).mean())
    assert acc >= worst + 0.15, (acc, worst)
    assert acc >= mv_acc, (acc, mv_acc)  # weighting sources by estimated quality beats plain voting


def test_learned_source_quality_orders_best_above_worst() -> None:
    y, L = planted(2)
    snorkel = SnorkelLabelModel(2).fit(L)
    weights = snorkel.model_.get_weights()  # Snorkel's estimated accuracies, shape (m,)
    assert weights[0] > weights[-1]
    ds = DawidSkene(2).fit(L)
    # P(vote = true class | true class), averaged over the classes, per source
    ds_acc = np.array([np.trace(ds.confusion_[j]) / 2 for j in range(L.shape[1])])
    assert ds_acc[0] > ds_acc[-1]
    assert abs(ds_acc[0] - ACCURACIES[0]) < 0.05 and abs(ds_acc[-1] - ACCURACIES[-1]) < 0.05


# --------------------------------------------------------------------------- Snorkel specifics

def test_snorkel_fewer_than_three_sources_and_abstain_rows() -> None:
    L = np.array([[0], [1], [-1], [0], [1], [0]])
    model = SnorkelLabelModel(2, class_balance=[3, 1]).fit(L)
    proba = model.predict_proba(L)
    assert_distributions(proba, 6, 2)
    # each vote moves its row from the prior (0.75, 0.25) towards the voted class
    assert proba[0, 0] > 0.75 and proba[1, 1] > 0.25
    np.testing.assert_allclose(proba[2], [0.75, 0.25])  # abstain row -> class_balance 3:1 normalised


def test_snorkel_leaves_global_random_state_alone() -> None:
    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    before = draw()
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    SnorkelLabelModel(2, epochs=20, seed=123).fit(L_TINY)
    assert draw() == before


def test_snorkel_stable_path_matches_snorkel() -> None:
    y, L = planted(3, n=300)
    model = SnorkelLabelModel(3, epochs=100).fit(L)
    np.testing.assert_allclose(model._stable_proba(L), model.model_.predict_proba(L), atol=1e-12)


@pytest.mark.parametrize("cls", [SnorkelLabelModel, DawidSkene])
def test_fitted_models_check_their_input(cls: type) -> None:
    with pytest.raises(NotFittedError):
        cls(2).predict_proba(L_TINY)
    model = cls(2).fit(L_TINY)
    with pytest.raises(InputError, match="3"):
        model.predict_proba(L_TINY[:, :2])
    assert model.predict_proba(L_TINY[:0]).shape == (0, 2)


# --------------------------------------------------------------------------- Dawid–Skene specifics

def test_dawid_skene_matches_crowdkit_with_columns_in_class_order() -> None:
    y, L = planted(3, n=500)
    ds = DawidSkene(3).fit(L)
    proba = ds.predict_proba(L)
    covered = (L >= 0).any(axis=1)
    crowdkit = ds.aggregator_.probas_.sort_index()  # columns in crowd-kit's own order
    reference = crowdkit[[0, 1, 2]].to_numpy()
    # predict_proba is one E-step with the final parameters; crowd-kit's probas_ come from the
    # E-step before the last M-step, so they agree up to the EM tolerance, not exactly.
    np.testing.assert_allclose(proba[covered], reference, atol=0.02)
    np.testing.assert_allclose(proba[~covered], np.tile(ds.class_prior_, ((~covered).sum(), 1)))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_dawid_skene_learns_from_unipolar_sources(n_classes: int) -> None:
    # A unipolar source's information is in when it abstains: dropping abstains as missing makes
    # P(vote c | Y) = 1 for every class, so its votes count for nothing and DS predicts the prior.
    y, L = unipolar(n_classes)
    ds = DawidSkene(n_classes).fit(L)
    proba = ds.predict_proba(L)
    assert_distributions(proba, len(y), n_classes)
    acc = float((proba.argmax(axis=1) == y).mean())
    mv_acc = float((predict(MajorityVote(n_classes), L) == y).mean())
    assert acc >= mv_acc - 0.05, (acc, mv_acc)
    # one vote of the best source for class 1, every other source abstaining, moves P(Y = 1) up
    row = np.full((1, L.shape[1]), -1)
    row[0, len(UNIPOLAR_RATES)] = 1
    assert ds.predict_proba(row)[0, 1] > ds.class_prior_[1] + 0.1
    # its planted rates: it votes far more often on its own class than on the others
    assert ds.abstain_[len(UNIPOLAR_RATES), 1] < ds.abstain_[len(UNIPOLAR_RATES), 0] - 0.2


def test_dawid_skene_em_bound_never_decreases() -> None:
    # EM can only raise the evidence lower bound; the stopping test relies on it
    y, L = unipolar(2)
    history = np.array(DawidSkene(2, tol=1e-8).fit(L).aggregator_.loss_history_)
    assert len(history) > 3
    assert np.all(np.diff(history) >= -1e-9), np.diff(history)


def test_dawid_skene_unvoted_class_gets_zero_and_rows_sum_to_one() -> None:
    # class 1 of 3 is never voted; rows 0-1 clearly class 2, rows 2-3 clearly class 0
    L = np.array([[2, 2, 2], [2, 2, -1], [0, 0, 0], [0, -1, 0], [-1, -1, -1], [2, 0, 2]])
    ds = DawidSkene(3).fit(L)
    proba = ds.predict_proba(L)
    assert_distributions(proba, 6, 3)
    np.testing.assert_array_equal(proba[:, 1], 0.0)
    assert proba[0, 2] > 0.99 and proba[2, 0] > 0.99
    np.testing.assert_allclose(proba[4], ds.class_prior_)  # all-abstain row -> class prior
    assert ds.class_prior_[1] == 0.0


def test_dawid_skene_ignores_votes_never_seen_in_fit_and_handles_no_votes() -> None:
    # source 0 only ever says 0 during fit; source 1 says both
    ds = DawidSkene(2).fit(np.array([[0, 0], [0, 1], [-1, 1], [0, 0], [-1, 1]]))
    assert ds.seen_.tolist() == [[True, False], [True, True]]
    # at predict time source 0 says 1: no estimate for that vote, so it is ignored -> prior
    np.testing.assert_allclose(ds.predict_proba(np.array([[1, -1]])), [ds.class_prior_])
    empty = DawidSkene(2).fit(np.full((3, 2), -1))
    np.testing.assert_allclose(empty.predict_proba(np.full((2, 2), -1)), 0.5)


# --------------------------------------------------------------------------- registry

def test_registry_builds_models_and_rejects_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_label_model("mv", 2), MajorityVote)
    snorkel = make_label_model("Snorkel", 3, epochs=10, lr=0.05)
    assert isinstance(snorkel, SnorkelLabelModel) and snorkel.epochs == 10 and snorkel.n_classes == 3
    assert isinstance(make_label_model("dawid_skene", 2, n_iter=5), DawidSkene)
    with pytest.raises(ConfigError) as err:
        make_label_model("flyingsquid", 2)
    for valid in ("'dawid_skene'", "'mv'", "'snorkel'"):
        assert valid in str(err.value)
    with pytest.raises(ConfigError, match="epochs"):
        make_label_model("dawid_skene", 2, epochs=3)
    monkeypatch.setitem(LABEL_MODELS, "mv2", MajorityVote)  # extending is one line
    assert isinstance(make_label_model("mv2", 2), MajorityVote)


def test_polar_harmonizer_predicts_and_scores_through_the_shared_base() -> None:
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.labelmodels.base import LabelModelBase

    y, L = planted(2, n=300)
    X = np.column_stack([L == 0, L == 1]).astype(float)
    h = PolarHarmonizer(2, epochs=30).fit(L, X)
    assert isinstance(h, LabelModelBase) and "predict" not in vars(PolarHarmonizer)
    np.testing.assert_array_equal(h.predict(L, X), h.predict_proba(L, X).argmax(axis=1))
    assert h.score(L, y, X)["accuracy"] > 0.5


@pytest.mark.parametrize("model_cls", [DawidSkene, SnorkelLabelModel])
def test_predict_proba_checks_that_the_model_was_fitted_on_these_sources(model_cls) -> None:
    model = model_cls(n_classes=2)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict_proba(L_TINY)
    model.fit(L_TINY)
    assert model.predict_proba(L_TINY).shape == (6, 2)
    with pytest.raises(InputError, match="2 sources, the model was fitted on 3"):
        model.predict_proba(L_TINY[:, :2])

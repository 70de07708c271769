"""The POLAR harmonizer: fitting, selection without gold, weights, protocol, bad input."""
import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.labelmodels import LabelModel, MajorityVote


def _problem(seed=0, n=3000, d=10):
    """Features fully informative (y = [x.beta > 0]); five noisy sources (acc 0.65-0.75, 60% coverage)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ rng.normal(size=d) > 0).astype(np.int64)
    L = np.column_stack([np.where(rng.random(n) < acc, y, 1 - y) for acc in (0.75, 0.7, 0.7, 0.65, 0.65)])
    L[rng.random(L.shape) > 0.6] = -1
    return X, y, L


@pytest.fixture(scope="module")
def problem():
    X, y, L = _problem()
    tr, te = slice(0, 2000), slice(2000, None)
    mv = (MajorityVote(2).fit(L[tr]).predict_proba(L[te]).argmax(1) == y[te]).mean()
    return X, y, L, tr, te, mv


@pytest.mark.parametrize("model", ["lr", "mlp"])
@pytest.mark.parametrize("scalarization", ["linear", "square", "2norm"])
def test_recovers_labels_better_than_majority_vote(problem, model, scalarization):
    X, y, L, tr, te, mv = problem
    h = PolarHarmonizer(2, model=model, scalarization=scalarization).fit(L[tr], X[tr])
    acc = (h.predict(None, X[te]) == y[te]).mean()
    assert acc > mv + 0.08, (acc, mv)


@pytest.mark.parametrize("weights", ["max_eigen", "min_var"])
def test_data_driven_weights_fit(problem, weights):
    X, y, L, tr, te, mv = problem
    h = PolarHarmonizer(2, weights=weights).fit(L[tr], X[tr])
    assert h.weights_.shape == (5,) and h.weights_.mean() == pytest.approx(1.0)
    assert (h.predict(None, X[te]) == y[te]).mean() > mv + 0.05


def test_supplied_weights_are_used(problem):
    X, y, L, tr, te, _ = problem
    # source 0 replaced by an always-wrong labeler; weighting only it must reproduce its (wrong) labels
    L2 = L.copy()
    L2[:, 0] = 1 - y
    h = PolarHarmonizer(2, weights=[1.0, 0, 0, 0, 0]).fit(L2[tr], X[tr])
    assert (h.predict(None, X[te]) == y[te]).mean() < 0.2
    np.testing.assert_array_equal(h.weights_, [1.0, 0, 0, 0, 0])


def test_proba_shape_and_L_ignored(problem):
    """With combine="h" the output is h(x) alone (the votes are not used at prediction time)."""
    X, y, L, tr, te, _ = problem
    h = PolarHarmonizer(2, scalarization="max", combine="h").fit(L[tr], X[tr])
    p = h.predict_proba(L[te], X[te])
    assert p.shape == (1000, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(p, h.predict_proba(None, X[te]))
    np.testing.assert_array_equal(p, h.predict_proba(np.full_like(L[te], -1), X[te]))
    assert isinstance(h, LabelModel)


def test_deterministic_given_seed(problem):
    X, y, L, tr, te, _ = problem
    a = PolarHarmonizer(2, model="mlp", seed=3, epochs=5).fit(L[tr], X[tr]).predict_proba(None, X[te])
    b = PolarHarmonizer(2, model="mlp", seed=3, epochs=5).fit(L[tr], X[tr]).predict_proba(None, X[te])
    c = PolarHarmonizer(2, model="mlp", seed=4, epochs=5).fit(L[tr], X[tr]).predict_proba(None, X[te])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_early_stopping_without_gold_keeps_best_epoch(problem):
    X, y, L, tr, te, _ = problem
    h = PolarHarmonizer(2, model="mlp", epochs=200, patience=3, lr=0.05).fit(L[tr], X[tr])
    assert len(h.history_) < 200                     # stopped early
    vals = [r.valid_loss for r in h.history_]
    assert vals[h.best_epoch_ - 1] <= min(vals) + h.min_delta     # kept parameters are the best held-out ones
    assert h.best_epoch_ < len(h.history_)


@pytest.mark.parametrize("model", ["lr", "mlp"])
def test_select_with_gold_is_opt_in_and_checked(problem, model):
    X, y, L, tr, te, _ = problem
    h = PolarHarmonizer(2, model=model, epochs=30).fit(L[tr], X[tr], X_valid=X[te], select_with_gold=y[te])
    vals = [r.valid_loss for r in h.history_]
    assert vals[h.best_epoch_ - 1] == pytest.approx(min(vals), abs=1e-4)
    with pytest.raises(InputError, match="select_with_gold"):
        PolarHarmonizer(2).fit(L[tr], X[tr], X_valid=X[te], select_with_gold=y[:10])
    with pytest.raises(InputError, match="L_valid"):
        PolarHarmonizer(2).fit(L[tr], X[tr], X_valid=X[te])


def test_bad_input_errors(problem):
    X, y, L, tr, te, _ = problem
    with pytest.raises(InputError, match="features"):
        PolarHarmonizer(2).fit(L[tr], None)
    bad = L[tr].copy()
    bad[5, 2] = 7
    with pytest.raises(InputError, match="row 5"):
        PolarHarmonizer(2).fit(bad, X[tr])
    with pytest.raises(InputError, match="rows"):
        PolarHarmonizer(2).fit(L[:10], X[:20])
    with pytest.raises(InputError, match="weights"):
        PolarHarmonizer(2, weights=[1.0, 2.0]).fit(L[tr], X[tr])
    with pytest.raises(InputError, match="scalarization"):
        PolarHarmonizer(2, scalarization="cube")
    with pytest.raises(InputError, match="num_threads"):
        PolarHarmonizer(2, num_threads=0)
    with pytest.raises(InputError, match="optimizer"):
        PolarHarmonizer(2, optimizer="sgd")
    with pytest.raises(InputError, match="not fitted"):
        PolarHarmonizer(2).predict_proba(None, X)
    h = PolarHarmonizer(2, epochs=2).fit(L[tr], X[tr])
    with pytest.raises(InputError, match="features"):
        h.predict_proba(None, X[:, :3])


def test_num_threads_restored(problem):
    import torch
    X, y, L, tr, te, _ = problem
    before = torch.get_num_threads()
    PolarHarmonizer(2, epochs=2, num_threads=1).fit(L[tr], X[tr])
    assert torch.get_num_threads() == before


def test_lbfgs_and_adam_reach_the_same_solution_for_lr(problem):
    """The LR objective is convex: both optimizers must land on (nearly) the same h."""
    X, y, L, tr, te, _ = problem
    a = PolarHarmonizer(2, optimizer="lbfgs", val_fraction=0.0, epochs=50).fit(L[tr], X[tr])
    b = PolarHarmonizer(2, optimizer="adam", val_fraction=0.0, epochs=300, lr=0.05, batch_size=None
                        ).fit(L[tr], X[tr])
    pa, pb = a.predict_proba(None, X[te]), b.predict_proba(None, X[te])
    assert np.abs(pa - pb).max() < 0.05
    assert (pa.argmax(1) == pb.argmax(1)).mean() > 0.98

"""polarlab.bench.methods: the benchmarks' one method loop (every baseline, then POLAR) gives each method exactly
what fitting it by hand gives, with the seed and options routed as documented."""
from __future__ import annotations

import numpy as np

from polarlab.bench.methods import BASELINES, METHODS, fit_baselines, fit_methods, score_methods, supervision_messages
from polarlab.harmonizer import PolarHarmonizer
from polarlab.labelmodels import make_label_model
from polarlab.metrics import classification_metrics


def votes_and_features(seed: int, n: int, m: int = 6, d: int = 8):
    """Two classes; features carry the class; m rules right 75% of the time where they vote (half the rows)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    X[:, :3] += 1.2 * (2 * y[:, None] - 1)
    L = np.where(rng.random((n, m)) < 0.75, y[:, None], 1 - y[:, None])
    L[rng.random((n, m)) > 0.5] = -1
    L[: n // 10, :] = np.where(rng.random((n // 10, m)) < 0.5, 0, 1)   # some ties for MV's seeded tie-break
    return L.astype(np.int64), X.astype(np.float32), y


def test_fit_methods_equals_each_method_fitted_by_hand() -> None:
    L, X, y = votes_and_features(0, 500)
    fit, test = slice(0, 350), slice(350, None)
    snorkel = {"epochs": 50, "seed": 7}
    fits = fit_methods(L[fit], L[test], X[fit], X[test], 2, seed=3, options={"snorkel": snorkel},
                       harmonizer={"epochs": 30})
    assert list(fits.probas) == [*BASELINES, "polar", "polar_h"] and set(fits.probas) == set(METHODS)
    by_hand = {"mv": make_label_model("mv", 2, seed=3).fit(L[fit]).predict_proba(L[test]),
               "snorkel": make_label_model("snorkel", 2, **snorkel).fit(L[fit]).predict_proba(L[test]),
               "dawid_skene": make_label_model("dawid_skene", 2).fit(L[fit]).predict_proba(L[test]),
               "snorkel+lr": make_label_model("snorkel+lr", 2, seed=3, label_model_options=snorkel)
               .fit(L[fit], X[fit]).predict_proba(None, X[test])}
    for m in ("mv+lr", "dawid_skene+lr"):
        by_hand[m] = make_label_model(m, 2, seed=3).fit(L[fit], X[fit]).predict_proba(None, X[test])
    h = PolarHarmonizer(2, seed=3, epochs=30).fit(L[fit], X[fit])
    by_hand["polar"], by_hand["polar_h"] = h.predict_proba(L[test], X[test]), h.predict_h(X[test])
    for m, P in by_hand.items():
        np.testing.assert_array_equal(fits.probas[m], P, err_msg=m)
    assert fits.harmonizer.combine_ == h.combine_
    other = fit_baselines(L[fit], L[test], X[fit], X[test], 2, seed=4, methods=("mv",))
    assert not np.array_equal(other["mv"], fits.probas["mv"])          # the seed reaches MV's tie-break


def test_fit_baselines_times_each_method_and_score_methods_matches_the_metrics() -> None:
    L, X, y = votes_and_features(1, 300)
    seconds: dict[str, float] = {}
    probas = fit_baselines(L[:200], L[200:], X[:200], X[200:], 2, methods=("dawid_skene", "mv+lr"), seconds=seconds)
    assert list(probas) == ["dawid_skene", "mv+lr"] and set(seconds) == set(probas)
    assert all(P.shape == (100, 2) for P in probas.values())
    scores = score_methods(y[200:], probas, "youtube", ("accuracy", "macro_f1"), methods=["mv+lr"], digits=3)
    want = classification_metrics(y[200:], probas["mv+lr"], dataset="youtube")
    assert scores == {"mv+lr": {"accuracy": round(want["accuracy"], 3), "macro_f1": round(want["macro_f1"], 3)}}


def test_one_sided_votes_give_the_supervision_warning() -> None:
    L, X, _ = votes_and_features(2, 300)
    L = np.where(L == 1, 1, -1)                      # only class 1 ever voted
    fits = fit_methods(L[:200], L[200:], X[:200], X[200:], 2, harmonizer={"epochs": 20})
    messages = supervision_messages(fits.fit_warnings)
    assert messages and any("no vote" in m for m in messages)


def test_a_failed_dataset_fails_the_benchmark_command(capsys, tmp_path):
    from polarlab.bench.methods import emit_result, exit_status

    ok, bad = {"datasets": {"a": {"labels": {}}}}, {"datasets": {"a": {"labels": {}}, "b": {"error": "no label.json"}}}
    assert exit_status(ok) == 0 and exit_status(bad) == 1
    emit_result(bad, tmp_path / "r.json")
    import json
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == bad == json.loads((tmp_path / "r.json").read_text())

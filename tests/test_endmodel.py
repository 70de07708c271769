"""End models: targets, logistic regression on real sentence embeddings (fit, save, load, predict in
batches), self-training (stops; no class collapse), and a real, short fine-tune of the MiniLM classifier."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.endmodel import SelfTraining, Targets, load_end_model, make_end_model, predict_file, predict_frame
from polarlab.endmodel.logreg import EmbeddingLogReg
from polarlab.errors import ConfigError, DataError, InputError, NotFittedError
from polarlab.task import Task

TASK = Task(labels=("ham", "spam"), name="tiny_spam")
SPAM = ["check out my channel", "subscribe to my page please", "free gift card click here", "visit my website now",
        "win money fast at www.win.com", "follow me for free followers"]
HAM = ["great song, love it", "this video made my day", "beautiful voice", "the chorus is amazing",
       "best music video ever", "I listen to this every morning"]
TEXTS = SPAM + HAM
Y = np.array([1] * len(SPAM) + [0] * len(HAM))


def test_targets_resolve_reviewed_rows_and_weights() -> None:
    t = Targets.from_risk(np.array([[2.0, 2.0], [0.9, 0.1], [0.3, 0.7]]), risk=np.array([0.5, np.nan, 2.0]),
                          hard=np.array([-1, -1, 0]))
    P, w = t.resolved()
    np.testing.assert_allclose(P, [[0.5, 0.5], [0.9, 0.1], [1.0, 0.0]])   # normalised; reviewed row one-hot
    np.testing.assert_allclose(w, [0.5, 1.0, 1.0])                      # 1 - risk; NaN risk = 1; reviewed = 1
    with pytest.raises(InputError, match="hard labels"):
        Targets(np.ones((2, 2)), hard=np.array([0, 5]))
    with pytest.raises(InputError, match="negative"):
        Targets(np.array([[-1.0, 2.0]]))


def test_logreg_soft_labels_and_weights() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-1, 0.5, (30, 4)), rng.normal(1, 0.5, (30, 4))])
    P = np.eye(3)[np.r_[np.zeros(30, int), np.ones(30, int)]]        # class 2 never appears
    m = EmbeddingLogReg(Task(labels=("a", "b", "c"))).fit_encoded(X, P, np.ones(60))
    proba = m.predict_proba_encoded(X)
    assert proba.shape == (60, 3) and proba[:, 2].max() < 1e-6
    assert (proba.argmax(1) == P.argmax(1)).mean() > 0.95
    # a row with weight 0 changes nothing; the same row with weight 1 does
    X2, P2 = np.vstack([X, [[5, 5, 5, 5]]]), np.vstack([P, [1, 0, 0]])
    m0 = EmbeddingLogReg(Task(labels=("a", "b", "c"))).fit_encoded(X2, P2, np.r_[np.ones(60), 0.0])
    m1 = EmbeddingLogReg(Task(labels=("a", "b", "c"))).fit_encoded(X2, P2, np.r_[np.ones(60), 1.0])
    np.testing.assert_allclose(m0.predict_proba_encoded(X), proba, atol=1e-6)
    assert not np.allclose(m1.predict_proba_encoded(X), proba, atol=1e-3)
    # soft targets: a 50/50 row pulls probabilities towards the middle
    flat = np.c_[np.full((60, 2), 0.5), np.zeros(60)]
    flat[:30] = [0.6, 0.4, 0.0]
    flat[30:] = [0.4, 0.6, 0.0]
    soft = EmbeddingLogReg(Task(labels=("a", "b", "c"))).fit_encoded(X, flat, np.ones(60))
    assert soft.predict_proba_encoded(X)[:, :2].max() < proba[:, :2].max()


def test_logreg_fit_save_load_predict(tmp_path: Path) -> None:
    model = make_end_model("logreg", TASK, cache_dir=tmp_path / "cache")
    with pytest.raises(NotFittedError):
        model.predict_proba(["x"])
    model.fit(TEXTS, Targets.from_risk(np.eye(2)[Y] * 0.9 + 0.05, risk=np.full(len(Y), 0.1)))
    assert (model.predict(TEXTS) == Y).mean() >= 0.9
    saved = model.save(tmp_path / "model", {"note": "tiny"})
    meta = json.loads((saved / "endmodel.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "logreg" and meta["labels"] == ["ham", "spam"] and meta["task"]["name"] == "tiny_spam"
    back = load_end_model(saved)
    assert back.task == TASK
    new = ["subscribe to my channel for free gifts", "what a lovely song"]
    np.testing.assert_allclose(back.predict_proba(new), model.predict_proba(new), rtol=1e-6)

    data = tmp_path / "new.jsonl"
    pd.DataFrame({"uid": ["a", "b", "c"], "text": new + ["win money now at www.win.com"]}).to_json(
        data, orient="records", lines=True)
    rows, out = predict_file(back, data, tmp_path / "pred.parquet", id_column="uid", batch_size=2, progress=False)
    written = pd.read_parquet(out)
    assert rows == 3 and written["id"].tolist() == ["a", "b", "c"]
    assert list(written.columns[:6]) == ["id", "label", "label_index", "probability", "p_ham", "p_spam"]
    np.testing.assert_allclose(written[["p_ham", "p_spam"]].to_numpy(), back.predict_proba(written["id"].map(
        dict(zip(["a", "b", "c"], new + ["win money now at www.win.com"])))), rtol=1e-6)
    pd.testing.assert_frame_equal(predict_frame(back, data, id_column="uid", progress=False), written)
    with pytest.raises(DataError, match="no such file"):
        predict_file(back, tmp_path / "missing.csv", tmp_path / "pred.csv")
    with pytest.raises(ConfigError, match="unknown output type"):
        predict_file(back, data, tmp_path / "pred.xlsx")
    with pytest.raises(InputError, match="not a polarlab end model|no endmodel.json"):
        load_end_model(tmp_path)


def test_make_end_model_refuses_unknown_kind_and_options() -> None:
    with pytest.raises(ConfigError, match="unknown end model"):
        make_end_model("forest", TASK)
    with pytest.raises(ConfigError, match="bad option"):
        make_end_model("logreg", TASK, depth=3)


def blobs(n_per: tuple[int, ...], seed: int = 0, spread: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = np.array([[3.0, 0.0], [-1.5, 2.6], [-1.5, -2.6]])
    X = np.vstack([rng.normal(centers[c], spread, (n, 2)) for c, n in enumerate(n_per)])
    return X, np.repeat(np.arange(len(n_per)), n_per)


def test_self_training_stops_and_keeps_every_class() -> None:
    task = Task(labels=("a", "b", "c"))
    X_lab, y_lab = blobs((40, 10, 10), seed=1)            # labelled rows: class a dominates
    X_pool, y_pool = blobs((150, 150, 150), seed=2)       # balanced, unlabelled pool
    st = SelfTraining(EmbeddingLogReg(task), max_rounds=6, per_round=0.2, seed=0)
    st.fit_encoded(X_lab, Targets(np.eye(3)[y_lab]), X_pool)
    r = st.result_
    assert 2 <= len(r.rounds) <= 7 and r.stop_reason
    prior = st.prior_
    np.testing.assert_allclose(prior, [40 / 60, 10 / 60, 10 / 60], atol=0.05)   # shares of the training rows
    for rnd in r.rounds[1:]:
        budget = rnd.round * 0.2 * len(X_pool)
        # per-class caps: never more than ceil(budget * prior) pseudo-labels of one class
        assert all(c <= np.ceil(budget * p) for c, p in zip(rnd.per_class, prior)), rnd
        assert all(c > 0 for c in rnd.per_class), rnd   # the small classes keep getting pseudo-labels
    pred = st.model_.predict_proba_encoded(X_pool).argmax(1)
    shares = np.bincount(pred, minlength=3) / len(pred)
    assert shares.min() > 0.15, shares                   # no class collapsed
    assert (pred == y_pool).mean() > 0.8


def test_self_training_without_confident_rows_stops_at_round_0() -> None:
    X_lab, y_lab = blobs((20, 20), spread=0.5)
    st = SelfTraining(EmbeddingLogReg(Task(labels=("a", "b"))), threshold=0.999999).fit_encoded(
        X_lab, Targets(np.full((40, 2), 0.5)), blobs((30, 30), seed=3)[0])
    assert st.result_.stop_reason == "no confident pool rows" and st.result_.best_round == 0
    plain = EmbeddingLogReg(Task(labels=("a", "b"))).fit_encoded(X_lab, np.full((40, 2), 0.5), np.ones(40))
    np.testing.assert_allclose(st.model_.coef_, plain.coef_)     # round 0 kept = the model without self-training
    with pytest.raises(InputError):
        SelfTraining(EmbeddingLogReg(TASK), threshold=1.5)


@pytest.mark.slow
def test_transformer_end_model_fine_tunes_saves_and_loads(tmp_path: Path) -> None:
    """A real fine-tune of the packaged MiniLM (2 epochs on 12 short texts; about a minute on a CPU)."""
    model = make_end_model("transformer", TASK, epochs=2, batch_size=4, max_length=32, num_threads=1, head_lr=5e-3)
    model.fit(TEXTS, Targets(np.eye(2)[Y]))
    assert len(model.history_) == 2 and model.history_[-1][1] < model.history_[0][1]   # the loss went down
    proba = model.predict_proba(TEXTS)
    assert proba.shape == (12, 2) and (proba.argmax(1) == Y).mean() >= 0.75
    saved = model.save(tmp_path / "mini")
    back = load_end_model(saved)
    assert back.kind == "transformer" and back.task == TASK
    np.testing.assert_allclose(back.predict_proba(TEXTS[:3]), proba[:3], atol=1e-5)


def test_self_training_acceptance_rules() -> None:
    from polarlab.endmodel.self_training import non_inferior

    old = np.ones(40, dtype=bool)
    six_losses = old.copy()
    six_losses[:6] = False                                   # 6 losses, 0 gains: p = 1/64 < 0.05
    assert not non_inferior(old, six_losses, 1.0, 0.85, 0.05)
    five_one = six_losses.copy()
    five_one[5] = True
    old_one_miss = old.copy()
    old_one_miss[10] = False
    five_one[10] = True                                      # 5 losses, 1 gain: p = 7/64 > 0.05 (noise)
    assert non_inferior(old_one_miss, five_one, 0.975, 0.875, 0.05)
    assert non_inferior(six_losses, old, 0.85, 1.0, 0.05)   # gains only
    # separable labelled rows: round 0 and round 1 both agree with every held-out row (a tie)
    X_lab, y_lab = blobs((40, 40), spread=0.3)
    X_pool = blobs((100, 100), seed=4)[0]
    kept = {rule: SelfTraining(EmbeddingLogReg(Task(labels=("a", "b"))), accept=rule).fit_encoded(
        X_lab, Targets(np.eye(2)[y_lab]), X_pool).result_ for rule in ("non_inferior", "improve")}
    assert kept["improve"].best_round == 0 and kept["non_inferior"].best_round >= 1
    assert kept["non_inferior"].rounds[1].accepted and not kept["improve"].rounds[1].accepted
    with pytest.raises(InputError):
        SelfTraining(EmbeddingLogReg(TASK), accept="best")

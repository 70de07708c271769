"""The fine-tuned transformer harmonizer: the packaged all-MiniLM-L6-v2 really trains, on real data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polarlab import ConfigError, load_project
from polarlab.bench.wrench import sample_rows
from polarlab.data.wrench import load_wrench, wrench_task
from polarlab.errors import InputError
from polarlab.harmonizer.transformer import TransformerHarmonizer
from polarlab.labelmodels import MajorityVote
from polarlab.matrix.apply import apply_sources
from polarlab.pipeline import run
from polarlab.sources.votes import weak_label_sources

from test_project import PROJECT, make_project

YOUTUBE = Path(__file__).resolve().parents[2] / "shared" / "data" / "youtube"


@pytest.fixture(scope="module")
def youtube():
    task = wrench_task(YOUTUBE)
    splits = load_wrench(YOUTUBE, task)
    train, test = sample_rows(splits["train"], 160, 0), sample_rows(splits["test"], 120, 0)
    sources = weak_label_sources(train)
    L_train = apply_sources(train, sources, task, progress=False).L
    L_test = apply_sources(test, sources, task, progress=False).L
    return train, test, L_train, L_test


def test_fine_tuning_learns_from_the_rules_alone(youtube):
    train, test, L_train, L_test = youtube
    h = TransformerHarmonizer(2, epochs=2, max_length=64, num_threads=1).fit(L_train, train)
    P = h.predict_proba(None, test)
    assert P.shape == (len(test), 2) and np.allclose(P.sum(1), 1.0)
    assert 1 <= h.best_epoch_ <= len(h.history_) <= 2 and h.history_[0][2] is not None
    acc = (P.argmax(1) == test.gold).mean()
    mv = (MajorityVote(2).fit(L_train).predict_proba(L_test).argmax(1) == test.gold).mean()
    assert acc > 0.75 and acc >= mv - 0.05, (acc, mv)  # 160 rows, 2 epochs; no gold was read


def test_same_seed_same_model_and_bad_input(youtube):
    train, _, L_train, _ = youtube
    texts, L = list(train.texts[:24]), L_train[:24]
    a = TransformerHarmonizer(2, epochs=1, max_length=32, num_threads=1).fit(L, texts)
    b = TransformerHarmonizer(2, epochs=1, max_length=32, num_threads=1).fit(L, texts)
    Pa = a.predict_proba(None, texts[:5])
    np.testing.assert_allclose(Pa, b.predict_proba(None, texts[:5]), atol=1e-6)
    # fit(L, X) is the same as fit(L, texts=...): X is honoured, not ignored
    c = TransformerHarmonizer(2, epochs=1, max_length=32, num_threads=1).fit(L, texts=texts)
    np.testing.assert_allclose(Pa, c.predict_proba(None, texts[:5]), atol=1e-6)
    # the output depends on the texts asked about, on the texts fitted on and on the votes
    assert not np.allclose(Pa, a.predict_proba(None, texts[5:10]), atol=1e-4)
    other = TransformerHarmonizer(2, epochs=1, max_length=32, num_threads=1).fit(L, texts[::-1])
    assert not np.allclose(Pa, other.predict_proba(None, texts[:5]), atol=1e-4)
    flipped = TransformerHarmonizer(2, epochs=1, max_length=32, num_threads=1).fit(np.where(L >= 0, 1 - L, -1), texts)
    assert not np.allclose(Pa, flipped.predict_proba(None, texts[:5]), atol=1e-4)
    with pytest.raises(InputError, match="not fitted"):
        TransformerHarmonizer(2).predict_proba(None, texts)
    with pytest.raises(InputError, match="texts"):
        a.predict_proba(None, None)
    with pytest.raises(InputError, match="3 rows for 24 examples"):
        TransformerHarmonizer(2).fit(L[:3], texts)
    with pytest.raises(InputError, match="weights"):
        TransformerHarmonizer(2, weights=[1.0]).fit(L, texts)
    with pytest.raises(InputError, match="scalarization"):
        TransformerHarmonizer(2, scalarization="mean")



def test_predict_and_score_follow_the_label_model_contract(youtube):
    """predict(L, X) / score(L, Y, X) as every label model's (LabelModelBase), X being the texts: the argmax of
    predict_proba, ``texts=`` the same as X, Snorkel's accuracy on the rows with gold; without the texts, the
    error says to pass them."""
    from polarlab.labelmodels import LabelModelBase

    train, _, L_train, _ = youtube
    texts, L = list(train.texts[:24]), L_train[:24]
    h = TransformerHarmonizer(2, epochs=1, max_length=32, num_threads=1).fit(L, texts)
    assert isinstance(h, LabelModelBase)
    pred = h.predict(L, texts)
    np.testing.assert_array_equal(pred, h.predict_proba(L, texts).argmax(1))
    np.testing.assert_array_equal(h.predict(None, texts=texts), pred)
    gold = np.asarray(train.gold[:24]).copy()
    gold[:4] = -1                                            # rows without gold are left out
    want = float((pred[4:] == gold[4:]).mean())
    assert h.score(L, gold, texts) == {"accuracy": want}
    with pytest.raises(InputError, match="needs the texts"):
        h.score(L, gold)

def test_project_with_transformer_harmonizer(tmp_path: Path):
    project = PROJECT.replace('methods = ["mv"]\nfinal = "mv"', 'methods = ["mv", "polar"]\nfinal = "polar"')
    project += '\n[harmonizer]\nmodel = "transformer"\nfeatures = "tfidf"\n\n[harmonizer.transformer]\nepochs = 1\n'
    p = make_project(tmp_path, project=project)
    result = run(load_project(p), progress=False)
    assert "transformer" in result.seconds
    for split, P in result.probas["polar"].items():
        assert P.shape == (len(result.splits[split]), 2) and np.allclose(P.sum(1), 1.0)
        assert np.ptp(P[:, 1]) > 1e-3                      # h(x) depends on each row's text, not a constant
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["final"] == "polar"
    p.write_text(p.read_text(encoding="utf-8").replace("epochs = 1", "epoch = 1"), encoding="utf-8")
    with pytest.raises(ConfigError, match="harmonizer.transformer"):
        run(load_project(p), progress=False)
    # transformer options with another model are ambiguous (which harmonizer runs?): refused
    p.write_text(p.read_text(encoding="utf-8").replace('model = "transformer"\n', "").replace("epoch = 1", "epochs = 1"),
                 encoding="utf-8")
    with pytest.raises(ConfigError, match='model = "transformer"'):
        run(load_project(p), progress=False)

"""Slicing functions, transformation functions, label buckets, unlabeled filtering, score and lf_summary: each
against a hand-worked example, and Snorkel's own objects accepted unchanged."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.augment import ApplyAllPolicy, MeanFieldPolicy, augment, transformation_function
from polarlab.data import from_pandas
from polarlab.errors import InputError, SourceError
from polarlab.labelmodels import make_label_model
from polarlab.labelmodels.score import score
from polarlab.matrix.buckets import filter_unlabeled, label_buckets
from polarlab.matrix.label_matrix import LabelMatrix
from polarlab.matrix.summary import estimated_accuracy, lf_summary, lf_summary_by_class
from polarlab.slicing import apply_slices, slice_report, slicing_function
from polarlab.task import Task

TASK = Task(labels=("ham", "spam"), name="t")
ROOT = Path(__file__).resolve().parents[1]


def _data(texts, labels=None):
    labels = labels if labels is not None else [None] * len(texts)
    return from_pandas(pd.DataFrame({"text": texts, "label": labels}), TASK, text_column="text")


@slicing_function()
def short(x):
    return len(x.text.split()) < 3


def test_slices_membership_and_report_hand_worked():
    ds = _data(["hi", "buy now cheap", "ok then", "great video man"], [0, 1, 0, 0])
    S = apply_slices(ds, [short])
    assert S.column("short").tolist() == [True, False, True, False]
    preds = np.array([0, 1, 1, 1])          # wrong on rows 2 and 3
    risk = np.array([0.1, 0.2, 0.9, 0.3])
    L = np.array([[0, -1], [-1, -1], [1, -1], [-1, 1]])
    rep = slice_report(S, gold=ds.gold, preds=preds, risk=risk, L=L)
    assert rep.loc["overall", "n"] == 4 and rep.loc["short", "n"] == 2
    assert rep.loc["overall", "label_accuracy"] == pytest.approx(0.5)
    assert rep.loc["short", "label_accuracy"] == pytest.approx(0.5)     # rows 0 (right) and 2 (wrong)
    assert rep.loc["short", "coverage"] == pytest.approx(1.0)
    assert rep.loc["overall", "coverage"] == pytest.approx(0.75)
    assert rep.loc["short", "risk_mean"] == pytest.approx(0.5)
    assert rep.loc["short", "risk_auroc"] == pytest.approx(1.0)         # the wrong row has the higher risk
    assert np.isnan(rep.loc["short", "end_accuracy"])                    # no end model given


def test_snorkel_slicing_function_accepted_unchanged():
    from snorkel.slicing import slicing_function as snorkel_sf

    @snorkel_sf()
    def has_buy(x):
        return "buy" in x.text

    ds = _data(["hi", "buy now cheap"])
    S = apply_slices(ds, [has_buy, short])
    assert S.names == ["has_buy", "short"]
    assert S.S.tolist() == [[False, True], [True, False]]
    rec = S.to_recarray()
    assert rec["has_buy"].tolist() == [0, 1]


def test_slicing_errors_are_clear():
    @slicing_function()
    def broken(x):
        return x.no_such_column

    with pytest.raises(SourceError, match="broken"):
        apply_slices(_data(["a"]), [broken])
    with pytest.raises(InputError, match="not unique"):
        apply_slices(_data(["a"]), [short, short])
    with pytest.raises(TypeError, match="parentheses"):
        slicing_function(lambda x: True)


@transformation_function()
def upper(x):
    if x.text.isupper():
        return None
    x.text = x.text.upper()
    return x


def test_augment_keeps_labels_and_records_provenance():
    ds = _data(["hi there", "HELLO"], [0, 1])
    out = augment(ds, [upper], ApplyAllPolicy(1, n_per_original=1, keep_original=True))
    f = out.frame
    # originals kept; "HELLO" is already upper: the function does not apply and adds no row
    assert f.text.tolist() == ["hi there", "HI THERE", "HELLO"]
    assert f.label.tolist() == [0, 0, 1]
    assert f.augmented_from.tolist() == ["", ds.ids[0], ""]
    assert f.transforms.tolist() == ["", "upper", ""]
    assert f.id.tolist()[1] == f"{ds.ids[0]}~aug1"


def test_snorkel_tf_accepted_and_same_rows_as_snorkel_applier():
    from snorkel.augmentation import PandasTFApplier
    from snorkel.augmentation import transformation_function as snorkel_tf

    @snorkel_tf()
    def drop_last(x):
        words = x.text.split()
        if len(words) < 2:
            return None
        x.text = " ".join(words[:-1])
        return x

    ds = _data(["a b c", "d", "e f"], [1, 0, 1])
    policy = dict(sequence_length=2, n_per_original=2, keep_original=True)
    np.random.seed(3)
    theirs = PandasTFApplier([drop_last, upper_snorkel()], MeanFieldPolicy(2, **policy)).apply(
        ds.frame, progress_bar=False)
    ours = augment(ds, [drop_last, upper_snorkel()], MeanFieldPolicy(2, **policy), seed=3)
    assert ours.frame.text.tolist() == theirs.text.tolist()
    assert ours.frame.label.tolist() == theirs.label.tolist()


def upper_snorkel():
    from snorkel.augmentation import transformation_function as snorkel_tf

    @snorkel_tf(name="upper_s")
    def upper_s(x):
        x.text = x.text.upper()
        return x

    return upper_s


def test_augment_bad_policy_size():
    with pytest.raises(InputError, match="policy"):
        augment(_data(["a"]), [upper], MeanFieldPolicy(3))


def test_label_buckets_hand_worked():
    gold = np.array([0, 1, 1, 0, 1])
    pred = np.array([0, 0, 1, 1, 0])
    b = label_buckets(gold, pred)
    assert b[(1, 0)].tolist() == [1, 4]
    assert b[(0, 1)].tolist() == [3]
    assert b[(0, 0)].tolist() == [0] and b[(1, 1)].tolist() == [2]
    proba = np.eye(2)[pred]
    assert label_buckets(gold, proba)[(1, 0)].tolist() == [1, 4]
    with pytest.raises(InputError, match="lengths"):
        label_buckets(gold, pred[:3])


def test_filter_unlabeled_hand_worked():
    ds = _data(["a", "b", "c", "d"])
    L = np.array([[0, -1], [-1, -1], [1, 1], [-1, 0]])
    kept, mask = filter_unlabeled(ds, L)
    assert mask.tolist() == [True, False, True, True] and len(kept) == 3
    proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.4, 0.6], [0.55, 0.45]])
    kept, mask = filter_unlabeled(ds, L, proba, min_proba=0.6)
    assert mask.tolist() == [True, False, True, False]
    assert kept.ids == [ds.ids[0], ds.ids[2]]
    with pytest.raises(InputError, match="min_proba"):
        filter_unlabeled(ds, L, None, min_proba=0.6)


def test_score_matches_snorkel_label_model_score():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    L = np.where(rng.random((300, 4)) < 0.7, np.where(rng.random((300, 4)) < 0.8, y[:, None], 1 - y[:, None]), -1)
    model = make_label_model("snorkel", 2).fit(L)
    ours = score(model, L, y, metrics=["accuracy", "f1", "coverage"])
    theirs = model.model_.score(L, y, metrics=["accuracy", "f1", "coverage"])   # Snorkel's own LabelModel
    assert ours == pytest.approx(theirs)
    assert 0.5 < ours["accuracy"] <= 1.0
    mv = make_label_model("mv", 2).fit(L)
    mv_scores = score(mv, L, y, metrics=["accuracy", "coverage"])
    assert 0 < mv_scores["coverage"] <= 1
    with pytest.raises(InputError, match="unknown metric"):
        score(mv, L, y, metrics=["nope"])


def test_lf_summary_snorkel_columns_and_estimate():
    from snorkel.labeling import LFAnalysis

    L = np.array([[0, 0, -1], [1, 0, 1], [-1, 1, 1], [0, -1, -1]])
    gold = np.array([0, 1, 1, 0])
    lm = LabelMatrix(L, ["a", "b", "c"], ["0", "1", "2", "3"], 2)
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]])
    ours = lf_summary(lm, gold, proba)
    theirs = LFAnalysis(L).lf_summary(gold)
    for col in ["Coverage", "Overlaps", "Conflicts", "Correct", "Incorrect", "Emp. Acc."]:
        assert np.allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float)), col
    # source b votes 0, 0, 1 on rows 0, 1, 2: mean of proba[0,0], proba[1,0], proba[2,1] = (0.9 + 0.2 + 0.9) / 3
    assert ours.loc["b", "Est. Acc."] == pytest.approx((0.9 + 0.2 + 0.9) / 3)
    assert np.isnan(estimated_accuracy(np.array([[-1], [-1]]), np.array([[0.5, 0.5], [0.5, 0.5]]))[0])
    by_class = lf_summary_by_class(lm, TASK.labels, gold, proba)
    assert by_class.loc[("b", "ham"), "Correct"] == 1 and by_class.loc[("b", "ham"), "Incorrect"] == 1
    assert by_class.loc[("b", "spam"), "Emp. Acc."] == pytest.approx(1.0)
    assert by_class.loc[("a", "ham"), "Coverage"] == pytest.approx(0.5)


def test_lf_summary_takes_a_snorkel_vote_array_and_its_lfs():
    """As Snorkel's ``LFAnalysis(L, lfs).lf_summary(Y)``: the array PandasLFApplier returns, named by the LFs."""
    from snorkel.labeling import LFAnalysis, labeling_function

    @labeling_function()
    def lf_a(x):
        return 0

    @labeling_function()
    def lf_b(x):
        return 1

    L = np.array([[0, -1], [0, 1], [-1, 1], [0, 1]])
    gold = np.array([0, 1, 1, 0])
    ours = lf_summary(L, gold, lfs=[lf_a, lf_b])
    theirs = LFAnalysis(L, [lf_a, lf_b]).lf_summary(gold)
    assert list(ours.index) == list(theirs.index) == ["lf_a", "lf_b"]
    for col in ["j", "Coverage", "Overlaps", "Conflicts", "Correct", "Incorrect", "Emp. Acc."]:
        assert np.allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float)), col
    assert list(lf_summary(L).index) == ["0", "1"]
    with pytest.raises(InputError, match="3 lfs for 2 vote columns"):
        lf_summary(L, lfs=["a", "b", "c"])


@pytest.mark.slow
def test_snorkel_spam_tutorial_slices_and_augmentation_match_snorkel():
    spec = importlib.util.spec_from_file_location("snorkel_parity", ROOT / "benchmarks" / "snorkel_parity.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not mod.DATA.exists():
        pytest.skip("../shared/data/spam is not beside the repository")
    res = mod.main([])
    assert res["slices_equal"] and res["augmented_equal"]
    assert res["slices"]["short_comment"]["n"] > 0 and res["slices"]["textblob_polarity"]["n"] > 0


def test_score_takes_snorkels_own_label_model():
    """A Snorkel user passes Snorkel's LabelModel itself (its predict_proba takes L alone)."""
    from snorkel.labeling.model import LabelModel

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    L = np.where(rng.random((200, 3)) < 0.7, np.where(rng.random((200, 3)) < 0.8, y[:, None], 1 - y[:, None]), -1)
    model = LabelModel(cardinality=2, verbose=False)
    model.fit(L, seed=0, progress_bar=False)
    ours = score(model, L, y, metrics=["accuracy", "f1"])
    assert ours == pytest.approx(model.score(L, y, metrics=["accuracy", "f1"]))


def test_score_works_on_the_harmonizer_too():
    from polarlab.harmonizer import PolarHarmonizer

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    X = np.column_stack([y + rng.normal(0, 0.5, 200), rng.normal(0, 1, 200)])
    L = np.where(rng.random((200, 3)) < 0.6, np.where(rng.random((200, 3)) < 0.85, y[:, None], 1 - y[:, None]), -1)
    h = PolarHarmonizer(2, seed=0, combine="h").fit(L, X)
    got = score(h, L, y, X, metrics=["accuracy", "f1"])
    pred = h.predict_proba(L, X).argmax(axis=1)
    assert got["accuracy"] == pytest.approx(float((pred == y).mean()))
    assert 0.7 < got["accuracy"] <= 1.0

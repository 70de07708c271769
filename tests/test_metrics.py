"""Metrics on small hand-checked examples."""
from __future__ import annotations

import json

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.metrics import (WRENCH_METRIC, accuracy, classification_metrics, f1_binary, macro_f1,
                              wrench_metric)

# Last row has no gold (-1) and must be ignored by classification_metrics.
Y = np.array([0, 0, 0, 1, 1, -1])
PRED = np.array([0, 0, 1, 1, 0, 1])
# On the 5 gold rows: y = [0,0,0,1,1], pred = [0,0,1,1,0]
ACC = 3 / 5            # rows 0, 1, 3 right
F1_POS1 = 1 / 2        # class 1: TP=1 (row 3), FP=1 (row 2), FN=1 (row 4) -> P = R = 1/2
F1_POS0 = 2 / 3        # class 0: TP=2 (rows 0,1), FP=1 (row 4), FN=1 (row 2) -> P = R = 2/3
MACRO = (1 / 2 + 2 / 3) / 2  # = 7/12


def test_plain_metrics_by_hand() -> None:
    y, pred = Y[:5], PRED[:5]
    assert accuracy(y, pred) == pytest.approx(ACC)
    assert f1_binary(y, pred) == pytest.approx(F1_POS1)
    assert f1_binary(y, pred, pos_label=0) == pytest.approx(F1_POS0)
    assert macro_f1(y, pred) == pytest.approx(MACRO)
    with pytest.raises(InputError, match="5 gold labels but 4 predictions"):
        accuracy(y, pred[:4])


def test_wrench_metric_choice() -> None:
    y, pred = Y[:5], PRED[:5]
    assert wrench_metric("sms", y, pred) == ("f1_binary", pytest.approx(F1_POS1))
    assert wrench_metric("YouTube", y, pred) == ("acc", pytest.approx(ACC))
    assert wrench_metric("not-a-wrench-set", y, pred) == ("acc", pytest.approx(ACC))
    f1_sets = {"sms", "spouse", "cdr", "census", "basketball", "tennis", "commercial"}
    acc_sets = {"youtube", "trec", "chemprot", "agnews", "yelp", "imdb", "semeval"}
    assert {k for k, v in WRENCH_METRIC.items() if v == "f1_binary"} == f1_sets
    assert {k for k, v in WRENCH_METRIC.items() if v == "acc"} == acc_sets


def test_classification_metrics_skips_rows_without_gold() -> None:
    out = classification_metrics(Y, PRED, dataset="cdr")
    assert out == {"accuracy": pytest.approx(ACC), "f1": pytest.approx(F1_POS1), "macro_f1": pytest.approx(MACRO),
                   "wrench_metric": pytest.approx(F1_POS1), "wrench_metric_name": "f1_binary", "n": 5}
    # probabilities give the same result through argmax
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.51, 0.49], [0.0, 1.0]])
    assert classification_metrics(Y, proba, dataset="cdr") == out
    json.dumps(out)  # plain Python numbers


def test_classification_metrics_multiclass_and_empty() -> None:
    y = np.array([0, 1, 2, 2])
    pred = np.array([0, 2, 2, 2])
    # acc 3/4; per-class F1: class 0 = 1 (TP1), class 1 = 0 (TP0, FN1), class 2: TP2 FP1 FN0 -> P 2/3 R 1 -> 0.8
    out = classification_metrics(y, np.eye(3)[pred])
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["macro_f1"] == pytest.approx((1 + 0 + 0.8) / 3)
    assert out["f1"] is None  # no binary F1 with 3 classes
    assert out["wrench_metric_name"] == "acc" and out["wrench_metric"] == pytest.approx(0.75)
    none = classification_metrics(np.array([-1, -1]), np.array([0, 1]), dataset="sms")
    assert none == {"accuracy": None, "f1": None, "macro_f1": None, "wrench_metric": None,
                    "wrench_metric_name": "f1_binary", "n": 0}

"""Per-source analysis of a tiny label matrix, every number worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.matrix import LabelMatrix, SourceFailure
from polarlab.matrix.analysis import COLUMNS, analyze, summary

L = np.array([
    # a   b   c        gold
    [0, 0, -1],     # 0
    [1, 0, 1],      # 1
    [-1, -1, -1],   # 0
    [1, -1, -1],    # -1 (no gold)
    [0, 1, -1],     # 1
    [-1, 1, 1],     # 1
])
GOLD = np.array([0, 1, 0, -1, 1, 1])
FAILURES = [SourceFailure("a", 2, "r2", "KeyError"), SourceFailure("c", 2, "r2", "boom"),
            SourceFailure("c", 3, "r3", "boom")]


@pytest.fixture
def lm() -> LabelMatrix:
    return LabelMatrix(L, ["a", "b", "c"], [f"r{i}" for i in range(6)], 2, failures=list(FAILURES))


def test_per_source_numbers_by_hand(lm: LabelMatrix) -> None:
    df = analyze(lm, GOLD)
    assert list(df.columns) == COLUMNS and list(df.index) == ["a", "b", "c"] and df.index.name == "source"
    assert df["polarity"].tolist() == [[0, 1], [0, 1], [1]]
    # a votes rows 0,1,3,4; b rows 0,1,4,5; c rows 1,5  (n = 6)
    assert df["coverage"].tolist() == pytest.approx([4 / 6, 4 / 6, 2 / 6])
    # overlap: a with others on rows 0,1,4 (row 3 alone); b on 0,1,4,5; c on 1,5
    assert df["overlap"].tolist() == pytest.approx([3 / 6, 4 / 6, 2 / 6])
    # conflict: row 1 (a=1,b=0,c=1) and row 4 (a=0,b=1) -> a: 1,4; b: 1,4; c: 1 only (row 5 agrees)
    assert df["conflict"].tolist() == pytest.approx([2 / 6, 2 / 6, 1 / 6])
    # gold rows only (row 3 has gold -1 and a's vote there is not counted):
    # a: row0 0=0 ok, row1 1=1 ok, row4 0!=1 wrong -> 2/1; b: row0 ok, row1 0!=1, row4 ok, row5 ok -> 3/1;
    # c: row1 ok, row5 ok -> 2/0
    assert df["correct"].tolist() == [2, 3, 2]
    assert df["incorrect"].tolist() == [1, 1, 0]
    assert df["emp_acc"].tolist() == pytest.approx([2 / 3, 3 / 4, 1.0])
    assert df["failures"].tolist() == [1, 0, 2]


def test_without_gold_accuracy_is_unknown(lm: LabelMatrix) -> None:
    df = analyze(lm)
    assert df["correct"].tolist() == [0, 0, 0] and df["incorrect"].tolist() == [0, 0, 0]
    assert df["emp_acc"].isna().all()
    # a source that never votes on a gold row has NaN accuracy, not 0
    only_row3 = np.array([-1, -1, -1, 1, -1, -1])
    assert np.isnan(analyze(lm, only_row3).loc["b", "emp_acc"])


def test_summary_by_hand(lm: LabelMatrix) -> None:
    # at least one vote: every row but row 2 -> 5/6; two or more votes: rows 0,1,4,5 -> 4/6;
    # differing votes: rows 1 and 4 -> 2/6
    assert summary(lm) == {"n": 6, "m": 3, "coverage": pytest.approx(5 / 6), "overlap": pytest.approx(4 / 6),
                           "conflict": pytest.approx(2 / 6), "failures": 3}


def test_bad_gold_is_rejected(lm: LabelMatrix) -> None:
    with pytest.raises(InputError, match="6 rows"):
        analyze(lm, GOLD[:5])
    with pytest.raises(InputError, match="r4") as err:
        analyze(lm, np.array([0, 1, 0, -1, 2, 1]))
    assert err.value.row == 4


def test_empty_matrices() -> None:
    no_sources = LabelMatrix(np.zeros((3, 0)), [], ["x", "y", "z"], 2)
    assert analyze(no_sources).empty and list(analyze(no_sources).columns) == COLUMNS
    assert summary(no_sources)["coverage"] == 0.0
    no_rows = LabelMatrix(np.zeros((0, 2)), ["a", "b"], [], 2)
    assert analyze(no_rows)["coverage"].isna().all()

"""apply_sources → LabelMatrix → analyze, on real sources; numbers worked out by hand."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from polarlab import (ABSTAIN, ConfigError, DictionarySource, KeywordSource, LabelMatrix, RegexSource, SourceError,
                      Task, analyze, apply_sources, from_pandas, labeling_function)
from polarlab.errors import InputError
from polarlab.matrix.analysis import summary
from polarlab.sources import SourceFailure, SourceOutput

TASK = Task(labels=("ham", "spam"), name="spam")
HAM, SPAM = 0, 1


def test_failing_lf_rows_are_recorded_and_abstain(caplog: pytest.LogCaptureFixture) -> None:
    @labeling_function()
    def needs_number(x):
        return SPAM if int(x.text.split()[-1]) > 10 else HAM

    ok = KeywordSource(name="kw", keywords=["a"], label=HAM)
    ds = from_pandas(pd.DataFrame({"id": ["r0", "r1", "r2", "r3"],
                                   "text": ["a 5", "a b", "c 50", "no number"]}), TASK, id_column="id")
    with caplog.at_level(logging.WARNING, logger="polarlab.matrix.apply"):
        lm = apply_sources(ds, [needs_number, ok], TASK, progress=False)
    assert lm.L.tolist() == [[HAM, HAM], [-1, HAM], [SPAM, -1], [-1, -1]]
    assert lm.failures == [
        SourceFailure("needs_number", 1, "r1", "ValueError: invalid literal for int() with base 10: 'b'"),
        SourceFailure("needs_number", 3, "r3", "ValueError: invalid literal for int() with base 10: 'number'"),
    ]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "needs_number" in text and "2 of 4 rows" in text and "r1" in text and "ValueError" in text
    assert analyze(lm).loc["needs_number", "failures"] == 2


def test_duplicate_source_names() -> None:
    ds = from_pandas(pd.DataFrame({"text": ["x"]}), TASK)
    a = KeywordSource(name="same", keywords=["x"], label=HAM)
    b = RegexSource(name="same", pattern="x", label=SPAM)
    with pytest.raises(ConfigError) as ei:
        apply_sources(ds, [a, b, KeywordSource(name="other", keywords=["y"], label=HAM)], TASK, progress=False)
    assert "['same']" in str(ei.value) and "Fix:" in str(ei.value)


def test_snorkel_labeling_functions_work_unchanged_and_a_plain_function_is_named() -> None:
    """A Snorkel LF in the list raised AttributeError: 'LabelingFunction' object has no attribute 'apply' (the
    README says they work unchanged); it is wrapped as from_snorkel does. A bare function is refused by position."""
    from snorkel.labeling import labeling_function as snorkel_lf

    @snorkel_lf()
    def has_buy(x):
        return SPAM if "buy" in x.text else -1

    ds = from_pandas(pd.DataFrame({"text": ["buy now", "nice", "buy it"]}), TASK)
    kw = KeywordSource(name="nice", keywords=["nice"], label=HAM)
    L = apply_sources(ds, [kw, has_buy], TASK, progress=False)
    assert L.names == ["nice", "has_buy"] and L.L[:, 1].tolist() == [SPAM, -1, SPAM]

    def bare(x):
        return SPAM

    with pytest.raises(InputError, match=r"sources\[1\] is a function, not a source"):
        apply_sources(ds, [kw, bare], TASK, progress=False)


def test_out_of_range_votes_are_source_errors() -> None:
    @labeling_function()
    def too_big(x):
        return 2 if x.text == "b" else ABSTAIN

    ds = from_pandas(pd.DataFrame({"id": ["i0", "i1"], "text": ["a", "b"]}), TASK, id_column="id")
    with pytest.raises(SourceError) as ei:
        apply_sources(ds, [too_big], TASK, progress=False)
    msg = str(ei.value)
    assert __file__ in msg and "row 1" in msg and "column 'too_big'" in msg and "'i1'" in msg and "Fix:" in msg

    class RawVotes:  # a custom source handing back a raw array
        name = "raw"

        def apply(self, data, task):
            return SourceOutput(votes=np.array([0, 5]))

        def describe(self, task, label):
            return ""

    with pytest.raises(SourceError) as ei:
        apply_sources(ds, [RawVotes()], TASK, progress=False)
    assert "row 1" in str(ei.value) and "voted 5" in str(ei.value) and "column 'raw'" in str(ei.value)

    class Short(RawVotes):
        def apply(self, data, task):
            return SourceOutput(votes=np.array([0]))

    with pytest.raises(SourceError) as ei:
        apply_sources(ds, [Short()], TASK, progress=False)
    assert "(1,) votes for 2 rows" in str(ei.value)


def test_label_matrix_helpers() -> None:
    fails = [SourceFailure("a", 1, "r1", "E"), SourceFailure("b", 2, "r2", "E"), SourceFailure("a", 3, "r3", "E")]
    proba = np.array([[0.9, 0.1], [np.nan, np.nan], [0.2, 0.8], [0.5, 0.5]])
    lm = LabelMatrix(L=[[0, 1], [-1, 1], [1, -1], [-1, -1]], names=["a", "b"], ids=["r0", "r1", "r2", "r3"],
                     n_classes=2, probas={"a": proba}, failures=fails)
    assert lm.shape == (4, 2) and lm.L.dtype == np.int64
    assert lm.column("b").tolist() == [1, 1, -1, -1]
    # replace a column (copy: the original is unchanged)
    r = lm.with_column("b", [0, 0, 0, 0])
    assert r.column("b").tolist() == [0, 0, 0, 0] and lm.column("b").tolist() == [1, 1, -1, -1]
    # append a column with a proba
    c = lm.with_column("c", np.array([1, -1, 0, 1]), proba=np.full((4, 2), 0.5))
    assert c.names == ["a", "b", "c"] and c.L[:, 2].tolist() == [1, -1, 0, 1] and set(c.probas) == {"a", "c"}
    with pytest.raises(InputError, match="source 'c' voted 7") as e:
        lm.with_column("c", [0, 0, 0, 7])  # out of range is refused, naming the source and the row
    assert e.value.row == 3 and e.value.column == "c"
    # drop
    d = lm.drop(["a"])
    assert d.names == ["b"] and d.L.tolist() == [[1], [1], [-1], [-1]] and d.probas == {}
    assert [f.source for f in d.failures] == ["b"]
    # rows: positions, reordered; failures follow their rows and are renumbered
    s = lm.rows([3, 0, 2])
    assert s.ids == ["r3", "r0", "r2"] and s.L.tolist() == [[-1, -1], [0, 1], [1, -1]]
    np.testing.assert_array_equal(s.probas["a"], proba[[3, 0, 2]])
    assert s.failures == [SourceFailure("b", 2, "r2", "E"), SourceFailure("a", 0, "r3", "E")]
    for f in s.failures:
        assert s.ids[f.row] == f.example_id
    m = lm.rows(np.array([False, True, False, True]))  # a boolean mask
    assert m.ids == ["r1", "r3"] and [f.row for f in m.failures] == [0, 1]
    with pytest.raises(InputError, match=r"source 'x' voted 2, outside -1\.\.1") as e:
        LabelMatrix(L=[[0], [2]], names=["x"], ids=["a", "b"], n_classes=2)
    assert e.value.row == 1 and e.value.column == "x"
    with pytest.raises(ValueError):
        LabelMatrix(L=[[0, 0]], names=["x", "x"], ids=["a"], n_classes=2)


# --------------------------------------------------------------------------- hand-worked numbers

TEXTS = [
    "Check out my channel",                          # r0 gold spam
    "Great song, love it",                           # r1 gold ham
    "subscribe to my channel please, great stuff",   # r2 gold spam
    "this song is great, check out the video",       # r3 gold ham
    "FREE gift card, subscribe now",                 # r4 gold spam
    "nice video, subscribe!",                        # r5 no gold
    "nice video",                                    # r6 gold ham
]
GOLD = ["spam", "ham", "spam", "ham", "spam", None, "ham"]


def _sources():
    return [
        KeywordSource(name="A_check_out", keywords=["check out"], label="spam"),
        KeywordSource(name="B_channel", keywords=["my channel", "subscribe"], label="spam"),
        RegexSource(name="C_song", pattern=r"\bsong\b", label="ham"),
        DictionarySource(name="D_terms", terms={"great": "ham", "free": "spam", "gift card": "spam"}),
    ]


def test_votes_and_analysis_by_hand() -> None:
    ds = from_pandas(pd.DataFrame({"text": TEXTS, "label": GOLD}), TASK)
    lm = apply_sources(ds, _sources(), TASK, progress=False)
    # A: "check out" (any case) in r0, r3.   B: "my channel"/"subscribe" in r0, r2, r4, r5.
    # C: the word "song" in r1, r3.          D: "great" -> ham in r1, r2, r3; r4 has "free" and "gift card"
    #    (2 spam terms, 0 ham) -> spam.  r6 has no votes at all.
    assert lm.L.tolist() == [
        # A   B   C   D
        [1, 1, -1, -1],    # r0
        [-1, -1, 0, 0],    # r1
        [-1, 1, -1, 0],    # r2
        [1, -1, 0, 0],     # r3
        [-1, 1, -1, 1],    # r4
        [-1, 1, -1, -1],   # r5
        [-1, -1, -1, -1],  # r6
    ]
    assert ds.gold.tolist() == [1, 0, 1, 0, 1, -1, 0]
    df = analyze(lm, ds.gold)
    assert df["polarity"].tolist() == [[1], [1], [0], [0, 1]]
    # coverage (n = 7): A r0,r3; B r0,r2,r4,r5; C r1,r3; D r1,r2,r3,r4
    assert df["coverage"].tolist() == pytest.approx([2 / 7, 4 / 7, 2 / 7, 4 / 7])
    # overlap (votes and another source votes): A r0,r3; B r0,r2,r4 (r5 alone); C r1,r3; D r1,r2,r3,r4
    assert df["overlap"].tolist() == pytest.approx([2 / 7, 3 / 7, 2 / 7, 4 / 7])
    # conflict (another source votes a different label): r2 (B=1 vs D=0) and r3 (A=1 vs C=D=0)
    # A: r3; B: r2; C: r3; D: r2, r3
    assert df["conflict"].tolist() == pytest.approx([1 / 7, 1 / 7, 1 / 7, 2 / 7])
    # against gold (r5 has none, so B's vote there is not counted):
    # A: r0 ok, r3 wrong; B: r0, r2, r4 ok; C: r1, r3 ok; D: r1, r3, r4 ok, r2 wrong
    assert df["correct"].tolist() == [1, 3, 2, 3]
    assert df["incorrect"].tolist() == [1, 0, 0, 1]
    assert df["emp_acc"].tolist() == pytest.approx([0.5, 1.0, 1.0, 0.75])
    assert df["failures"].tolist() == [0, 0, 0, 0]
    # whole matrix: >= 1 vote on r0..r5 (6/7); >= 2 votes on r0..r4 (5/7); disagreement on r2, r3 (2/7)
    s = summary(lm)
    assert (s["n"], s["m"], s["failures"]) == (7, 4, 0)
    assert (s["coverage"], s["overlap"], s["conflict"]) == pytest.approx((6 / 7, 5 / 7, 2 / 7))


def test_rows_then_analysis_agree() -> None:
    """Analysing a row subset equals analysing the subset's own data."""
    ds = from_pandas(pd.DataFrame({"text": TEXTS, "label": GOLD}), TASK)
    lm = apply_sources(ds, _sources(), TASK, progress=False)
    idx = [0, 2, 3]
    sub = apply_sources(ds.subset(idx), _sources(), TASK, progress=False)
    pd.testing.assert_frame_equal(analyze(lm.rows(idx), ds.gold[idx]), analyze(sub, ds.subset(idx).gold))
    # r0, r2, r3: A votes r0, r3 -> coverage 2/3; D votes r2, r3 -> 2/3; conflict D: r2 and r3 -> 2/3
    assert analyze(sub).loc["D_terms", "conflict"] == pytest.approx(2 / 3)

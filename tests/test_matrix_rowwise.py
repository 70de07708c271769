"""Python labeling functions in one pass over the rows, in one or several (forked) processes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polarlab.data import from_pandas
from polarlab.matrix import apply_sources
from polarlab.matrix.rowwise import apply_rowwise, is_rowwise
from polarlab.sources import ABSTAIN, KeywordSource, from_snorkel, labeling_function
from polarlab.task import Task

TASK = Task(labels=("ham", "spam"), name="t")


def _data(n: int):
    texts = [("buy cheap " if i % 3 == 0 else "nice video ") + ("x" * (i % 7)) for i in range(n)]
    return from_pandas(pd.DataFrame({"text": texts}), TASK, text_column="text")


def _sources():
    from snorkel.labeling import labeling_function as snorkel_lf

    threshold = 4       # a closure: fine under fork, never pickled

    @labeling_function()
    def cheap(x):
        return 1 if "cheap" in x.text else ABSTAIN

    @labeling_function()
    def flaky(x):
        if x.text.endswith("xxx"):
            raise ValueError("no xxx")
        return 0 if len(x.text) > threshold + 10 else ABSTAIN

    @snorkel_lf()
    def nice(x):
        return 0 if x.text.startswith("nice") else ABSTAIN

    return [cheap, KeywordSource("kw_buy", ["buy"], label="spam"), flaky] + from_snorkel([nice])


def test_one_pass_equals_source_by_source():
    ds = _data(300)
    srcs = _sources()
    assert [is_rowwise(s) for s in srcs] == [True, False, True, True]
    one = apply_rowwise(ds, srcs, TASK)
    assert set(one) == {"cheap", "flaky", "nice"}
    for s in srcs:
        if is_rowwise(s):
            ref = s.apply(ds, TASK)
            assert np.array_equal(one[s.name].votes, ref.votes), s.name
            assert [(f.row, f.error) for f in one[s.name].failures] == [(f.row, f.error) for f in ref.failures]
    assert len(one["flaky"].failures) == sum(t.endswith("xxx") for t in ds.texts) > 0


def test_worker_processes_give_identical_matrix_and_failures():
    ds = _data(2_000)
    serial = apply_sources(ds, _sources(), TASK, progress=False, workers=1)
    par = apply_rowwise(ds, _sources(), TASK, workers=2, min_rows_per_worker=500)
    for name, out in par.items():
        assert np.array_equal(out.votes, serial.column(name)), name
    assert [f.row for f in par["flaky"].failures] == [f.row for f in serial.failures if f.source == "flaky"]


@pytest.mark.parametrize("workers", [0, 3])
def test_workers_never_exceed_useful_chunks(workers):
    ds = _data(50)                                   # too few rows for a second process: runs here
    out = apply_rowwise(ds, _sources(), TASK, workers=workers)
    assert out["cheap"].votes.shape == (50,)

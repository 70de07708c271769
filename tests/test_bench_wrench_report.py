"""``polarlab bench wrench``'s harmonizer report on a small WRENCH youtube sample (TF-IDF, rules only)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "youtube"

pytestmark = pytest.mark.skipif(not (DATA / "test.json").exists(), reason="WRENCH youtube data not found")


@pytest.mark.parametrize("candidates", [None, ["h", "mv"]])
def test_the_test_rows_vote_shift_is_reported_when_the_output_reads_the_votes(tmp_path, candidates) -> None:
    """With h(x) alone among the candidates and chosen, the report has no vote-shift check of the test rows (the
    output reads no votes); it crashed asking the harmonizer for one. With the default candidates it has one."""
    from polarlab.bench import BenchConfig, bench_wrench

    opts = {} if candidates is None else {"combine_candidates": candidates, "combine_se": 1e6}
    res = bench_wrench(BenchConfig(directory=DATA, llm="none", limit=150, features="tfidf", progress=False,
                                   state_dir=tmp_path, harmonizer=opts))
    combine = res["harmonizer"]["combine"]
    assert combine in res["harmonizer"]["heldout_agreement"] and (combine == "h") is bool(candidates)
    assert ("vote_shift_test" in res["harmonizer"]) is (combine != "h")
    assert res["labels"]["polar"]["accuracy"] > 0.5

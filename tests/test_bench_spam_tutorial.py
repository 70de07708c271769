"""benchmarks/spam_tutorial.py: the tutorial's split, and the seed summary / win check the README quotes."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("spam_tutorial", ROOT / "benchmarks" / "spam_tutorial.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_split_is_the_tutorials(bench):
    import pandas as pd

    if not bench.DATA.exists():
        pytest.skip("../shared/data/spam is not beside the repository")
    files = sorted(bench.DATA.glob("Youtube0*.csv"))
    frames = [pd.read_csv(f) for f in files]
    train, test = bench.load_spam(bench.DATA)
    again_train, again_test = bench.load_spam(bench.DATA)
    assert train.equals(again_train) and test.equals(again_test)                # seeded: same rows every run
    assert len(train) == sum(len(f) for f in frames[:4]) and set(train.video) == {1, 2, 3, 4}
    assert len(test) == 250 and set(test.video) == {5}                          # the rest of video 5: valid
    assert set(test.text) <= set(frames[4].CONTENT)
    share5 = frames[4].CLASS.mean()
    assert abs(test.label.mean() - share5) <= 1 / 250 + 1e-12                  # stratified on the label
    assert not set(train.id) & set(test.id)


def test_summary_and_win_check(bench):
    rng = np.random.default_rng(0)
    runs = {s: {"labels": {m: {k: float(rng.uniform(0.7, 0.9)) for k in bench.METRICS} for m in bench.METHODS}}
            for s in range(3)}
    summary = bench.summarize(runs)
    acc = [runs[s]["labels"]["polar"]["accuracy"] for s in runs]
    assert summary["polar"]["accuracy"]["mean"] == pytest.approx(np.mean(acc), abs=1e-4)
    assert summary["polar"]["accuracy"]["min"] == pytest.approx(min(acc), abs=1e-4)
    assert summary["polar"]["accuracy"]["max"] == pytest.approx(max(acc), abs=1e-4)
    wins = bench.polar_wins(summary)
    for k in bench.METRICS:
        best = max(summary[m][k]["mean"] for m in bench.BASELINES)
        assert wins[k]["best_baseline_mean"] == best
        assert wins[k]["polar_ge_all"] == (summary["polar"][k]["mean"] >= best)
    # polar_h is not a baseline: a better h alone does not make POLAR lose
    for r in runs.values():
        r["labels"]["polar_h"]["accuracy"] = 1.0
        r["labels"]["polar"]["accuracy"] = 0.95
    assert bench.polar_wins(bench.summarize(runs))["accuracy"]["polar_ge_all"]
    for r in runs.values():
        r["labels"]["mv+lr"]["accuracy"] = 0.96
    lost = bench.polar_wins(bench.summarize(runs))["accuracy"]
    assert not lost["polar_ge_all"] and lost["best_baseline"] == "mv+lr" and lost["margin"] < 0

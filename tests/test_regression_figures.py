"""The stage refactor changed no figure: the four examples/wrench_* projects, the demo (without its LLM
source) and ``bench wrench`` give the labels and metrics recorded before it (tests/regression/figures_before.json,
written by tests/regression/record.py with the code before the change), to the 3rd decimal."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEFORE = json.loads((ROOT / "tests" / "regression" / "figures_before.json").read_text())
sys.path.insert(0, str(ROOT / "tests" / "regression"))
import record  # noqa: E402

needs_data = pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "youtube").exists(),
                                reason="WRENCH data not beside the repository")


def assert_same(before: dict, after: dict, where: str) -> None:
    for split, labels in before.get("labels", {}).items():
        got = after["labels"][split]
        diff = sum(a != b for a, b in zip(labels, got))
        assert len(got) == len(labels) and diff == 0, f"{where} {split}: {diff} labels differ"
    for method, per in before["metrics"].items():
        for split, m in per.items():
            for key, value in m.items():
                assert after["metrics"][method][split][key] == pytest.approx(value, abs=5e-4), \
                    f"{where} {method} {split} {key}"


@needs_data
@pytest.mark.parametrize("example", record.EXAMPLES)
def test_wrench_examples_give_the_recorded_figures(example, tmp_path):
    after = record.project_figures(ROOT / "examples" / example / "polarlab.toml", tmp_path)
    assert after["final"] == BEFORE["examples"][example]["final"]
    assert_same(BEFORE["examples"][example], after, example)


@pytest.mark.slow
def test_demo_without_llm_gives_the_recorded_figures(tmp_path):
    demo = ROOT / "src" / "polarlab" / "data" / "demo" / "youtube_spam" / "polarlab.toml"
    assert_same(BEFORE["demo_no_llm"], record.project_figures(demo, tmp_path, drop_llm=True), "demo")


@needs_data
@pytest.mark.slow
def test_bench_wrench_gives_the_recorded_figures(tmp_path):
    for name, before in BEFORE["bench"].items():
        after = record.bench_figures(name, tmp_path)
        for method, m in before["labels"].items():
            for key, value in m.items():
                if isinstance(value, (int, float)):
                    assert after["labels"][method][key] == pytest.approx(value, abs=5e-4), f"{name} {method} {key}"
        for method, m in before["risk"].items():
            for key, value in m.items():
                assert after["risk"][method][key] == pytest.approx(value, abs=5e-4, nan_ok=True), \
                    f"{name} risk {method} {key}"

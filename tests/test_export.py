"""Labels files, metrics JSON and atomic writes, on real files."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab import ConfigError, LabelMatrix, Task
from polarlab.export import atomic_path, labels_frame, to_json, write_bytes, write_json, write_table, write_text

TASK = Task(labels=("neg", "pos", "neutral"), name="t")
PROBA = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.5, 0.25]])
LM = LabelMatrix(L=[[0, -1], [2, 2], [-1, 1]], names=["rule", "llm"], ids=["a", "b", "c"], n_classes=3)


def test_labels_frame_columns_and_values() -> None:
    f = labels_frame(["a", "b", "c"], PROBA, TASK, LM, {"split": ["train"] * 3, "risk": [0.3, 0.4, 0.5]})
    assert list(f.columns) == ["id", "label", "label_index", "probability", "p_neg", "p_pos", "p_neutral",
                               "split", "risk", "vote_rule", "vote_llm"]
    assert f["label"].tolist() == ["neg", "neutral", "pos"]
    assert f["label_index"].tolist() == [0, 2, 1]
    assert f["probability"].tolist() == [0.7, 0.6, 0.5]
    np.testing.assert_array_equal(f[["p_neg", "p_pos", "p_neutral"]].to_numpy(), PROBA)
    assert f["vote_rule"].tolist() == ["neg", "neutral", ""]  # abstain is empty
    assert f["vote_llm"].tolist() == ["", "neutral", "pos"]
    assert list(labels_frame(["a", "b", "c"], PROBA, TASK).columns)[-1] == "p_neutral"


@pytest.mark.parametrize("name", ["labels.csv", "labels.jsonl", "labels.parquet"])
def test_write_table_round_trip(tmp_path: Path, name: str) -> None:
    f = labels_frame(["a", "b", "c"], PROBA, TASK, LM, {"text": ["é, \"q\"", "line\nbreak", "😀"]})
    path = write_table(f, tmp_path / "sub" / name)
    assert path == tmp_path / "sub" / name and sorted(os.listdir(tmp_path / "sub")) == [name]
    if name.endswith(".csv"):
        back = pd.read_csv(path, keep_default_na=False)
    elif name.endswith(".jsonl"):
        back = pd.read_json(path, lines=True)
        assert len(path.read_text(encoding="utf-8").splitlines()) == 3
        assert "😀" in path.read_text(encoding="utf-8")  # not \\u-escaped
    else:
        back = pd.read_parquet(path)
    assert back["id"].tolist() == ["a", "b", "c"] and back["text"].tolist() == ["é, \"q\"", "line\nbreak", "😀"]
    assert back["vote_rule"].tolist() == ["neg", "neutral", ""]
    np.testing.assert_allclose(back[["p_neg", "p_pos", "p_neutral"]].to_numpy(), PROBA)


def test_write_table_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "labels.xlsx")
    assert "labels.xlsx" in str(ei.value) and ".jsonl" in str(ei.value) and "Fix:" in str(ei.value)
    assert not list(tmp_path.iterdir())


def test_json_nan_and_numpy(tmp_path: Path) -> None:
    obj = {"acc": np.float64(0.5), "n": np.int64(3), "nan": float("nan"), "arr": np.array([1.0, np.nan]),
           1: (np.float32(0.25),)}
    assert json.loads(to_json(obj)) == {"acc": 0.5, "n": 3, "nan": None, "arr": [1.0, None], "1": [0.25]}
    p = write_json(obj, tmp_path / "m.json")
    assert json.loads(p.read_text(encoding="utf-8"))["nan"] is None


def test_atomic_failure_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "labels.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp != target and tmp.exists()
            tmp.write_text("half of the new", encoding="utf-8")
            raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["labels.csv"]
    write_text(target, "new\n")
    write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert target.read_text(encoding="utf-8") == "new\n" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["b.bin", "labels.csv"]


def test_atomic_writes_get_the_usual_file_mode(tmp_path: Path) -> None:
    """Outputs are readable like any file the user writes (umask applies), not private 0600 temp files."""
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "b.csv")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644

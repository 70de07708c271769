"""``polarlab predict`` writes batch by batch: the appender's three formats, the streamed predictions equal
the in-memory ones (a real MiniLM + logistic regression model), identical texts are encoded once, bad input
fails before any model work, and a failure mid-run leaves no output file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.endmodel import Targets, load_end_model, make_end_model, predict_file, predict_frame
from polarlab.endmodel.appender import TableAppender
from polarlab.endmodel.base import EndModel
from polarlab.errors import ConfigError, DataError
from polarlab.task import Task

TASK = Task(labels=("ham", "spam"), name="tiny_spam")
SPAM = ["check out my channel", "subscribe to my page please", "free gift card click here", "visit my website now"]
HAM = ["great song, love it", "this video made my day", "beautiful voice", "the chorus is amazing"]


def read_back(path: Path) -> pd.DataFrame:
    kind = path.suffix.lstrip(".")
    if kind == "csv":
        return pd.read_csv(path, dtype={"id": str, "text": str})
    if kind == "jsonl":
        return pd.read_json(path, lines=True, dtype={"id": str})
    return pd.read_parquet(path)


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_appender_writes_every_batch_once(tmp_path: Path, kind: str) -> None:
    frames = [pd.DataFrame({"id": [f"r{i}" for i in range(s, s + n)], "text": [f"t,\"{i}\"" for i in range(s, s + n)],
                            "p": np.linspace(0, 1, n)}) for s, n in ((0, 3), (3, 0), (3, 4))]
    path = tmp_path / f"out.{kind}"
    with TableAppender(path, kind) as sink:
        for f in frames:
            sink.append(f)
    assert sink.rows == 7
    back = read_back(path)
    pd.testing.assert_frame_equal(back, pd.concat(frames, ignore_index=True), check_dtype=False)
    with pytest.raises(ConfigError, match="differ from the first batch"):
        with TableAppender(tmp_path / f"bad.{kind}", kind) as sink:
            sink.append(frames[0])
            sink.append(frames[0][["text", "id", "p"]])


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = make_end_model("logreg", TASK)
    model.fit(SPAM + HAM, Targets(np.eye(2)[[1] * len(SPAM) + [0] * len(HAM)]))
    return model.save(tmp_path_factory.mktemp("m") / "model")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_streamed_predictions_equal_in_memory_ones(tmp_path: Path, saved_model: Path, suffix: str) -> None:
    texts = ["free gift card, click now", "what a song", "free gift card, click now", "subscribe to me",
             "what a song", "lovely chorus", "free gift card, click now"]
    data = tmp_path / "new.csv"
    pd.DataFrame({"uid": [f"u{i}" for i in range(len(texts))], "text": texts}).to_csv(data, index=False)
    model = load_end_model(saved_model)
    rows, out = predict_file(model, data, tmp_path / f"pred{suffix}", id_column="uid", batch_size=3, progress=False)
    written = read_back(out)
    assert rows == len(texts) and written["id"].tolist() == [f"u{i}" for i in range(len(texts))]
    # batches [0:3] [3:6] [6:7]: 2 + 3 + 1 distinct texts go through the encoder
    assert model.embedder.n_encoded == 6
    expected = model.predict_proba(texts)
    np.testing.assert_allclose(written[["p_ham", "p_spam"]].to_numpy(), expected, rtol=1e-5, atol=1e-7)
    assert written["label"].tolist() == [TASK.labels[i] for i in expected.argmax(1)]
    memory = predict_frame(model, data, id_column="uid", batch_size=3, progress=False)
    np.testing.assert_allclose(memory[["p_ham", "p_spam"]].to_numpy(), expected, rtol=1e-5, atol=1e-7)


def test_bad_row_fails_before_any_model_work(tmp_path: Path, saved_model: Path) -> None:
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": ["fine text"] * 5 + [""] + ["more"]}).to_csv(data, index=False)
    model = load_end_model(saved_model)
    with pytest.raises(DataError, match="row 5 .*empty text"):
        predict_file(model, data, tmp_path / "pred.csv", progress=False)
    assert model._embedder is None and not (tmp_path / "pred.csv").exists()


class Failing(EndModel):
    """Encodes fine for one batch, then fails: a crash in the middle of a run."""

    kind = "failing"

    def encode(self, texts):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 1:
            raise RuntimeError("disk full")
        return np.zeros((len(texts), 1))

    def predict_proba_encoded(self, F):
        return np.full((len(F), 2), 0.5)


def test_a_crash_mid_run_leaves_no_partial_file(tmp_path: Path) -> None:
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": [f"text {i}" for i in range(10)]}).to_csv(data, index=False)
    out = tmp_path / "pred.parquet"
    with pytest.raises(RuntimeError, match="disk full"):
        predict_file(Failing(TASK), data, out, batch_size=4, progress=False)
    assert not out.exists() and list(tmp_path.iterdir()) == [data]


def test_heap_settings_apply_on_glibc() -> None:
    import platform

    from polarlab.endmodel.heap import return_freed_memory

    assert return_freed_memory() is (platform.libc_ver()[0] == "glibc")

"""Issue 11: bad input and faults fail early and clearly (exit 2, one message naming file/key/row).

Each case runs the real command (``polarlab run``) or the real API on real files; where the error is
about input, the test also checks that no label model was fitted and nothing was written before it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from polarlab import ABSTAIN, DataError, Task, apply_sources, from_hf, from_pandas, labeling_function, load_csv
from polarlab.cli import main as cli
from polarlab.data.dataset import Dataset
from polarlab.errors import SourceError
from polarlab.llm import AnswerCache, CacheCorruptError
from polarlab.sources.config import sources_from_config

TASK = Task(labels=("ham", "spam"), name="spam")
runner = CliRunner()

PROJECT = """
[task]
labels = ["ham", "spam"]

[data]
[data.splits]
train = "train.csv"
test = "test.csv"

[[sources]]
type = "keyword"
name = "kw_free"
keywords = ["free"]
label = "spam"
{extra}

[labelmodel]
methods = ["mv"]
final = "mv"

[output]
dir = "out"
"""
TRAIN = "text,label\nfree money,spam\nhello there,ham\nget it free,spam\nsee you,ham\n"
LFS = '''
from polarlab import labeling_function, ABSTAIN

@labeling_function()
def reads_renamed_column(x):
    "Reads a column the data does not have (renamed)."
    return 1 if x.CLASS == "spam" else ABSTAIN
'''


@pytest.fixture()
def fits(monkeypatch: pytest.MonkeyPatch) -> list:
    """Records every label-model fit of the pipeline (none may happen before an input error)."""
    import polarlab.pipeline as pipeline

    calls: list = []
    real = pipeline.fit_label_models
    monkeypatch.setattr(pipeline, "fit_label_models", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def project(tmp_path: Path, train: str | bytes = TRAIN, extra: str = "") -> Path:
    for name, text in (("train.csv", train), ("test.csv", TRAIN)):
        p = tmp_path / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    (tmp_path / "lfs.py").write_text(LFS, encoding="utf-8")
    path = tmp_path / "polarlab.toml"
    path.write_text(PROJECT.format(extra=extra), encoding="utf-8")
    return path


def run_fails(path: Path, fits: list, *names: str) -> str:
    """``polarlab run`` exits 2 with one message naming ``names``; nothing fitted, nothing written."""
    r = runner.invoke(cli.app, ["run", str(path), "--no-progress"])
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)  # no traceback
    msg = " ".join(r.stderr.split())
    assert msg.startswith("error:") and "Fix:" in msg, msg
    for n in names:
        assert n in msg, (n, msg)
    assert not fits, "a label model was fitted before the error"
    assert not (path.parent / "out").exists()
    return msg


# --------------------------------------------------------------------------- data

def test_csv_with_two_columns_of_the_same_name(tmp_path: Path, fits: list) -> None:
    path = project(tmp_path, train="text,label,text\nfree money,spam,x\nhello,ham,y\n")
    run_fails(path, fits, "train.csv", "column 'text'", "appears twice", "line 1")
    with pytest.raises(DataError, match="duplicate column"):  # frames (Parquet, pandas) as well
        from_pandas(pd.DataFrame([["a", "b"]], columns=["text", "text"]), TASK)


def test_header_only_training_split(tmp_path: Path, fits: list) -> None:
    run_fails(project(tmp_path, train="text,label\n"), fits, "train.csv", "no rows", "every split needs rows")


def test_minus_one_gold_is_no_gold() -> None:
    ds = from_pandas(pd.DataFrame({"text": ["a", "b", "c"], "label": [1, -1, "-1"]}), TASK)
    assert ds.gold.tolist() == [1, -1, -1]
    ds = from_pandas(pd.DataFrame({"text": ["a", "b"], "label": [0, -1]}))  # without a task too
    assert ds.gold.tolist() == [0, -1]


def test_row_convention_is_the_same_for_data_and_source_errors(tmp_path: Path) -> None:
    """``row N`` is the 0-based position everywhere; a text file's line is added."""
    p = tmp_path / "d.csv"
    p.write_text("text,label\nok,ham\n,spam\n", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK)
    assert "row 1 (line 3)" in str(ei.value)

    @labeling_function()
    def breaks_on_second(x):
        if x.text == "b":
            raise ValueError("boom")
        return ABSTAIN

    ds = from_pandas(pd.DataFrame({"text": ["a", "b"]}), TASK)
    L = apply_sources(ds, [breaks_on_second], TASK, progress=False)  # 1 of 2 rows: a warning
    assert [f.row for f in L.failures] == [1]
    with pytest.raises(SourceError) as ei:
        apply_sources(ds.subset([1]), [breaks_on_second], TASK, progress=False)
    assert "row 0" in str(ei.value)


# --------------------------------------------------------------------------- Hugging Face

def test_huggingface_class_label_names_map_by_name() -> None:
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features({"text": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["spam", "ham"])})  # the task's order reversed
    hf = datasets.Dataset.from_dict({"text": ["win now", "hi mum", "?"], "label": [0, 1, -1]}, features=feats)
    assert from_hf(hf, TASK).gold.tolist() == [1, 0, -1]  # spam, ham, no gold: not flipped
    bad = hf.cast_column("label", datasets.ClassLabel(names=["spam", "eggs"]))
    with pytest.raises(DataError) as ei:
        from_hf(bad, TASK)
    assert "'eggs'" in str(ei.value) and "column 'label'" in str(ei.value)


def test_huggingface_dataset_dict_asks_which_split() -> None:
    datasets = pytest.importorskip("datasets")
    d = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"], "label": [0]}),
                              "test": datasets.Dataset.from_dict({"text": ["b"], "label": [1]})})
    with pytest.raises(DataError) as ei:
        from_hf(d, TASK)
    assert "split" in str(ei.value) and "'train'" in str(ei.value) and "split=" in str(ei.value)
    with pytest.raises(DataError, match="no split 'dev'"):
        from_hf(d, TASK, split="dev")
    ds = from_hf(d, TASK, split="test")
    assert ds.texts == ["b"] and ds.gold.tolist() == [1] and ds.name == "test"


# --------------------------------------------------------------------------- failing sources

def test_labeling_function_failing_on_every_row_fails_the_run(tmp_path: Path, fits: list) -> None:
    path = project(tmp_path, extra='\n[[sources]]\ntype = "python"\nfile = "lfs.py"\n')
    run_fails(path, fits, "reads_renamed_column", "raised on 4 of 4 rows", "AttributeError", "CLASS",
              "fault_tolerant")


def test_failure_share_and_fault_tolerance() -> None:
    @labeling_function()
    def half(x):
        if x.text in ("a", "b"):
            raise KeyError("author")
        return 1

    ds = from_pandas(pd.DataFrame({"text": ["a", "b", "c", "d"]}), TASK)
    assert apply_sources(ds, [half], TASK, progress=False).L[:, 0].tolist() == [-1, -1, 1, 1]  # default: all rows
    with pytest.raises(SourceError) as ei:
        apply_sources(ds, [half], TASK, progress=False, max_failure_share=0.5)
    assert "'half'" in str(ei.value) and "2 of 4" in str(ei.value) and "KeyError" in str(ei.value)
    half.fault_tolerant = True  # a source's own setting wins (project files: [[sources]] fault_tolerant)
    assert len(apply_sources(ds, [half], TASK, progress=False, max_failure_share=0.5).failures) == 2
    with pytest.raises(Exception, match="max_failure_share"):
        apply_sources(ds, [], TASK, progress=False, max_failure_share=0)


# --------------------------------------------------------------------------- gold never reaches sources

GOLD_LFS = '''
from polarlab import labeling_function, ABSTAIN
from snorkel.labeling import labeling_function as snorkel_lf

@labeling_function()
def native_reads_gold(x):
    return x.label

@snorkel_lf()
def snorkel_reads_gold(x):
    return x.label
'''


@pytest.mark.parametrize("table", [
    {"type": "keyword", "name": "kw", "keywords": ["1"], "label": "spam", "column": "label"},
    {"type": "regex", "name": "rx", "pattern": "1", "label": "spam", "column": "label"},
    {"type": "dictionary", "name": "dc", "terms": ["1"], "label": "spam", "column": "label"},
    {"type": "votes", "name": "vt", "column": "label"},
    {"type": "python", "file": "lfs.py", "names": ["native_reads_gold"]},
    {"type": "python", "file": "lfs.py", "names": ["snorkel_reads_gold"]},
], ids=lambda t: t.get("name") or t["names"][0])
def test_sources_never_see_gold(tmp_path: Path, table: dict) -> None:
    (tmp_path / "lfs.py").write_text(GOLD_LFS, encoding="utf-8")
    ds = from_pandas(pd.DataFrame({"text": ["a 1", "b 0", "c 1"], "label": [1, 0, 1]}), TASK)
    sources = sources_from_config([table], base_dir=tmp_path, state_dir=tmp_path, sample=ds)
    with pytest.raises((DataError, SourceError)) as ei:  # "no column 'label'" / raised on every row
        apply_sources(ds, sources, TASK, progress=False)
    assert "label" in str(ei.value)


def test_wrench_and_llm_sources_get_no_gold() -> None:
    """Precomputed weak labels are votes only; the examples an LLM is asked about have no gold."""
    from polarlab.llm import BackendReply, LLMSource
    from polarlab.sources.votes import weak_label_sources

    frame = pd.DataFrame({"id": ["0", "1"], "text": ["a", "b"], "label": [1, 0]})
    ds = Dataset(frame, weak_labels=np.array([[0], [-1]]))
    assert apply_sources(ds, weak_label_sources(ds), TASK, progress=False).L[:, 0].tolist() == [0, -1]

    class Echo:  # a backend that answers "ham" to everything
        model_id, max_concurrency, max_prompt_tokens = "echo", 1, None

        def params(self, mode):
            return {}

        def count_tokens(self, text):
            return len(text.split())

        def score(self, prompt, words):
            return BackendReply(text=words[0], dist=np.array([1.0, 0.0]))

        def generate(self, prompt):
            return BackendReply(text="ham")

    class Recording(LLMSource):
        def requests_for(self, data, task):
            reqs = super().requests_for(data, task)
            seen.extend(r.example for r in reqs)
            seen_frames.append(data.frame.columns.tolist())
            return reqs

    seen: list = []
    seen_frames: list = []
    apply_sources(ds, [Recording(Echo(), calibrate=False, progress=False)], TASK, progress=False)
    assert len(seen) == 2 and all(not hasattr(x, "label") and "label" not in x.meta for x in seen)
    assert seen_frames == [["id", "text"]]


# --------------------------------------------------------------------------- the LLM answer cache

def _cache_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "polarlab.llm.cache", *args], capture_output=True, text=True,
                          timeout=120)


def test_cache_quarantine_of_a_missing_file(tmp_path: Path) -> None:
    r = _cache_cli("quarantine", str(tmp_path / "no" / "such.sqlite"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "such.sqlite" in r.stderr and "no cache file" in r.stderr and "Fix:" in r.stderr
    assert "RuntimeWarning" not in r.stderr


def test_cache_quarantine_moves_a_file_without_warnings(tmp_path: Path) -> None:
    p = tmp_path / "llm_cache.sqlite"
    p.write_bytes(b"not a database")
    r = _cache_cli("quarantine", str(p))
    assert r.returncode == 0 and r.stderr == "", r.stderr  # no RuntimeWarning from runpy
    assert not p.exists() and len(list(tmp_path.glob("llm_cache.sqlite.corrupt-*"))) == 1


def test_empty_cache_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "llm_cache.sqlite"
    p.touch()
    with pytest.raises(CacheCorruptError) as ei:
        AnswerCache(p)
    assert str(p) in str(ei.value) and "0-byte" in str(ei.value) and "quarantine" in str(ei.value)
    AnswerCache(tmp_path / "new" / "c.sqlite").close()  # a missing file is a new cache, as before


def test_embedded_model_prints_nothing_on_stderr() -> None:
    """llama.cpp's own log lines (e.g. "llama_kv_cache_iswa: using full-size SWA cache") go to logging."""
    pytest.importorskip("llama_cpp")
    code = ("from polarlab.llm import LlamaCppBackend, RenderedPrompt\n"
            "b = LlamaCppBackend()\n"
            "print(b.score(RenderedPrompt(prefix='Is it spam?\\n', suffix='Text: hi\\nAnswer:'), ('ham', 'spam')).text)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("ham", "spam") and r.stderr == "", r.stderr

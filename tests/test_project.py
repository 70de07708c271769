"""Project files and the whole pipeline on real files: outputs, atomic writes, errors, WRENCH youtube."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab import ConfigError, MajorityVote, SourceError, load_project
from polarlab.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
YOUTUBE = ROOT.parent / "shared" / "data" / "youtube"

TRAIN = [  # cid, body, gold, author
    ("t0", "Check out my channel http://spam.io", "spam", "bob"),
    ("t1", "great song, love it", "ham", "ann"),
    ("t2", "free gift card, click www.win.com", "spam", "bot42"),
    ("t3", "this song is great", "ham", "joe"),
    ("t4", "nice", "ham", "kim"),
]
TEST = [
    ("s0", "subscribe to my channel", "spam", "bot42"),
    ("s1", "what a song", "ham", "ann"),
    ("s2", "free free free", "spam", "eve"),
]
# votes of (kw_check, rx_link, terms, author_bot), worked out from the rules below
TRAIN_VOTES = [["spam", "spam", "", ""], ["", "", "ham", ""], ["", "spam", "spam", "spam"], ["", "", "ham", ""],
               ["", "", "", ""]]
TEST_VOTES = [["", "", "", "spam"], ["", "", "ham", ""], ["", "", "spam", ""]]
SOURCE_NAMES = ["kw_check", "rx_link", "terms", "author_bot"]

PROJECT = """
[task]
name = "tiny"
labels = ["ham", "spam"]

[data]
text_column = "body"
label_column = "gold"
id_column = "cid"

[data.splits]
train = "train.csv"
test = "test.csv"

[[sources]]
type = "keyword"
name = "kw_check"
keywords = ["check out"]
label = "spam"

[[sources]]
type = "regex"
name = "rx_link"
pattern = "https?://|www\\\\."
label = "spam"

[[sources]]
type = "dictionary"
name = "terms"
file = "terms.tsv"

[[sources]]
type = "python"
file = "lfs.py"

[labelmodel]
methods = ["mv"]
final = "mv"

[output]
dir = "out"
labels = "{labels}"
"""

LFS = '''
from polarlab import ABSTAIN, labeling_function

@labeling_function()
def author_bot(x):
    """Accounts named like bots post spam."""
    return "spam" if x.author.startswith("bot") else ABSTAIN
'''


def make_project(tmp_path: Path, labels: str = "labels.csv", project: str = PROJECT) -> Path:
    cols = ["cid", "body", "gold", "author"]
    pd.DataFrame(TRAIN, columns=cols).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(TEST, columns=cols).to_csv(tmp_path / "test.csv", index=False)
    # "great"/"song"/"love" are ham terms, "free"/"gift card" spam; each occurrence counts
    (tmp_path / "terms.tsv").write_text("great\tham\nsong\tham\nlove\tham\nfree\tspam\ngift card\tspam\n",
                                        encoding="utf-8")
    (tmp_path / "lfs.py").write_text(LFS, encoding="utf-8")
    p = tmp_path / "polarlab.toml"
    p.write_text(project.format(labels=labels), encoding="utf-8")
    return p


def read_labels(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


@pytest.mark.parametrize("labels", ["labels.csv", "labels.jsonl", "labels.parquet"])
def test_run_writes_labels_analysis_metrics(tmp_path: Path, labels: str) -> None:
    proj = load_project(make_project(tmp_path, labels))
    assert proj.output_dir == tmp_path / "out" and proj.labels_file == labels
    result = run(proj, progress=False)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted([labels, "analysis.csv", "metrics.json", "manifest.json"])
    assert result.outputs["labels"] == out / labels

    frame = read_labels(out / labels)
    cols = list(frame.columns)
    assert cols[:6] == ["id", "label", "label_index", "probability", "p_ham", "p_spam"]
    assert cols[-4:] == [f"vote_{s}" for s in SOURCE_NAMES]
    assert {"split", "gold"} <= set(cols[6:-4])
    assert frame["id"].tolist() == [r[0] for r in TRAIN + TEST]
    assert frame["split"].tolist() == ["train"] * len(TRAIN) + ["test"] * len(TEST)
    assert frame["gold"].tolist() == [r[2] for r in TRAIN + TEST]
    votes = frame[[f"vote_{s}" for s in SOURCE_NAMES]].to_numpy().tolist()
    assert votes == TRAIN_VOTES + TEST_VOTES

    # the labels are majority votes of those columns (a tie or no vote: a seeded random pick among the tied
    # classes, WRENCH's tie-break, which moves 1e-6 of probability onto the pick)
    p_ham, p_spam = frame["p_ham"].astype(float).to_numpy(), frame["p_spam"].astype(float).to_numpy()
    # t0 2 spam; t1 ham; t2 3 spam; t3 ham; t4 none (0.5); s0 spam; s1 ham; s2 spam
    np.testing.assert_allclose(p_spam, [1.0, 0.0, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(p_ham + p_spam, 1.0)
    tie = "spam" if p_spam[4] > 0.5 else "ham"
    assert frame["label"].tolist() == ["spam", "ham", "spam", "ham", tie, "spam", "ham", "spam"]
    assert frame["label_index"].astype(int).tolist() == [1, 0, 1, 0, int(tie == "spam"), 1, 0, 1]
    np.testing.assert_allclose(frame["probability"].astype(float), [1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0],
                               atol=1e-5)
    if "risk" in frame:  # the chance the written label is wrong, by the final model
        np.testing.assert_allclose(frame["risk"].astype(float), 1.0 - frame["probability"].astype(float))

    analysis = pd.read_csv(out / "analysis.csv")
    assert analysis["source"].tolist() == SOURCE_NAMES
    # on train (5 rows): kw_check t0; rx_link t0, t2; terms t1, t2, t3; author_bot t2
    assert analysis["coverage"].tolist() == pytest.approx([1 / 5, 2 / 5, 3 / 5, 1 / 5])
    np.testing.assert_allclose(analysis["coverage"], result.analysis["coverage"])

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"] == "tiny" and metrics["fit_split"] == "train" and metrics["final"] == "mv"
    assert metrics["source_failures"] == 0
    # train: t4 is predicted ham (tie) and is ham -> 5/5; test: 3/3
    # every train row right but t4 (no vote), which is right when the random tie-break picked ham
    assert metrics["metrics"]["mv"]["train"]["accuracy"] == (1.0 if tie == "ham" else 0.8)
    assert metrics["metrics"]["mv"]["train"]["n"] == 5
    assert metrics["metrics"]["mv"]["test"]["accuracy"] == 1.0 and metrics["metrics"]["mv"]["test"]["n"] == 3


def test_write_false_writes_nothing_and_result_holds_everything(tmp_path: Path) -> None:
    result = run(load_project(make_project(tmp_path)), progress=False, write=False)
    assert not (tmp_path / "out").exists()
    assert set(result.matrices) == {"train", "test"} and result.matrices["test"].names == SOURCE_NAMES
    assert result.probas["mv"]["train"].shape == (len(TRAIN), 2)
    assert set(result.seconds) >= {"load", "sources", "label_models", "total"}


def test_labels_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = load_project(make_project(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    old = "id,label\nold,ham\n"
    (out / "labels.csv").write_text(old, encoding="utf-8")
    real_to_csv = pd.DataFrame.to_csv

    def half_then_crash(self, path=None, *args, **kwargs):
        real_to_csv(self.head(2), path, *args, **kwargs)  # partial content really reaches the disk
        assert Path(path).stat().st_size > 0
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        run(proj, progress=False)
    assert (out / "labels.csv").read_text(encoding="utf-8") == old
    assert sorted(p.name for p in out.iterdir()) == ["labels.csv"]  # no temp file, nothing written after it

    monkeypatch.setattr(pd.DataFrame, "to_csv", real_to_csv)
    run(proj, progress=False)
    assert (out / "labels.csv").read_text(encoding="utf-8") != old
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_single_file_with_split_column_and_limit(tmp_path: Path) -> None:
    rows = [(r[0], r[1], r[2], r[3], "train") for r in TRAIN] + [(r[0], r[1], r[2], r[3], "test") for r in TEST]
    pd.DataFrame(rows, columns=["cid", "body", "gold", "author", "part"]).to_csv(tmp_path / "all.csv", index=False)
    text = PROJECT.replace('[data.splits]\ntrain = "train.csv"\ntest = "test.csv"\n',
                           'path = "all.csv"\nsplit_column = "part"\nlimit = 2\n')
    proj = load_project(make_project(tmp_path, project=text))
    splits = proj.load_splits()
    assert {k: v.ids for k, v in splits.items()} == {"train": ["t0", "t1"], "test": ["s0", "s1"]}
    result = run(proj, progress=False)
    assert read_labels(result.outputs["labels"])["id"].tolist() == ["t0", "t1", "s0", "s1"]


def test_several_files_in_one_split_get_unique_ids(tmp_path: Path) -> None:
    text = PROJECT.replace('train = "train.csv"', 'train = ["train.csv", "test.csv"]').replace(
        'test = "test.csv"\n', "").replace('id_column = "cid"\n', "")
    splits = load_project(make_project(tmp_path, project=text)).load_splits()
    assert list(splits) == ["train"]
    assert splits["train"].ids == [f"train:{i}" for i in range(5)] + [f"test:{i}" for i in range(3)]


# --------------------------------------------------------------------------- bad project files

def _fails(tmp_path: Path, text: str) -> str:
    p = make_project(tmp_path, project=text)
    with pytest.raises(ConfigError) as ei:
        run(load_project(p), progress=False)
    assert not (tmp_path / "out").exists()
    msg = str(ei.value)
    assert f"file {tmp_path}" in msg and "Fix:" in msg, msg  # names the project file (or the file it names)
    return msg


def test_unknown_source_type(tmp_path: Path) -> None:
    msg = _fails(tmp_path, PROJECT.replace('type = "regex"', 'type = "regexp"'))
    assert "unknown source type 'regexp'" in msg and "key 'sources[1].type'" in msg and "'regex'" in msg


def test_unknown_data_keys(tmp_path: Path) -> None:
    msg = _fails(tmp_path, PROJECT.replace('text_column = "body"', 'text_column = "body"\ntext_col = "x"'))
    assert "unknown key 'text_col'" in msg and "key 'data.text_col'" in msg and "did you mean 'text_column'" in msg and "text_column" in msg


def test_invalid_toml(tmp_path: Path) -> None:
    p = make_project(tmp_path, project=PROJECT.replace('name = "tiny"', 'name = "tiny'))
    with pytest.raises(ConfigError) as ei:
        load_project(p)
    msg = str(ei.value)
    assert str(p) in msg and "invalid TOML" in msg and "line 3" in msg and "Fix:" in msg
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t + "\n[colours]\nx = 1\n", "unknown section [colours]"),
    (lambda t: t.replace('[data.splits]\ntrain = "train.csv"\ntest = "test.csv"\n', ""), "exactly one of"),
    (lambda t: t.split("[[sources]]")[0], "no [[sources]]"),
    (lambda t: t.replace('labels = ["ham", "spam"]', 'lables = ["ham", "spam"]'), "unknown key 'lables'"),
    (lambda t: t.replace('labels = ["ham", "spam"]', 'labels = ["ham"]'), "at least 2 are needed"),
    (lambda t: t.replace('final = "mv"', 'final = "snorkel"'), "final label model 'snorkel'"),
    (lambda t: t.replace('keywords = ["check out"]', 'keyword = ["check out"]'),
     "sources[0].keyword': unknown key 'keyword'. Fix: did you mean 'keywords'?"),
    (lambda t: t.replace('file = "lfs.py"', 'file = "nope.py"'), "key 'sources[3].file': no such file 'nope.py'"),
])
def test_bad_project_files(tmp_path: Path, edit, needle: str) -> None:
    msg = _fails(tmp_path, edit(PROJECT))
    assert needle in msg


def test_missing_project_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_project(tmp_path / "polarlab.toml")
    assert str(tmp_path / "polarlab.toml") in str(ei.value) and "Fix:" in str(ei.value)


def test_lf_out_of_range_stops_the_run_before_writing(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    (tmp_path / "lfs.py").write_text(LFS.replace('return "spam"', "return 7"), encoding="utf-8")
    with pytest.raises(SourceError) as ei:
        run(load_project(p), progress=False)
    msg = str(ei.value)
    assert "lfs.py" in msg and "row 2" in msg and "column 'author_bot'" in msg and "'t2'" in msg and "Fix:" in msg
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- WRENCH youtube example

def test_wrench_youtube_mv_accuracy_matches_direct_majority_vote() -> None:
    if not YOUTUBE.is_dir():
        pytest.skip(f"WRENCH youtube not at {YOUTUBE}")
    proj = load_project(ROOT / "examples" / "wrench_youtube" / "polarlab.toml")
    assert proj.task.labels == ("ham", "spam") and proj.sources == [{"type": "wrench"}]
    proj.labelmodel = {"methods": ["mv"], "final": "mv"}  # the other models are tested elsewhere
    result = run(proj, progress=False, write=False)
    got = result.metrics["mv"]["test"]["accuracy"]

    raw = json.loads((YOUTUBE / "test.json").read_text(encoding="utf-8"))
    L = np.array([r["weak_labels"] for r in raw.values()])
    gold = np.array([r["label"] for r in raw.values()])
    pred = MajorityVote(2).fit(L).predict_proba(L).argmax(axis=1)
    expected = float((pred == gold).mean())
    assert got == pytest.approx(expected, abs=1e-12)
    assert result.metrics["mv"]["test"]["n"] == len(raw)
    assert result.fit_split == "train" and len(result.analysis) == 10


def _unscored(caught) -> list[str]:
    return [str(w.message) for w in caught if "is not scored" in str(w.message)]


def test_a_test_split_without_gold_is_named_once_with_the_fix(tmp_path: Path) -> None:
    """A test split whose file has no gold column gets no metrics: one warning names the split and the
    column to add, not one per row; the fit split without gold (weak supervision's usual case) gets none."""
    import warnings

    make_project(tmp_path)
    pd.read_csv(tmp_path / "test.csv").drop(columns=["gold"]).to_csv(tmp_path / "test.csv", index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(load_project(tmp_path / "polarlab.toml"), progress=False, write=False)
    assert "test" not in result.metrics["mv"] and "train" in result.metrics["mv"]
    got = _unscored(caught)
    assert len(got) == 1 and got[0].startswith("split 'test' (the test split) has no gold label")
    assert "'gold' column (the [data] label_column)" in got[0]

    # gold on test, none on the fit split: nothing to say
    make_project(tmp_path)
    pd.read_csv(tmp_path / "train.csv").drop(columns=["gold"]).to_csv(tmp_path / "train.csv", index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(load_project(tmp_path / "polarlab.toml"), progress=False, write=False)
    assert _unscored(caught) == []

    # the split the user named to score is the one warned about
    p = make_project(tmp_path, project=PROJECT.replace('id_column = "cid"', 'id_column = "cid"\neval_split = "train"'))
    pd.read_csv(tmp_path / "train.csv").drop(columns=["gold"]).to_csv(tmp_path / "train.csv", index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(load_project(p), progress=False, write=False)
    got = _unscored(caught)
    assert len(got) == 1 and got[0].startswith("split 'train' ([data] eval_split) has no gold label")


def test_the_engine_table_survives_the_check_before_a_run(tmp_path: Path) -> None:
    """`validate_project` (run before every run) rebuilt the typed config from the project's tables and left
    `[engine]` out, so `[engine] kind = "ray"` (or `workers`) silently ran on the local engine, one process."""
    from polarlab.project import validate_project

    p = make_project(tmp_path, project=PROJECT + '\n[engine]\nkind = "local"\nworkers = 2\n')
    proj = load_project(p)
    assert validate_project(proj).engine.options() == {"workers": 2}


@pytest.mark.parametrize("table, key, fix", [
    ('address = "auto"\npartition_rows = 1000\n', "address", 'set kind = "ray" or remove address'),
    ('kind = "local"\nnum_cpus = 2\n', "num_cpus", 'set kind = "ray" or remove num_cpus'),
    ('kind = "ray"\nworkers = 2\n', "workers", 'set kind = "local" or remove workers'),
])
def test_an_engine_key_of_another_kind_is_refused_when_the_file_is_read(tmp_path: Path, table: str, key: str,
                                                                         fix: str) -> None:
    """`address` (a Ray key) with the default local engine was accepted and ignored; the run failed only when the
    sources stage built the engine, after the data was loaded, with LocalEngine's TypeError."""
    p = make_project(tmp_path, project=PROJECT + "\n[engine]\n" + table)
    with pytest.raises(ConfigError) as ei:
        load_project(p)
    e = ei.value
    assert e.file == str(p) and e.column == f"engine.{key}" and e.fix == fix
    assert ("(the default)" in e.message) == ("kind" not in table)


def test_make_engine_refuses_a_key_of_another_kind() -> None:
    from polarlab.engine import make_engine

    with pytest.raises(ConfigError) as ei:
        make_engine("local", address="auto")
    assert ei.value.column == "engine.address" and ei.value.fix == 'set kind = "ray" or remove address'
    assert make_engine("local", workers=2, progress=False).workers == 2

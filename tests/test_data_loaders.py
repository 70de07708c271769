"""Loaders (CSV/TSV, JSONL, Parquet, pandas, Hugging Face, WRENCH) and their errors, on real files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab import DataError, Task, from_hf, from_pandas, load_csv, load_jsonl, load_parquet, load_table
from polarlab.data import load_wrench, load_wrench_split, wrench_task
from polarlab.errors import InputError
from polarlab.pipeline import run
from polarlab.project import load_project

TASK = Task(labels=("ham", "spam"), name="spam")
YOUTUBE = Path(__file__).resolve().parents[2] / "shared" / "data" / "youtube"
YOUTUBE_LFS = ["keyword_my", "keyword_subscribe", "keyword_link", "keyword_please", "keyword_song",
               "regex_check_out", "short_comment", "has_person_nlp", "textblob_polarity", "textblob_subjectivity"]

ROWS = [  # id, text, gold (name or index or blank), author
    ("a1", "Check out my channel, please", "spam", "bob"),
    ("a2", "great song", "0", "ann"),
    ("a3", "subscribe for free gift cards", "1", "eve"),
    ("a4", "who is watching in 2015?", "", "joe"),
]


def _check_rows(ds, meta: bool = True) -> None:
    assert ds.ids == ["a1", "a2", "a3", "a4"]
    assert ds.texts == [r[1] for r in ROWS]
    assert ds.gold.tolist() == [1, 0, 1, -1]  # names and indices both map; blank = no gold
    assert ds.has_gold
    if meta:
        assert ds.frame["author"].tolist() == ["bob", "ann", "eve", "joe"]
        assert ds.meta_columns == ["author"]
        assert ds.example(0).author == "bob"  # metadata readable as an attribute


# --------------------------------------------------------------------------- loaders

def test_csv(tmp_path: Path) -> None:
    p = tmp_path / "comments.csv"
    pd.DataFrame(ROWS, columns=["cid", "body", "gold", "author"]).to_csv(p, index=False)
    ds = load_csv(p, TASK, text_column="body", label_column="gold", id_column="cid")
    _check_rows(ds)
    assert ds.name == "comments" and ds.source == str(p)


def test_tsv_keeps_commas_and_quotes_in_text(tmp_path: Path) -> None:
    p = tmp_path / "comments.tsv"
    lines = ["cid\tbody\tgold\tauthor"] + ["\t".join(r) for r in ROWS]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = load_table(p, TASK, text_column="body", label_column="gold", id_column="cid")
    _check_rows(ds)
    assert "," in ds.texts[0]


def test_csv_utf8_bom_and_unicode(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_bytes("text,label\nçà et là 😀,ham\n".encode("utf-8-sig"))
    ds = load_csv(p, TASK)
    assert list(ds.frame.columns[:3]) == ["id", "text", "label"]  # BOM not glued to the first header
    assert ds.texts == ["çà et là 😀"] and ds.gold.tolist() == [0]


def csv_error(path: Path, content: str) -> str:
    """The one-line DataError message ``load_csv`` gives for a file holding ``content``."""
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as e:
        load_csv(path, TASK)
    return str(e.value)


def test_semicolon_csv_is_named_as_such(tmp_path: Path) -> None:
    """A spreadsheet's ';'-separated export: one message saying so, not pandas' field count on some line."""
    msg = csv_error(tmp_path / "semi.csv", "id;text\n1;hello\n2;a text, with a comma; and a semicolon\n")
    assert "semi.csv" in msg and "line 1" in msg and "separated by ';'" in msg and "\n" not in msg
    (tmp_path / "one.csv").write_text("text\nhello\nworld\n", encoding="utf-8")      # one column: no separator
    assert load_csv(tmp_path / "one.csv", TASK).texts == ["hello", "world"]


def test_row_with_an_extra_cell_names_its_line(tmp_path: Path) -> None:
    msg = csv_error(tmp_path / "ragged.csv", "id,text\n1,hello\n2,good,bye\n")
    assert "line 3" in msg and "3 fields, the header has 2" in msg and "quote" in msg and "\n" not in msg


def test_jsonl(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    recs = [{"cid": r[0], "body": r[1], "gold": (r[2] or None), "author": r[3]} for r in ROWS]
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n\n", encoding="utf-8")
    ds = load_jsonl(p, TASK, text_column="body", label_column="gold", id_column="cid")
    _check_rows(ds)


def test_parquet(tmp_path: Path) -> None:
    p = tmp_path / "c.parquet"
    frame = pd.DataFrame(ROWS, columns=["cid", "body", "gold", "author"])
    frame["gold"] = [1, 0, 1, None]  # nullable ints -> float NaN in pandas
    frame.to_parquet(p, index=False)
    ds = load_parquet(p, TASK, text_column="body", label_column="gold", id_column="cid")
    _check_rows(ds)
    assert load_table(p, TASK, text_column="body", label_column="gold", id_column="cid").ids == ds.ids


def test_pandas_dataframe_default_ids_and_no_gold() -> None:
    frame = pd.DataFrame({"text": ["a b", "c d"], "n_words": [2, 2]})
    ds = from_pandas(frame, TASK)
    assert ds.ids == ["0", "1"] and ds.gold.tolist() == [-1, -1] and not ds.has_gold
    assert ds.frame["n_words"].tolist() == [2, 2]
    ex = next(iter(ds))
    assert (ex.id, ex.text, ex.n_words) == ("0", "a b", 2)
    assert not hasattr(ex, "label")  # examples carry no gold: sources never see it


def test_huggingface_dataset_with_classlabel() -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["ham", "spam"]),
                                  "source": datasets.Value("string")})
    hf = datasets.Dataset.from_dict({"sentence": ["free money now", "nice song", "sub 4 sub"],
                                     "label": [1, 0, 1], "source": ["x", "y", "z"]}, features=features)
    ds = from_hf(hf, TASK, text_column="sentence")
    assert ds.texts == ["free money now", "nice song", "sub 4 sub"]
    assert ds.gold.tolist() == [1, 0, 1]  # ClassLabel stays an index
    assert ds.frame["source"].tolist() == ["x", "y", "z"]
    assert ds.name == "hf"


def test_huggingface_label_out_of_range() -> None:
    datasets = pytest.importorskip("datasets")
    hf = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 7]})
    with pytest.raises(DataError) as ei:
        from_hf(hf, TASK)
    msg = str(ei.value)
    assert "row 1" in msg and "column 'label'" in msg and "7" in msg and "Fix:" in msg


# --------------------------------------------------------------------------- WRENCH

def _write_wrench(d: Path, splits: dict[str, dict], labels: dict, readme: str | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "label.json").write_text(json.dumps(labels), encoding="utf-8")
    for name, data in splits.items():
        (d / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    if readme is not None:
        (d / "readme.txt").write_text(readme, encoding="utf-8")
    return d


def _rel(text, e1, e2, label, wl):
    return {"data": {"text": text, "entity1": e1, "entity2": e2,
                     "span1": [text.index(e1), text.index(e1) + len(e1)],
                     "span2": [text.index(e2), text.index(e2) + len(e2)]},
            "label": label, "weak_labels": wl}


README = """A tiny relation set

Labeling functions list:

    lf_treats,
    lf_causes,
    lf_not,

lf_treats : says treats
"""


def test_wrench_relation_dir(tmp_path: Path) -> None:
    d = _write_wrench(tmp_path / "tinyrel", {
        "train": {"10": _rel("aspirin treats headache", "aspirin", "headache", 0, [0, -1, -1]),
                  "11": _rel("smoking causes cancer", "smoking", "cancer", 1, [-1, 1, -1])},
        "test": {"20": _rel("salt and pepper", "salt", "pepper", 2, [-1, -1, 2])},
    }, {"0": "treats", "1": "causes", "2": "none"}, README)
    task = wrench_task(d)
    assert task.labels == ("treats", "causes", "none") and task.kind == "relation" and task.name == "tinyrel"
    splits = load_wrench(d)
    assert sorted(splits) == ["test", "train"]
    tr = splits["train"]
    assert tr.ids == ["10", "11"] and tr.gold.tolist() == [0, 1] and tr.is_relation
    assert tr.weak_labels.tolist() == [[0, -1, -1], [-1, 1, -1]]
    assert tr.weak_label_names == ["lf_treats", "lf_causes", "lf_not"]  # from readme.txt
    ex = tr.example(1)
    assert (ex.entity1, ex.entity2) == ("smoking", "cancer")
    assert ex.text[ex.span1[0]:ex.span1[1]] == "smoking" and ex.text[ex.span2[0]:ex.span2[1]] == "cancer"
    assert splits["test"].weak_labels.tolist() == [[-1, -1, 2]]


def test_wrench_task_reads_only_the_first_record(tmp_path: Path, monkeypatch) -> None:
    """The task kind comes from the first record alone, read in small pieces (a UTF-8 BOM and characters cut by a
    read included); the whole file is parsed only when its start is not WRENCH's layout, with the clear error."""
    import polarlab.data.wrench as w

    rel = _rel("l'aspirine soigne la céphalée — vraiment", "aspirine", "céphalée", 0, [0, -1])
    d = _write_wrench(tmp_path / "r", {"train": {"7": rel, "8": rel}}, {"0": "treats", "1": "none"})
    (d / "train.json").write_bytes(b"\xef\xbb\xbf" + (d / "train.json").read_bytes()[:-40] + b"not json")  # tail cut
    monkeypatch.setattr(w, "FIRST_RECORD_CHUNK", 5)
    assert wrench_task(d).kind == "relation"
    with pytest.raises(DataError, match="invalid JSON"):
        load_wrench(d)                               # the whole file, when loaded, still gets its error
    (d / "train.json").write_text(json.dumps({"7": {"data": {"text": "hi"}, "label": 0, "weak_labels": [0, -1]}}))
    assert wrench_task(d).kind == "text"
    (d / "train.json").write_text("{ }")
    assert wrench_task(d).kind == "text"
    for bad, msg in (("[1, 2]", "expected a JSON object"), ('{"7": {"data": ', "invalid JSON"),
                     ("{7: 1}", "invalid JSON")):
        (d / "train.json").write_text(bad)
        with pytest.raises(DataError, match=msg) as e:
            wrench_task(d)
        assert e.value.file.endswith("train.json")
    (d / "train.json").write_bytes(b'{"7": {"data": {"text": "caf\xe9"}}}')
    with pytest.raises(DataError, match="not UTF-8"):
        wrench_task(d)


def test_wrench_without_readme_names_lf_j(tmp_path: Path) -> None:
    d = _write_wrench(tmp_path / "w", {"train": {"0": {"data": {"text": "hi"}, "label": 0, "weak_labels": [0, -1]}}},
                      {"0": "a", "1": "b"})
    ds = load_wrench(d)["train"]
    assert ds.weak_label_names == ["lf_0", "lf_1"] and wrench_task(d).kind == "text"


def test_wrench_youtube_real_data() -> None:
    if not YOUTUBE.is_dir():
        pytest.skip(f"WRENCH youtube not at {YOUTUBE}")
    splits = load_wrench(YOUTUBE)
    assert sorted(splits) == ["test", "train", "valid"]
    for name, ds in splits.items():
        raw = json.loads((YOUTUBE / f"{name}.json").read_text(encoding="utf-8"))
        assert len(ds) == len(raw)
        assert ds.weak_labels.shape == (len(raw), 10)
        assert ds.weak_label_names == YOUTUBE_LFS
        keys = list(raw)
        for i in (0, len(raw) // 2, len(raw) - 1):
            rec = raw[keys[i]]
            assert ds.ids[i] == keys[i] and ds.texts[i] == rec["data"]["text"]
            assert ds.gold[i] == rec["label"] and ds.weak_labels[i].tolist() == rec["weak_labels"]
    assert wrench_task(YOUTUBE).labels == ("HAM", "SPAM")


# --------------------------------------------------------------------------- errors

def _assert_message(e: InputError, *parts: str) -> str:
    msg = str(e)
    for p in parts:
        assert p in msg, (p, msg)
    assert "Fix:" in msg and e.fix
    return msg


PROJECT = """
[task]
labels = ["ham", "spam"]

[data]
{data}

[[sources]]
type = "keyword"
name = "kw_free"
keywords = ["free"]
label = "spam"

[labelmodel]
methods = ["mv"]
final = "mv"

[output]
dir = "out"
"""


def _pipeline_fails(tmp_path: Path, data: str, exc=DataError) -> InputError:
    """Running a project over the bad data raises ``exc`` and writes nothing."""
    proj = tmp_path / "polarlab.toml"
    proj.write_text(PROJECT.format(data=data), encoding="utf-8")
    with pytest.raises(exc) as ei:
        run(load_project(proj), progress=False)
    assert not (tmp_path / "out").exists()
    return ei.value


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.csv"
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK)
    _assert_message(ei.value, str(p), "not found")
    _assert_message(_pipeline_fails(tmp_path, 'path = "nope.csv"'), "nope.csv", "not found")
    with pytest.raises(DataError):
        load_parquet(tmp_path / "nope.parquet", TASK)


def test_unknown_column(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("content,label\nhello,ham\n", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK, text_column="body")
    _assert_message(ei.value, str(p), "column 'body'", "content")
    _assert_message(_pipeline_fails(tmp_path, 'path = "d.csv"\ntext_column = "body"'), "d.csv", "column 'body'")


def test_empty_text(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("text,label\nhello,ham\n,spam\nbye,ham\n", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK)
    # row 1 (0-based, as in the labels file) on line 3 of the file (header is line 1)
    _assert_message(ei.value, str(p), "row 1 (line 3)", "column 'text'", "empty text")
    _assert_message(_pipeline_fails(tmp_path, 'path = "d.csv"'), "d.csv", "row 1 (line 3)")
    q = tmp_path / "d.jsonl"
    q.write_text('{"text": "ok"}\n{"text": "   "}\n', encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_jsonl(q, TASK)
    _assert_message(ei.value, str(q), "row 1 (line 2)", "column 'text'")
    for dtype in ("str", object):  # Arrow-backed strings are checked vectorised, objects row by row
        frame = pd.DataFrame({"body": pd.array(["a", "b", None, "c"] if dtype is object else ["a", "b", " ", "c"],
                                               dtype=dtype)})
        with pytest.raises(DataError) as ei:
            from_pandas(frame, TASK, text_column="body", source="frame.parquet")
        _assert_message(ei.value, "frame.parquet", "row 2", "column 'body'")


def test_non_utf8_file(tmp_path: Path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes("text,label\nhello,ham\ncaf\u00e9 cr\u00e8me,spam\n".encode("latin-1"))
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK)
    _assert_message(ei.value, str(p), "not UTF-8", "line 3", "0xe9", "iconv")
    _assert_message(_pipeline_fails(tmp_path, 'path = "latin.csv"'), "latin.csv", "not UTF-8")


def test_gold_label_not_in_task(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("text,label\nhello,ham\nbuy now,eggs\n", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK)
    _assert_message(ei.value, str(p), "row 1 (line 3)", "column 'label'", "'eggs'", "ham", "spam")
    _assert_message(_pipeline_fails(tmp_path, 'path = "d.csv"'), "d.csv", "'eggs'")
    with pytest.raises(DataError) as ei:  # an index out of range as well
        from_pandas(pd.DataFrame({"text": ["x"], "label": [2]}), TASK, source="frame")
    _assert_message(ei.value, "row 0", "column 'label'")


def test_line_numbers_count_multi_line_cells_and_blank_lines(tmp_path: Path) -> None:
    """A quoted cell with line breaks (common in comment exports) or a blank line: the message names the line
    the record starts on in an editor, not row + 2."""
    p = tmp_path / "d.csv"
    p.write_text('id,text\nx,"first\nsecond\nthird"\n\ny,b\nx,"c\nd"\n', encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK, id_column="id")
    _assert_message(ei.value, str(p), "row 2 (line 7)", "duplicate id 'x'", "row 0", "leave the id column out")
    q = tmp_path / "e.csv"
    q.write_text('text,label\n"one\ntwo",ham\n"",spam\n', encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(q, TASK)
    _assert_message(ei.value, str(q), "row 1 (line 4)", "empty text")


def test_duplicate_ids_empty_and_broken_files(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("id,text\nx,a\ny,b\nx,c\n", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(p, TASK, id_column="id")
    _assert_message(ei.value, str(p), "row 2 (line 4)", "duplicate id 'x'", "row 0")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_csv(empty, TASK)
    _assert_message(ei.value, str(empty), "empty")
    broken = tmp_path / "broken.parquet"
    broken.write_text("text\nnot parquet\n", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_parquet(broken, TASK)
    _assert_message(ei.value, str(broken), "Parquet")
    bad_json = tmp_path / "b.jsonl"
    bad_json.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError) as ei:
        load_jsonl(bad_json, TASK)
    _assert_message(ei.value, str(bad_json), "line 2", "invalid JSON")
    with pytest.raises(DataError) as ei:
        load_table(tmp_path / "d.xlsx", TASK)
    _assert_message(ei.value, "d.xlsx", ".xlsx")


def test_wrench_weak_labels_length_mismatch_within_split(tmp_path: Path) -> None:
    d = _write_wrench(tmp_path / "w", {"train": {
        "0": {"data": {"text": "a"}, "label": 0, "weak_labels": [0, -1, 1]},
        "1": {"data": {"text": "b"}, "label": 1, "weak_labels": [1, -1]},
    }}, {"0": "ham", "1": "spam"})
    with pytest.raises(DataError) as ei:
        load_wrench(d)
    _assert_message(ei.value, str(d / "train.json"), "row 1", "column 'weak_labels'", "2 weak labels", "3")
    with pytest.raises(DataError):
        load_wrench_split(d / "train.json", TASK)
    _assert_message(_pipeline_fails(tmp_path, 'wrench = "w"'), "train.json", "row 1")


def test_wrench_weak_labels_length_mismatch_across_splits(tmp_path: Path) -> None:
    d = _write_wrench(tmp_path / "w", {
        "train": {"0": {"data": {"text": "a"}, "label": 0, "weak_labels": [0, -1, 1]}},
        "test": {"0": {"data": {"text": "b"}, "label": 1, "weak_labels": [1, -1]}},
    }, {"0": "ham", "1": "spam"})
    with pytest.raises(DataError) as ei:
        load_wrench(d)
    _assert_message(ei.value, str(d), "column 'weak_labels'", "'train': 3", "'test': 2")
    _assert_message(_pipeline_fails(tmp_path, 'wrench = "w"'), "column 'weak_labels'")


def test_wrench_vote_out_of_range_and_missing_dir(tmp_path: Path) -> None:
    d = _write_wrench(tmp_path / "w", {"train": {"7": {"data": {"text": "a"}, "label": 0, "weak_labels": [0, 5]}}},
                      {"0": "ham", "1": "spam"})
    with pytest.raises(DataError) as ei:
        load_wrench(d)
    _assert_message(ei.value, "train.json", "row 7", "weak label 5")
    with pytest.raises(DataError) as ei:
        load_wrench(tmp_path / "missing")
    _assert_message(ei.value, "missing", "not found")


def test_loaded_frames_are_plain_and_aligned(tmp_path: Path) -> None:
    """Every loader yields the same core columns in the same order, ready for sources."""
    p = tmp_path / "d.csv"
    pd.DataFrame({"text": ["x", "y"], "label": ["spam", "ham"]}).to_csv(p, index=False)
    ds = load_csv(p, TASK)
    assert list(ds.frame.columns) == ["id", "text", "label"]
    assert ds.frame["label"].dtype == np.int64
    assert ds.arrow("text").to_pylist() == ["x", "y"]
    with pytest.raises(DataError) as ei:
        ds.arrow("nope")
    _assert_message(ei.value, "column 'nope'")


def test_misspelt_label_column_warns_that_no_split_has_gold(tmp_path: Path) -> None:
    from test_project import make_project

    p = make_project(tmp_path)
    p.write_text(p.read_text().replace('label_column = "gold"', 'label_column = "glod"'))
    with pytest.warns(UserWarning, match=r"label_column = 'glod' gives no gold .*'gold'"):
        splits = load_project(p).load_splits()
    assert all((ds.gold < 0).all() for ds in splits.values())
    p.write_text(p.read_text().replace('label_column = "glod"', 'label_column = "gold"'))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_project(p).load_splits()                   # gold in the files: no warning


def test_the_cli_shows_a_warning_as_one_line(tmp_path: Path) -> None:
    """On the command line a warning is ``warning: ...`` on one line, not Python's form with polarlab's file,
    line number and source line (which reads like a crash)."""
    import os
    import subprocess
    import sys

    from test_project import make_project

    p = make_project(tmp_path)
    p.write_text(p.read_text().replace('label_column = "gold"', 'label_column = "glod"'))
    src = str(Path(__file__).resolve().parents[1] / "src")
    # a real process: pytest records warnings, so only there is the printed form the user's
    r = subprocess.run([sys.executable, "-c", "from polarlab.cli.main import app; app()", "analyze", str(p)],
                       env={**os.environ, "PYTHONPATH": src, "PYTHONWARNINGS": ""}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: [data] label_column = 'glod'"), r.stderr
    assert "did you mean 'gold'?" in lines[0] and "project.py" not in r.stderr and "UserWarning" not in r.stderr

"""``polarlab endmodel / export / import / report / predict`` on a real project (the bundled demo data,
rules only), in-process through typer's CliRunner."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from polarlab.cli import main as cli
from polarlab.data.demo import DEMO_PROJECT

runner = CliRunner()


def demo_project(tmp_path: Path, limit: int = 60) -> Path:
    """The demo project without its LLM source, MV + Snorkel, ``limit`` rows per split."""
    folder = tmp_path / "proj"
    shutil.copytree(Path(DEMO_PROJECT).parent, folder)
    text = (folder / "polarlab.toml").read_text(encoding="utf-8")
    text = text[:text.index('[[sources]]\ntype = "llm"')] + text[text.index("[labelmodel]"):]
    text = text[:text.index("[labelmodel]")] + (
        '[labelmodel]\nmethods = ["mv", "snorkel"]\nfinal = "snorkel"\n\n'
        '[output]\nlabels = "labels.csv"\ndir = "out"\n\n[project]\nstate_dir = "state"\n')
    text = text.replace('label_column = "CLASS"', f'label_column = "CLASS"\nlimit = {limit}')
    (folder / "polarlab.toml").write_text(text, encoding="utf-8")
    return folder / "polarlab.toml"


def ok(args: list[str]) -> str:
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_commands_refuse_bad_input_before_work(tmp_path: Path) -> None:
    p = demo_project(tmp_path)
    r = runner.invoke(cli.app, ["export", str(p), "--format", "xlsx"])
    assert r.exit_code == 2 and "unknown export format 'xlsx'" in r.stderr and "Fix:" in r.stderr
    r = runner.invoke(cli.app, ["export", str(p)])                    # not run yet
    assert r.exit_code == 2 and "has not been run" in r.stderr
    r = runner.invoke(cli.app, ["predict", str(tmp_path), str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "x.csv: no such file" in r.stderr
    (tmp_path / "x.csv").write_text("text\nhello\n", encoding="utf-8")
    r = runner.invoke(cli.app, ["predict", str(tmp_path), str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "endmodel.json" in r.stderr
    r = runner.invoke(cli.app, ["endmodel", str(p), "--model", "forest"])
    assert r.exit_code == 2 and "unknown end model 'forest'" in r.stderr
    r = runner.invoke(cli.app, ["report", str(p), "--slices", str(tmp_path / "nope.py")])
    assert r.exit_code == 2 and "nope.py" in r.stderr and "not found" in r.stderr


SLICES = """
from polarlab.slicing import slicing_function

@slicing_function()
def short_comment(x):
    return len(x.text.split()) < 5

@slicing_function()
def has_link(x):
    return "http" in x.text.lower()
"""


def test_report_with_slices(tmp_path: Path) -> None:
    p = demo_project(tmp_path)
    (tmp_path / "sf.py").write_text(SLICES, encoding="utf-8")
    ok(["run", str(p), "--no-progress"])
    assert "wrote the report" in ok(["report", str(p), "--slices", str(tmp_path / "sf.py")])
    page = (p.parent / "out" / "report.html").read_text(encoding="utf-8")
    section = page[page.index("<h2>Slices</h2>"):page.index("<h2>Correction</h2>")]
    import re

    from polarlab.project import load_project

    splits = load_project(p).load_splits()
    rows = re.findall(r"<tr><td>([a-z_]+)</td><td>(\d+)</td>", section)
    expected = []
    for split, ds in splits.items():
        assert f"<h3>{split}</h3>" in section
        short = sum(len(t.split()) < 5 for t in ds.frame["text"])
        link = sum("http" in t.lower() for t in ds.frame["text"])
        expected += [("overall", str(len(ds))), ("short_comment", str(short)), ("has_link", str(link))]
    assert rows == expected


@pytest.mark.slow
def test_endmodel_export_import_report_predict(tmp_path: Path) -> None:
    p = demo_project(tmp_path)
    out = p.parent / "out"
    ok(["run", str(p), "--no-progress"])
    text = ok(["endmodel", str(p), "--self-training"])
    assert "trained logreg on" in text and "self-training: kept round" in text and "test: acc =" in text
    meta = json.loads((out / "endmodel" / "endmodel.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ["ham", "spam"] and meta["evaluation"]["split"] == "test"
    assert meta["trained_on"]["split"] == "train" and meta["self_training"]["stop_reason"]

    for fmt in ("csv", "jsonl", "parquet", "hf", "label-studio", "argilla"):
        assert f"({fmt}, labels from the state" in ok(["export", str(p), "--format", fmt])
    labels = pd.read_csv(out / "labels.csv")                              # the run's file is untouched
    assert "vote_keyword_my" in labels.columns and "provenance" not in labels.columns

    # a Label Studio round trip: annotate two exported tasks, import them as human votes
    tasks = json.loads((out / "export" / "label_studio_tasks.json").read_text(encoding="utf-8"))
    for i, t in enumerate(tasks[:2]):
        t["id"] = i + 1
        t["annotations"] = [{"id": 10 + i, "completed_by": {"id": 1, "email": "ann@example.org"},
                             "created_at": f"2026-11-30T10:0{i}:00Z", "updated_at": f"2026-11-30T10:0{i}:00Z",
                             "was_cancelled": False,
                             "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                         "value": {"choices": ["spam"]}}]}]
    (tmp_path / "ls.json").write_text(json.dumps(tasks[:2]), encoding="utf-8")
    assert "imported 2 human answers (label-studio) from 1 people" in ok(["import", str(p), str(tmp_path / "ls.json")])
    ok(["export", str(p), "--format", "csv", "--out", str(tmp_path / "after.csv")])
    after = pd.read_csv(tmp_path / "after.csv", keep_default_na=False)
    reviewed = after[after["reviewed"].astype(str) == "True"]
    assert reviewed["id"].tolist() == [t["data"]["polarlab_id"] for t in tasks[:2]]
    assert set(reviewed["label"]) == {"spam"} and set(reviewed["label_source"]) == {"human"}
    assert json.loads(reviewed["provenance"].iloc[0])["human"][0]["annotator"] == "ann@example.org"

    ok(["endmodel", str(p)])                                              # now with the 2 reviewed rows
    meta = json.loads((out / "endmodel" / "endmodel.json").read_text(encoding="utf-8"))
    assert meta["trained_on"]["reviewed"] == 2 and meta["trained_on"]["labels_from"] == "state"
    assert "unchanged since the last run" in ok(["endmodel", str(p)])    # a stage: skipped when unchanged

    assert "wrote the report" in ok(["report", str(p)])
    page = (out / "report.html").read_text(encoding="utf-8")
    for fig in ("label_distribution", "review_progress", "confusion_matrix", "timeline"):
        assert f'data-figure="{fig}"' in page
    assert "1 people via label_studio" in page
    # the imported answers against the machine label the export showed them (the report left them out)
    agree = sum(t["data"]["shown_label"] == "spam" for t in tasks[:2])
    assert (f"Imported answers (label_studio): people confirmed the machine label the export showed them on "
            f"{agree} of 2 answers") in page

    pd.DataFrame({"text": ["subscribe to my channel", "love this song"]}).to_csv(tmp_path / "new.csv", index=False)
    assert "wrote 2 predictions" in ok(["predict", str(out / "endmodel"), str(tmp_path / "new.csv"),
                                        "--out", str(tmp_path / "pred.csv"), "--no-progress"])
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["id", "label", "label_index", "probability", "p_ham", "p_spam"]
    # new rows shaped like the project's data ([data] text_column = "CONTENT"): no --text-column needed
    assert meta["task"]["text_column"] == "CONTENT"
    pd.DataFrame({"COMMENT_ID": ["a", "b"], "CONTENT": ["subscribe to my channel", "love this song"]}).to_csv(
        tmp_path / "like_data.csv", index=False)
    assert "wrote 2 predictions" in ok(["predict", str(out / "endmodel"), str(tmp_path / "like_data.csv"),
                                        "--out", str(tmp_path / "pred2.csv"), "--no-progress"])
    assert pd.read_csv(tmp_path / "pred2.csv")["label"].tolist() == pred["label"].tolist()
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "other.csv", index=False)
    r = runner.invoke(cli.app, ["predict", str(out / "endmodel"), str(tmp_path / "other.csv"), "--no-progress"])
    assert r.exit_code == 2 and "no text column 'CONTENT'" in r.output and "--text-column" in r.output


def test_predict_ids_from_the_project_id_column(tmp_path: Path) -> None:
    """The end model keeps the project's [data] id_column: new rows that have it get those ids; a file without
    it gets row numbers and one line saying so; --id-column still chooses."""
    from test_project import make_project

    p = make_project(tmp_path)                      # [data] id_column = "cid", text_column = "body"
    ok(["endmodel", str(p)])
    model = str(tmp_path / "out" / "endmodel")
    assert json.loads((tmp_path / "out" / "endmodel" / "endmodel.json").read_text(encoding="utf-8"))[
        "id_column"] == "cid"
    pd.DataFrame({"cid": ["n7", "n9"], "ref": ["r1", "r2"], "body": ["free gift card", "great song"]}).to_csv(
        tmp_path / "new.csv", index=False)
    r = runner.invoke(cli.app, ["predict", model, str(tmp_path / "new.csv"), "--out", str(tmp_path / "a.csv"),
                                "--no-progress"])
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert pd.read_csv(tmp_path / "a.csv")["id"].tolist() == ["n7", "n9"]
    r = runner.invoke(cli.app, ["predict", model, str(tmp_path / "new.csv"), "--out", str(tmp_path / "b.csv"),
                                "--id-column", "ref", "--no-progress"])
    assert r.exit_code == 0 and pd.read_csv(tmp_path / "b.csv")["id"].tolist() == ["r1", "r2"]
    # a plain "text" column (not the project's "body") and no "cid": both fall back
    pd.DataFrame({"text": ["free gift card", "great song"]}).to_csv(tmp_path / "no_ids.csv", index=False)
    r = runner.invoke(cli.app, ["predict", model, str(tmp_path / "no_ids.csv"), "--no-progress"])
    assert r.exit_code == 0, r.output
    note = r.stderr.strip().splitlines()
    assert len(note) == 1 and "no id column 'cid'" in note[0] and "row numbers" in note[0], r.stderr
    first = r.stdout.splitlines()[1].split()                 # the printed table: header, then row 0
    assert first[0] == "0" and first[1] in ("ham", "spam")
    r = runner.invoke(cli.app, ["predict", model, str(tmp_path / "no_ids.csv"), "--id-column", "ref"])
    assert r.exit_code == 2 and "no id column 'ref'" in r.stderr
    from polarlab.endmodel import load_end_model, predict_frame

    with pytest.warns(UserWarning, match="no id column 'cid'"):         # the Python API: a warning
        assert predict_frame(load_end_model(model), tmp_path / "no_ids.csv", progress=False)["id"].tolist() == [
            "0", "1"]

"""The ``polarlab`` command line, run in-process with typer's CliRunner on real projects."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from polarlab.cli import main as cli

from test_project import SOURCE_NAMES, TEST, TRAIN, make_project

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide stdout so table cells are not cut ("keywo…"); stderr keeps rich's default 80 columns."""
    monkeypatch.setattr(cli.console, "width", 240)


def test_demo_runs_and_writes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    # --no-llm --limit keep it quick; the full command (with the embedded LLM) is the slow test below
    args = ["demo", "--out", str(out), "--no-progress", "--no-llm", "--limit", "60"]
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "sources on train" in text and "label quality" in text
    for name in ("keyword_subscribe", "regex_link", "spam_terms", "short_comment", "snorkel_song"):
        assert name in text  # a row of the analysis table
    for method in ("mv", "snorkel", "dawid_skene"):
        assert method in text  # a row of the metrics table
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    labels = pd.read_csv(out / "labels.csv", keep_default_na=False)
    assert set(labels["split"]) == {"train", "test"} and set(labels["label"]) <= {"ham", "spam"}
    assert metrics["final"] in metrics["metrics"] and f"wrote labels: {out / 'labels.csv'}" in text
    assert (out / "analysis.csv").exists()


def test_run_broken_project_exits_2_with_one_line(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    p.write_text(p.read_text(encoding="utf-8").replace('id_column = "cid"', 'id_column = "cid"\ncolour = "red"'),
                 encoding="utf-8")
    r = runner.invoke(cli.app, ["run", str(p), "--no-progress"])
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err  # one line even past 80 columns
    assert err.startswith("error: ")
    assert str(p) in err and "key 'data.colour': unknown key 'colour'" in err and "[data]" in err and "Fix:" in err  # [data] not eaten
    assert "Traceback" not in r.output and r.stdout == ""
    assert not (tmp_path / "out").exists()


def test_run_bad_data_exits_2(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    (tmp_path / "test.csv").write_bytes("cid,body,gold,author\nx,caf\xe9,ham,a\n".encode("latin-1"))
    r = runner.invoke(cli.app, ["run", str(p), "--no-progress"])
    assert r.exit_code == 2
    assert "not UTF-8" in r.stderr and "test.csv" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(cli.app, ["run", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "project file not found" in r.stderr


def test_run_good_project(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    out = tmp_path / "elsewhere"
    r = runner.invoke(cli.app, ["run", str(p), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert sorted(x.name for x in out.iterdir()) == ["analysis.csv", "labels.csv", "manifest.json", "metrics.json"]
    assert not (tmp_path / "out").exists()
    for name in SOURCE_NAMES:
        assert name in r.stdout
    assert "mv *" in r.stdout and f"wrote metrics: {out / 'metrics.json'}" in r.stdout
    assert len(pd.read_csv(out / "labels.csv")) == len(TRAIN) + len(TEST)


def test_piped_output_opens_with_the_report_not_blank_lines(tmp_path: Path) -> None:
    """Progress bars on (the default) and standard output not a terminal (a pipe, a CI log): no bar is drawn,
    so none leaves an empty line before the report (a bar per source pass did)."""
    p = make_project(tmp_path)
    r = runner.invoke(cli.app, ["run", str(p)])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].strip().startswith("sources on train"), r.stdout[:200]


def test_analyze(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    r = runner.invoke(cli.app, ["analyze", str(p)])
    assert r.exit_code == 0, r.output
    assert "sources on train" in r.stdout
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in r.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == set(SOURCE_NAMES)
    # polarity, coverage on train (5 rows): kw_check 1, rx_link 2, terms 3 (ham and spam), author_bot 1
    assert rows["terms"][:2] == ["0,1", "0.600"] and rows["rx_link"][:2] == ["1", "0.400"]
    assert not (tmp_path / "out").exists()  # analyze writes nothing
    r = runner.invoke(cli.app, ["analyze", str(p), "--split", "test"])
    assert r.exit_code == 0 and "sources on test" in r.stdout
    r = runner.invoke(cli.app, ["analyze", str(p), "--split", "nope"])
    assert r.exit_code == 2 and "no split 'nope'" in r.stderr and "['test', 'train']" in r.stderr


def test_ctrl_c_says_what_is_kept_and_a_rerun_finishes(tmp_path: Path) -> None:
    """Ctrl-C (KeyboardInterrupt) while a source is applied: exit 130 with one line saying what is kept, no
    traceback; the same command then runs to the end."""
    p = make_project(tmp_path)
    stop = tmp_path / "stop"
    stop.write_text("")
    (tmp_path / "lfs.py").write_text((tmp_path / "lfs.py").read_text() + f'''

import pathlib as _pathlib

@labeling_function()
def interrupted_once(x):
    if _pathlib.Path({str(stop)!r}).exists():
        raise KeyboardInterrupt
    return ABSTAIN
''')
    r = runner.invoke(cli.app, ["run", str(p), "--no-progress"])
    assert r.exit_code == 130 and "Traceback" not in r.output
    assert "interrupted" in r.stderr and "run the same command again" in r.stderr
    stop.unlink()
    r = runner.invoke(cli.app, ["run", str(p), "--no-progress"])
    assert r.exit_code == 0, r.output


def test_llm_line_when_every_answer_was_reused() -> None:
    from rich.console import Console

    from polarlab.cli.render import print_risk

    console = Console(record=True, width=200)
    print_risk(console, {"llm": {"gemma": {"requests": 0, "calls": 0, "seconds": 0.0},
                                 "other": {"requests": 3, "calls": 2, "cache_hits": 1}}})
    text = console.export_text()
    assert "LLM gemma: no call this run" in text and "LLM other: requests=3, calls=2, cache_hits=1" in text

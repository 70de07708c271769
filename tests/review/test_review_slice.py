"""A review targeted at a slice: the queue (and the status) hold only the slice's items."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from polarlab.cli import main as cli

from conftest import synthetic_store

runner = CliRunner()

SLICES = '''
from polarlab.slicing import slicing_function

@slicing_function()
def about_songs(x):
    return "song" in x.text

@slicing_function()
def has_link(x):
    return "www." in x.text
'''


def test_queue_restricted_to_the_scope(tmp_path):
    store = synthetic_store(tmp_path / "r.sqlite", 30, audit_share=0.2)     # rows 0, 10, 20 are audits
    scope = [3, 7, 10, 11, 25]
    store.set_meta(scope="s", scope_rows=scope)
    given = []
    for k in range(10):
        it = store.next_item(f"rev{k}")
        if it is None:
            break
        given.append(it["row"])
        store.answer(f"rev{k}", it["row"], 1)
    assert sorted(given) == scope and store.next_item("late") is None     # the audit row 10 too, nothing else
    s = store.status()
    assert s["scope"] == "s" and s["items"] == len(scope) and s["reviewed"] == len(scope)
    other = store.status(rows=[0, 1, 2], scope="t")
    assert other["scope"] == "t" and other["items"] == 3 and other["reviewed"] == 0
    store.set_meta(scope=None, scope_rows=None)              # no scope: the whole queue again
    assert store.next_item("late")["row"] not in scope and store.status()["items"] == 30


def test_cli_review_and_status_of_a_slice(review_project):
    sf = review_project.parent / "slices.py"
    sf.write_text(SLICES, encoding="utf-8")
    data = pd.read_csv(review_project.parent / "data.csv")
    in_slice = set(np.flatnonzero(data["text"].str.contains("song")).tolist())
    r = runner.invoke(cli.app, ["review", str(review_project), "--tui", "--reviewer", "tess", "--no-progress",
                                "--slices", str(sf), "--slice", "about_songs", "--budget", "50"],
                      input="1\n1\n2\n1\nq\n")
    assert r.exit_code == 0, r.output
    from polarlab.project import load_project
    from polarlab.review.session import store_path
    from polarlab.review.store import ReviewStore

    store = ReviewStore(store_path(load_project(review_project)))
    rows = {a["row"] for a in store.answers()}
    assert len(rows) == 4 and rows <= in_slice
    r = runner.invoke(cli.app, ["review", "status", str(review_project), "--json"])
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["scope"] == "about_songs" and s["items"] == len(in_slice) and s["reviewed"] == 4
    r = runner.invoke(cli.app, ["review", "status", str(review_project), "--slices", str(sf), "--slice", "has_link"])
    assert r.exit_code == 0, r.output
    n_link = int(data["text"].str.contains("www.", regex=False).sum())
    assert "slice 'has_link'" in r.stdout and f"items {n_link}:" in r.stdout


def test_cli_bad_slice_fails_before_the_run(review_project):
    sf = review_project.parent / "slices.py"
    sf.write_text(SLICES, encoding="utf-8")
    r = runner.invoke(cli.app, ["review", str(review_project), "--tui", "--no-progress", "--slice", "about_songs"])
    assert r.exit_code == 2 and "--slices and --slice go together" in r.stderr
    r = runner.invoke(cli.app, ["review", str(review_project), "--tui", "--no-progress", "--slices", str(sf),
                                "--slice", "nope"])
    assert r.exit_code == 2 and "no slicing function named" in r.stderr

"""The review store and server under concurrency (a real uvicorn server on 127.0.0.1), the CLI, the TUI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from polarlab.cli import main as cli
from polarlab.errors import ConfigError, InputError
from polarlab.review.app import ReviewServer, create_app
from polarlab.review.load import run_load
from polarlab.review.store import Conflict
from polarlab.review.tui import run_tui

from conftest import synthetic_store

runner = CliRunner()


def test_load_20_reviewers_lose_and_duplicate_nothing(tmp_path):
    """20 concurrent answer loops for a few seconds (the 60 s run is benchmarks/review_load.py)."""
    store = synthetic_store(tmp_path / "r.sqlite", 3000)
    with ReviewServer(create_app(store, "tok")) as server:
        out = run_load(server.url, "tok", store, reviewers=20, seconds=4.0)
    assert out["requests"] > 20 and out["answers_acknowledged"] > 0
    assert out["lost"] == 0 and out["duplicated"] == 0 and out["errors"] == 0
    assert out["answers_stored"] == out["answers_acknowledged"]
    reviewers = {a["reviewer"] for a in store.answers()}
    assert len(reviewers) == 20


def test_leases_undo_idempotence_and_double_review(tmp_path):
    store = synthetic_store(tmp_path / "r.sqlite", 10)
    a, b = store.next_item("ann"), store.next_item("ben")
    assert a["row"] != b["row"] and store.next_item("ann")["row"] == a["row"]   # a reload keeps the item
    with pytest.raises(Conflict):
        store.answer("ben", a["row"], 1)                    # ann holds it
    first = store.answer("ann", a["row"], 1, request_id="r1")
    assert store.answer("ann", a["row"], 1, request_id="r1") == first   # a retried request is stored once
    with pytest.raises(Conflict):
        store.answer("ann", a["row"], 0)
    with pytest.raises(InputError):
        store.answer("ben", b["row"], 7)
    assert store.undo("ann") == a["row"] and store.next_item("ann")["row"] == a["row"]
    assert store.undo("nobody") is None
    # expired leases are released
    store.lease_seconds = -1.0
    c = store.next_item("cat")
    assert store.next_item("dan")["row"] == c["row"]      # cat's lease ran out at once
    double = synthetic_store(tmp_path / "d.sqlite", 4, reviews_per_item=2)
    x, y, z = double.next_item("ann"), double.next_item("ben"), double.next_item("cat")
    assert x["row"] == y["row"] and z["row"] != x["row"]        # two reviewers per item, never three
    double.answer("ann", x["row"], 1)
    double.answer("ben", y["row"], 1)
    double.answer("cat", z["row"], 0)
    w = double.next_item("dan")
    assert w["row"] == z["row"]
    double.answer("dan", w["row"], 1)
    agree = double.agreement()
    assert agree["items"] == 2 and agree["pairwise"] == 0.5


def test_final_labels_give_a_reviewed_item_the_reviewers_risk_not_the_machines(tmp_path):
    """`review status --labels`: a reviewed item's risk is how much its reviewers disagreed (0 for one answer),
    not the machine label's risk, which stays in machine_risk."""
    store = synthetic_store(tmp_path / "d.sqlite", 4, reviews_per_item=2)
    machine_risk = np.random.default_rng(0).uniform(0, 0.5, 4)      # as synthetic_store draws them
    x, y = store.next_item("ann"), store.next_item("ben")
    store.answer("ann", x["row"], 1)
    store.answer("ben", y["row"], 0)                      # the two disagree on one item
    z = store.next_item("cat")
    store.answer("cat", z["row"], 1 - z["row"] % 2)       # one reviewer overrules the machine (label row % 2)
    f = store.final_labels().set_index("id")
    one, two = f.loc[f"x{z['row']}"], f.loc[f"x{x['row']}"]
    assert (one["source"], one["risk"], one["reviewers"]) == ("human", 0.0, "cat")
    assert one["machine_risk"] == pytest.approx(machine_risk[z["row"]]) and one["machine_risk"] > 0
    assert two["source"] == "human" and two["risk"] == 0.5
    rest = f[f["source"] == "machine"]
    assert len(rest) == 2 and (rest["risk"] == rest["machine_risk"]).all()


def test_terminal_review(tmp_path):
    store = synthetic_store(tmp_path / "r.sqlite", 5)
    keys = iter(["?", "2", "s", "1", "u", "1", "q"])
    lines = []
    n = run_tui(store, "terry", read=lambda _: next(keys), write=lines.append)
    valid = [a for a in store.answers() if a["answer"] is not None]
    assert n == 3 and len(valid) == 2 and any("number = label" in x for x in lines)
    assert [a["answer"] for a in store.answers(valid_only=False)] == [1, None, 0, 0]


def test_cli_review_tui_and_status(review_project):
    import pandas as pd

    assert runner.invoke(cli.app, ["run", str(review_project), "--no-progress"]).exit_code == 0
    in_file = pd.read_csv(review_project.parent / "out" / "labels.csv", keep_default_na=False).set_index("id")
    r = runner.invoke(cli.app, ["review", str(review_project), "--tui", "--reviewer", "tess", "--no-progress",
                                "--batch-size", "2", "--budget", "10", "--schedule", "list:0.1,0.2"], input="2\n1\n2\nq\n")
    assert r.exit_code == 0, r.output
    assert "3 answers stored" in r.stdout
    # each item: the labels file's label and probability, then the review model's (they may differ)
    lines = r.stdout.splitlines()
    first = next(i for i, x in enumerate(lines) if x.startswith("── item "))
    item = lines[first].split()[2]
    row = in_file.loc[item]
    shown = next(x for x in lines[first:] if "review model:" in x)
    assert shown.startswith(f"labels file: {row['label']} {float(row['probability']):.3f} · review model: "), shown
    r = runner.invoke(cli.app, ["review", "status", str(review_project), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["reviewed"] == 3 and s["items"] == 120 and s["budget_left"] == 7
    assert s["threshold"] == 0.2          # one refit after 2 answers: round 1 of list:0.1,0.2
    assert 0 <= s["estimate"]["lower"] <= s["estimate"]["accuracy"] <= s["estimate"]["upper"] <= 1
    out = review_project.parent / "final.csv"
    r = runner.invoke(cli.app, ["review", "status", str(review_project), "--labels", str(out)])
    assert r.exit_code == 0 and "estimated accuracy" in r.stdout and "budget: 10 reviews, 7 left" in r.stdout

    final = pd.read_csv(out, keep_default_na=False)
    assert len(final) == 120 and (final["source"] == "human").sum() == 3
    assert set(final.loc[final["source"] == "human", "reviewers"]) == {"tess"}
    assert set(final["label"]) <= {"ham", "spam"}


def test_cli_status_without_review_is_one_clear_error(review_project):
    r = runner.invoke(cli.app, ["review", "status", str(review_project)])
    assert r.exit_code == 2 and "no review has started" in r.stderr and "Fix:" in r.stderr


def test_session_refits_and_resumes(review_project):
    from polarlab.project import load_project
    from polarlab.review.session import ReviewConfig, open_session

    proj = load_project(review_project)
    s = open_session(proj, ReviewConfig(batch_size=3, audit_share=0.2, budget=30, accepted="source"))
    # every item carries the project's final label and probability (the labels file's) beside the review model's
    from polarlab.export.project import load_project_labels

    final = load_project_labels(proj)
    P = final.data.proba[final.rows("train")]
    shown = [it.payload["labels_file"] for it in s.store.items()]
    assert [f["label"] for f in shown] == P.argmax(1).tolist()
    np.testing.assert_allclose([f["probability"] for f in shown], P.max(1))
    gold = {str(i): int(v) for i, v in zip(proj.load_splits()["train"].frame["id"], proj.load_splits()["train"].gold)}
    w0 = s.loop.harmonizer_.weights_.copy()
    assert s.store.meta()["estimator"] == s.loop.estimator == "evidence"    # the status reads the loop's estimator
    for _ in range(3):
        it = s.store.next_item("rae")
        s.store.answer("rae", it["row"], gold[it["id"]])
    served_priority = s.loop.priority_.copy()           # the priority the queue served these answers by
    assert s.sync() and s.loop.round_ == 1
    # an audit at or above the lowest priority the queue has served would have been reviewed by now: it leaves the
    # estimate (``audit_passed_``); the others stay
    served = np.flatnonzero((s.loop.human_ >= 0) & ~s.loop.audited_)
    reached = s.loop.audited_ & (served_priority >= served_priority[served].min())
    assert (s.loop.audit_passed_ == reached).all()
    assert s.loop.estimate("all").n_audited == int((s.loop.audited_ & ~reached).sum())
    # one of the three was a random check (kept out of the fit); the others became the human source, and the
    # labels accepted so far one more source (accepted = "source")
    locked = s.loop.locked_.copy()
    assert (locked >= 0).any() and (s.store.locked_labels(len(locked)) == locked).all()
    assert s.loop.audited_.sum() == 1 and len(s.loop.harmonizer_.weights_) == len(w0) + 2
    assert s.loop.harmonizer_.weights_[-1] == s.loop.harmonizer_.weights_.max()
    assert s.store.meta()["threshold"] == pytest.approx(s.config.schedule(1))
    # a new session over the same store takes the answers back, and the labels accepted before with the round
    s2 = open_session(proj, ReviewConfig(batch_size=3, audit_share=0.2, budget=30, accepted="source"))
    assert (s2.loop.human_ >= 0).sum() == 3 and s2.loop.round_ == 1
    keep = (locked >= 0) & (s2.loop.human_ < 0)
    assert (s2.loop.locked_[keep] == locked[keep]).all() and (s2.loop.machine_labels()[keep] == locked[keep]).all()
    # "free" (the default before "source"): nothing is kept, the refit has the rules and the human source only
    s3 = open_session(proj, ReviewConfig(batch_size=3, audit_share=0.2, budget=30, accepted="free"))
    assert (s3.loop.locked_ == -1).all() and len(s3.loop.harmonizer_.weights_) == len(w0) + 1
    with pytest.raises(ConfigError, match="accepted"):
        ReviewConfig(accepted="frozen")


def test_cli_busy_port_fails_before_running_the_project(review_project):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(cli.app, ["review", str(review_project), "--port", str(port), "--no-browser"])
    assert r.exit_code == 2 and "cannot listen on" in r.stderr and "--port" in r.stderr
    assert not (review_project.parent / ".polarlab").exists()


@pytest.mark.slow
def test_cli_serves_with_a_token(review_project, tmp_path):
    """`polarlab review PROJECT --port 0 --no-browser` in a subprocess: the printed URL works, others are refused."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    import httpx

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "polarlab.cli.main", "review", str(review_project), "--port", "0",
                             "--no-browser", "--no-progress", "--token", "cli-token"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url, t0 = None, time.monotonic()
        while url is None and time.monotonic() - t0 < 240:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"open (http://127\.0\.0\.1:\d+)/\?token=cli-token", line)
            url = m.group(1) if m else None
        assert url, "the server did not print its URL"
        assert httpx.get(f"{url}/api/status").status_code == 403
        s = httpx.get(f"{url}/api/status", headers={"X-Review-Token": "cli-token"}).json()
        assert s["items"] == 120 and s["reviewed"] == 0
        item = httpx.get(f"{url}/api/next", params={"reviewer": "kim"}, headers={"X-Review-Token": "cli-token"}).json()
        r = httpx.post(f"{url}/api/answer", json={"reviewer": "kim", "row": item["item"]["row"], "label": 0},
                       headers={"X-Review-Token": "cli-token"})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)        # a killed server loses nothing that was acknowledged
        proc.wait(timeout=30)
    r = runner.invoke(cli.app, ["review", "status", str(review_project), "--json"])
    assert json.loads(r.stdout.strip().splitlines()[-1])["reviewed"] == 1


def test_status_counts_accepted_as_the_loop_does(review_project):
    """`review status` (and the page, via /api/status) count and estimate the accepted items by the loop's own
    acceptance score (``priority_``: the risk recalibrated on the answers), not by the plain risk."""
    from polarlab.project import load_project
    from polarlab.review.schedule import ThresholdSchedule
    from polarlab.review.session import ReviewConfig, open_session

    proj = load_project(review_project)
    config = ReviewConfig(batch_size=8, audit_share=0.0, budget=40, schedule=ThresholdSchedule("list", values=(0.3,)))
    s = open_session(proj, config)
    for _ in range(8):        # every answer says the machine label is wrong: the recalibrated risk rises
        it = s.store.next_item("rae")
        s.store.answer("rae", it["row"], 1 - it["label"])
    assert s.sync()
    lp = s.loop
    accepted = lp.accepted()
    by_risk = int((~lp.reviewed_ & (lp.risk_ < lp.threshold_)).sum())
    assert by_risk != int(accepted.sum())         # the two readings disagree here (what the test is about)
    st = s.store.status()
    assert st["accepted"] == int(accepted.sum())
    assert st["remaining"] == int((~lp.reviewed_ & ~accepted).sum())
    assert st["estimate_accepted"]["n"] == int(accepted.sum())      # the estimate's population: the same items
    # a new session over the same store (resumed) reports the same
    s2 = open_session(proj, config)
    assert s2.store.status()["accepted"] == int(s2.loop.accepted().sum())


def test_a_store_written_before_the_acceptance_score_opens_and_counts_by_risk(tmp_path):
    import sqlite3

    from polarlab.review.store import ReviewStore

    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
    CREATE TABLE review_items(row INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        priority REAL NOT NULL, label INTEGER NOT NULL, risk REAL NOT NULL, payload TEXT NOT NULL,
        answered INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX review_items_scores ON review_items(row, risk, label);
    CREATE TABLE review_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO review_meta VALUES ('threshold', '0.2'), ('labels', '["a", "b"]');
    INSERT INTO review_items VALUES (0, 'x0', 'risk', 2, 0, 0.1, '{}', 0), (1, 'x1', 'risk', 1, 1, 0.3, '{}', 0);
    """)
    con.close()
    store = ReviewStore(path)
    assert store.status()["accepted"] == 1                      # NULL score: the risk
    store.update_scores(np.arange(2), np.array([0, 1]), np.array([0.1, 0.3]), np.array([2.0, 1.0]),
                        np.array([0.9, 0.7]), accept_scores=np.array([0.25, 0.15]))
    assert [it.accept_score for it in store.items()] == [0.25, 0.15]
    assert store.status()["accepted"] == 1 and store.status()["remaining"] == 1
    store.update_scores(np.arange(2), np.array([0, 1]), np.array([0.1, 0.3]), np.array([2.0, 1.0]),
                        np.array([0.9, 0.7]), accept_scores=np.array([0.25, 0.3]))
    assert store.status()["accepted"] == 0          # by the score, not by the risk (0.1 < 0.2)


def test_the_page_and_the_terminal_stop_when_the_budget_is_spent(tmp_path):
    """The stopping rule ends the review in the app and the TUI (before: items were served past the budget, with no
    word of it); an undo reopens the budget; the message says what to do."""
    import httpx

    store = synthetic_store(tmp_path / "r.sqlite", 20)
    store.set_meta(budget=2)
    head = {"X-Review-Token": "tok"}
    with ReviewServer(create_app(store, "tok", status_ttl=0.0)) as server:
        for _ in range(2):
            item = httpx.get(f"{server.url}/api/next", params={"reviewer": "pat"}, headers=head).json()["item"]
            assert httpx.post(f"{server.url}/api/answer", json={"reviewer": "pat", "row": item["row"], "label": 1},
                              headers=head).status_code == 200
        done = httpx.get(f"{server.url}/api/next", params={"reviewer": "pat"}, headers=head).json()
        assert done["done"] and done["item"] is None and done["stop"] == "budget"
        assert "budget is spent (2 reviews)" in done["message"] and "--budget" in done["message"]
        assert httpx.post(f"{server.url}/api/undo", json={"reviewer": "pat"}, headers=head).json()["row"] is not None
        again = httpx.get(f"{server.url}/api/next", params={"reviewer": "pat"}, headers=head).json()
        assert again["item"] is not None and again["stop"] is None
        refused = httpx.get(f"{server.url}/api/status")
        assert refused.status_code == 403 and "Fix:" in refused.json()["error"]
    lines = []
    keys = iter(["1", "2", "1", "q"])
    n = run_tui(store, "terry", read=lambda _: next(keys), write=lines.append)
    assert n == 1 and "budget is spent" in lines[-1]          # terry's one answer spends what pat's undo freed
    assert len([a for a in store.answers() if a["answer"] is not None]) == 2


def test_the_page_stops_when_the_target_is_reached(tmp_path):
    import httpx

    store = synthetic_store(tmp_path / "r.sqlite", 200)
    # risks 0-0.5, no answer yet: "risk_prior"'s lower bound (~0.41, the calibrated risk alone) is above 0.3
    store.set_meta(target=0.3, estimator="risk_prior")
    assert store.status()["stop"] == "target"
    with ReviewServer(create_app(store, "tok")) as server:
        done = httpx.get(f"{server.url}/api/next", params={"reviewer": "pat"}, headers={"X-Review-Token": "tok"}).json()
    assert done["stop"] == "target" and "reached the target" in done["message"] and "--target" in done["message"]
    lines = []
    assert run_tui(store, "terry", read=lambda _: "q", write=lines.append) == 0 and "reached the target" in lines[0]


def test_the_review_defaults_keep_the_accepted_labels_and_weigh_the_audits():
    """``accepted="source"`` and ``estimator="evidence"`` are the defaults of the loop, the session and the CLI (rule
    R42, docs/results/review.md; before: ``"free"`` and ``"risk_prior"``)."""
    import inspect

    from polarlab.cli import review as review_cli
    from polarlab.review import SelfPacedReview
    from polarlab.review.estimate import DEFAULT_ESTIMATOR
    from polarlab.review.rounds import DEFAULT_ACCEPTED
    from polarlab.review.session import ReviewConfig

    assert (DEFAULT_ACCEPTED, DEFAULT_ESTIMATOR) == ("source", "evidence")
    sp, config = SelfPacedReview(2), ReviewConfig()
    assert (sp.accepted_mode, sp.estimator) == (config.accepted, config.estimator) == (DEFAULT_ACCEPTED, DEFAULT_ESTIMATOR)
    assert inspect.signature(review_cli.serve).parameters["accepted"].default.default == DEFAULT_ACCEPTED
    with pytest.raises(ConfigError, match="estimator"):
        ReviewConfig(estimator="bayes")


def test_the_status_reads_the_reviews_estimator_and_the_default_needs_audits_to_stop(tmp_path):
    """The store's status (the page, the terminal, ``review status``) reads the estimator the session wrote; a review
    without one gets the default, ``"evidence"``: with no audit its lower bound is about 0, so the target cannot stop
    the review (before: the calibrated risk alone stopped it, lower bound ~0.41 against a target of 0.3)."""
    from polarlab.review.estimate import DEFAULT_ESTIMATOR

    store = synthetic_store(tmp_path / "r.sqlite", 200)
    store.set_meta(target=0.3)
    s = store.status()
    assert DEFAULT_ESTIMATOR == "evidence" and s["estimate"]["bound"] == "audits" and s["estimate"]["lower"] < 0.3
    assert s["stop"] is None
    store.set_meta(estimator="risk_prior")
    assert store.status()["stop"] == "target" and store.status()["estimate"]["lower"] > 0.3


@pytest.mark.parametrize("option, flag", [(["--target", "1.5"], "--target"), (["--budget", "0"], "--budget"),
                                          (["--audit-share", "1"], "--audit-share"), (["--accepted", "x"], "--accepted"),
                                          (["--batch-size", "0"], "--batch-size"),
                                          (["--schedule", "linear:0.1:0.1:1.5"], "--schedule"),
                                          (["--schedule", "list:"], "--schedule")])
def test_cli_names_the_option_of_a_bad_review_setting(review_project, option, flag):
    """One line naming the option the user typed (before: ``key 'review.target'``, a key no project file has)."""
    # --tui: were the setting taken, the review would end at "q" rather than serve on
    r = runner.invoke(cli.app, ["review", str(review_project), "--tui", "--reviewer", "ty", *option], input="q\n")
    assert r.exit_code == 2, r.output
    assert f"key '{flag}'" in r.stderr and "Fix:" in r.stderr and "review." not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_the_report_after_review_and_rerun_says_what_people_found(review_project):
    """Review, `polarlab run` (reviewed rows now carry the people's labels), `polarlab report`: the report compares
    the answers with the label the review showed, not with the final label (before: every reviewed label "right",
    1.000, once the run had read the answers), and gives the review's status and estimate as `review status` does."""
    import html
    import re

    from polarlab.project import load_project
    from polarlab.review.session import ReviewConfig, open_session

    assert runner.invoke(cli.app, ["run", str(review_project), "--no-progress"]).exit_code == 0
    s = open_session(load_project(review_project), ReviewConfig(batch_size=50, audit_share=0.0, budget=20))
    for _ in range(6):        # every answer says the shown label is wrong
        it = s.store.next_item("rae")
        s.store.answer("rae", it["row"], 1 - it["label"])
    status = s.store.status()
    assert runner.invoke(cli.app, ["run", str(review_project), "--no-progress"]).exit_code == 0
    r = runner.invoke(cli.app, ["report", str(review_project)])
    assert r.exit_code == 0, r.output
    page = html.unescape((review_project.parent / "out" / "report.html").read_text(encoding="utf-8"))
    assert "on 0 of 6 reviewed items: 0.000 (95% Wilson interval" in page
    e = status["estimate"]
    assert (f"reviewed 6 (random checks 0), accepted {status['accepted']}, remaining {status['remaining']}; errors "
            f"found 6; budget 20 reviews, 14 left" in page)
    assert re.search(rf"unreviewed labels: {100 * e['accuracy']:.1f}% \[{100 * e['lower']:.1f}%, "
                     rf"{100 * e['upper']:.1f}%\] \(90% interval", page)


def test_the_counts_after_an_answer_include_it_however_fast_the_answers_come(tmp_path):
    """The status is shared between pages for `status_ttl` seconds, so a page that answered within that time was
    shown counts from before its answer (and kept them until its next action). An answer's and an undo's response
    carry `as_of`; `/api/status?after=<as_of>` counts that change, one computation serving every waiting page."""
    import httpx

    store = synthetic_store(tmp_path / "r.sqlite", 20)
    head = {"X-Review-Token": "tok"}
    with ReviewServer(create_app(store, "tok", status_ttl=600.0)) as server:
        get = lambda path, **p: httpx.get(f"{server.url}{path}", params=p, headers=head).json()   # noqa: E731
        post = lambda path, body: httpx.post(f"{server.url}{path}", json=body, headers=head).json()  # noqa: E731
        assert get("/api/status")["reviewed"] == 0
        for n in (1, 2, 3):
            item = get("/api/next", reviewer="pat")["item"]
            stored = post("/api/answer", {"reviewer": "pat", "row": item["row"], "label": 1})
            assert get("/api/status")["reviewed"] == n - 1               # the shared status, within its 600 s
            fresh = get("/api/status", after=stored["as_of"])
            assert fresh["reviewed"] == n and fresh["budget_left"] == 20 - n and fresh["as_of"] >= stored["as_of"]
            assert get("/api/status")["reviewed"] == n                   # ... which it now is, for every page
        undone = post("/api/undo", {"reviewer": "pat"})
        assert get("/api/status", after=undone["as_of"])["reviewed"] == 2


def test_under_the_default_estimator_enough_audits_stop_the_review_on_its_target(tmp_path):
    """With ``"evidence"`` (the default) the target stops a review once the audits support it: 0 errors in enough
    random checks lift the lower bound above a target of 0.3 (with none, the test above: it cannot stop)."""
    store = synthetic_store(tmp_path / "r.sqlite", 200, audit_share=0.5)
    store.set_meta(target=0.3)
    assert store.status()["stop"] is None
    for _ in range(40):
        it = store.next_item("pat")
        store.answer("pat", it["row"], it["row"] % 2)        # the machine label (item i's is i % 2): every audit right
    s = store.status()
    assert s["audited"] >= 10 and s["estimate"]["lower"] > 0.3 and s["stop"] == "target"

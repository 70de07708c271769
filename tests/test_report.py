"""The report page: every section rendered, opened in headless Chromium (Playwright): a screenshot is
taken, the console stays free of errors, every figure is present and decoded, nothing is fetched."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.export.provenance import HumanVote
from polarlab.report import Calibration, EndModelReport, ReportData, render, write_report
from polarlab.task import Task

TASK = Task(labels=("ham", "spam"), name="youtube")
FIGURES = {"label_distribution", "reliability_gemma", "risk_error_gemma", "correction", "review_progress",
           "confusion_matrix", "timeline"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def full_report() -> ReportData:
    rng = np.random.default_rng(0)
    risk = rng.uniform(0, 1, 300)
    err = (rng.uniform(0, 1, 300) < risk).astype(float)
    sources = pd.DataFrame({"coverage": [0.4, 0.2], "overlap": [0.1, 0.1], "conflict": [0.05, 0.02],
                            "emp_acc": [0.9, np.nan], "est_acc": [0.88, 0.7]},
                           index=pd.Index(["keyword_subscribe", "gemma"], name="source"))
    labels = pd.DataFrame({"label": ["ham", "spam", "spam", "ham"] * 5, "split": ["train"] * 12 + ["test"] * 8})
    human = [HumanVote(str(i), i % 2, "alice" if i % 3 else "bob", f"2026-11-30T10:{i:02d}:00+00:00", "review",
                       "train") for i in range(12)]
    return ReportData(
        task=TASK, sources=sources, labels=labels,
        calibration=[Calibration("gemma", "test", risk, err, {"ece": 0.05, "r2": 0.9, "auroc": 0.8, "n": 300})],
        label_metrics={"polar": {"test": {"wrench_metric_name": "acc", "wrench_metric": 0.88, "accuracy": 0.88,
                                          "n": 250}}},
        correction={"gemma": {"test": {"slice_n": 25, "calls": 25, "llm_error_before": 0.6, "llm_error_after": 0.3,
                                       "accuracy_before": 0.8, "accuracy_after": 0.85}}},
        human=human, review_pairs=[(i % 2, (i % 2) if i < 10 else 1 - i % 2) for i in range(12)],
        llm={"gemma": {"requests": 500, "calls": 400, "cache_hits": 100, "tokens_in": 50000, "tokens_out": 400,
                       "seconds": 120.5, "cost": None}},
        end_model=EndModelReport("logreg", "test", {"wrench_metric_name": "acc", "wrench_metric": 0.9,
                                                    "accuracy": 0.9, "macro_f1": 0.89, "n": 250},
                                 np.array([[120, 10], [15, 105]]),
                                 {"rounds": [{"round": 0, "n_pseudo": 0, "heldout_agreement": 0.9, "pool_change": None},
                                             {"round": 1, "n_pseudo": 40, "heldout_agreement": 0.91,
                                              "pool_change": 0.004}],
                                  "best_round": 1, "stop_reason": "pool predictions changed on 0.4% < tol 1.0%"}),
        timeline={"load": 0.5, "sources": 2.0, "label_models": 3.0, "harmonizer": 1.2, "endmodel": 20.0, "total": 27},
        notes=["test data"])


def test_render_is_self_contained_and_escaped() -> None:
    d = full_report()
    d.title = "<script>alert(1)</script>"
    page = render(d)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert set(re.findall(r'data-figure="([^"]+)"', page)) == FIGURES
    assert not re.search(r'(src|href)="(https?:)?//', page)          # no network references
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert "0.833 (95% Wilson interval" in page                      # 10 of 12 reviewed labels agree
    empty = render(ReportData(task=TASK))
    assert "data-figure" not in empty and "no end model trained" in empty
    assert "<h2>Slices</h2>" not in page and "<h2>Slices</h2>" not in empty      # only when slices are given


def test_llm_usage_says_what_every_run_spent_when_the_last_was_cached() -> None:
    import json

    from polarlab.llm.stats import totals_over_runs

    runs = [json.dumps({"llm": {"gemma": {"calls": 501, "cache_hits": 0, "tokens_in": 9000, "tokens_out": 501,
                                          "cost": None}}}),
            json.dumps({"llm": {"gemma": {"calls": 0, "cache_hits": 501, "tokens_in": 0, "tokens_out": 0}}}),
            json.dumps({})]                                       # a run that failed before any LLM
    total = totals_over_runs(runs)
    assert total == {"gemma": {"calls": 501, "cache_hits": 501, "tokens_in": 9000, "tokens_out": 501, "cost": 0.0}}
    page = render(ReportData(task=TASK, llm={"gemma": {"requests": 501, "calls": 0, "cache_hits": 501}},
                             llm_total=total))
    assert "every run of this project" in page and "<td>501</td><td>501</td><td>9000</td>" in page


def test_render_slice_table() -> None:
    from polarlab.slicing import SliceMatrix, slice_report

    gold = np.array([0, 1, 1, 0, 1, 0])
    preds = np.array([0, 1, 0, 0, 1, 1])
    S = SliceMatrix(np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 0], [0, 1]], dtype=bool), ["short", "<odd>"],
                    [str(i) for i in range(6)])
    d = full_report()
    d.slices = {"test": slice_report(S, gold=gold, preds=preds, n_classes=2)}
    page = render(d)
    section = page[page.index("<h2>Slices</h2>"):page.index("<h2>Correction</h2>")]
    assert "<h3>test</h3>" in section and "&lt;odd&gt;" in section and "<odd>" not in section
    # one row per slice, overall first; label accuracy 4/6 overall, 2/3 on "short", 1/3 on "<odd>"
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td>", section)
    assert rows == [("overall", "6"), ("short", "3"), ("&lt;odd&gt;", "3")]
    assert "<td>0.667</td>" in section and "<td>0.333</td>" in section


def test_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    path = write_report(full_report(), tmp_path / "report.html")
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")
            figs = page.eval_on_selector_all(
                "figure", "fs => fs.map(f => [f.dataset.figure, f.querySelector('img').complete, "
                          "f.querySelector('img').naturalWidth])")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert {name for name, _, _ in figs} == FIGURES and len(figs) == len(FIGURES)
    assert all(done and width > 100 for _, done, width in figs), figs
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    shot = (tmp_path / "report.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000


def test_imported_answers_are_compared_with_the_label_the_tool_showed() -> None:
    """Imported answers (Label Studio / Argilla) had no shown label, so the review comparison left them out; they
    are compared now, marked as imported, saying which were compared with the machine label read at import."""
    from polarlab.report.collect import imported_pairs

    t = "2026-11-30T10:00:00+00:00"
    human = [HumanVote("0", 1, "ann", t, "label_studio", "train", 1, "export"),
             HumanVote("1", 0, "ann", t, "label_studio", "train", 1, "export"),
             HumanVote("2", 1, "bob", t, "argilla", "train", 1, "import"),
             HumanVote("3", 1, "bob", t, "argilla", "train", None, "people"),
             HumanVote("4", 1, "cy", t, "review", "train")]
    pairs = imported_pairs(human)
    assert pairs == [(1, 1, "export"), (1, 0, "export"), (1, 1, "import")]
    page = render(ReportData(task=TASK, human=human, imported_pairs=pairs))
    assert ("Imported answers (argilla, label_studio): people confirmed the machine label the export showed them on "
            "2 of 3 answers: 0.667") in page
    assert "For 1 of them the file did not carry the exported label" in page
    assert "1 imported answer(s) not compared: 1 on rows whose export showed the reviewers" in page

"""A linking review in headless Chromium (Playwright): a real linking run, the real server; SQLite checked after."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from conftest import LINK_DOCS, make_link_project
from test_review_browser import LAUNCH, TOKEN, open_page, wait_new_item

from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.ontology import load_ontology
from polarlab.review.app import ReviewServer, create_app
from polarlab.review.kinds import review_kind
from polarlab.review.session import ReviewConfig

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")

HTML_DOC = ("903", 'Cystic fibrosis <img src=x onerror="window.__pwned = 1"> in <b>lungs</b>.', "", ["Cystic fibrosis"])


def live_answers(db, row: int) -> list[tuple]:
    """(reviewer, answer) of the answers to ``row`` not undone, read from the review's SQLite file."""
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT reviewer, answer FROM review_answers WHERE row = ? AND undone IS NULL",
                           (row,)).fetchall()
    finally:
        con.close()


def test_linking_review_in_the_browser(tmp_path):
    """The page shows the mention marked in its sentence (HTML in it shown as text), one button per candidate and
    "none of these"; the number key 2 stores the second candidate for that item."""
    project = make_link_project(tmp_path, [*LINK_DOCS, HTML_DOC])
    session = review_kind("linking").open(project, ReviewConfig(audit_share=0.0, budget=50), False)
    items = {it.item_id: it for it in session.store.items()}
    it = items["903:0-15"]                # the item with HTML in its sentence goes first
    top = max(x.priority for x in items.values())
    session.store.put_items([type(it)(it.row, it.item_id, it.kind, top + 1, it.label, it.risk, it.payload)])
    choices = [c["label"] for c in it.payload["choices"]]
    assert len(choices) >= 3 and choices[-1] == "none of these"
    with ReviewServer(create_app(session.store, TOKEN, on_answer=session)) as server, \
            playwright.sync_playwright() as p:
        browser = p.chromium.launch(**LAUNCH)
        try:
            ctx, page, dialogs = open_page(browser, server, "carol")
            assert page.get_attribute("#card", "data-item") == "903:0-15"
            assert page.text_content("#text mark") == "Cystic fibrosis"
            assert 'onerror="window.__pwned = 1"' in page.text_content("#text")
            assert page.locator("#text img").count() == 0 and page.evaluate("window.__pwned") is None
            buttons = page.locator("#labels button").all_text_contents()
            assert buttons == [f"{i + 1} · {c}" for i, c in enumerate(choices)] + ["o · other id…", "s · skip"]
            assert "Each linker's top link:" in page.text_content("#rulestitle") and not dialogs
            page.keyboard.press("2")
            wait_new_item(page, "903:0-15")
            ctx.close()
        finally:
            browser.close()
    rows = live_answers(session.store.path, it.row)
    assert rows == [("carol", 1)]
    got = review_kind("linking").labels(project, session.store)
    assert got.loc[it.row, "linked_id"] == it.payload["choices"][1]["id"] and got.loc[it.row, "source"] == "human"


def test_linking_review_typed_ontology_id_in_the_browser(tmp_path):
    """`o` opens a field for any id of the ontology: an unknown id is not saved (the message says why, the item
    stays), a known one outside the choices is saved on Enter as one more choice of the item (SQLite), and `review
    status --export` links the mention to it."""
    project = make_link_project(tmp_path)
    session = review_kind("linking").open(project, ReviewConfig(audit_share=0.0, budget=50), False)
    onto = load_ontology(tmp_path / "onto")
    with ReviewServer(create_app(session.store, TOKEN, on_answer=session, lookup=session.lookup)) as server, \
            playwright.sync_playwright() as p:
        browser = p.chromium.launch(**LAUNCH)
        try:
            ctx, page, dialogs = open_page(browser, server, "dora")
            shown = page.get_attribute("#card", "data-item")
            it = next(i for i in session.store.items() if i.item_id == shown)
            outside = [e for e in onto.ids if e not in {c["id"] for c in it.payload["choices"]}]
            assert outside, "the fixture's first item should miss some ontology id among its choices"
            page.keyboard.press("o")
            field = page.locator("#otherid")
            playwright.expect(field).to_be_focused()
            assert field.input_value() == ""                  # the key that opened it is not typed into it
            field.fill("DOID:999")
            field.press("Enter")
            playwright.expect(page.locator("#msg")).to_contain_text("is not an id of the project's ontology")
            assert page.get_attribute("#card", "data-item") == shown
            field.fill(outside[0])
            field.press("Enter")
            wait_new_item(page, shown)
            playwright.expect(page.locator("#other")).to_be_hidden()
            assert not dialogs
            ctx.close()
        finally:
            browser.close()
    rows = live_answers(session.store.path, it.row)
    assert rows == [("dora", len(it.payload["choices"]))]          # the appended choice
    out = tmp_path / "reviewed.csv"
    res = CliRunner().invoke(app, ["review", "status", str(project), "--export", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype={"document_id": str}, keep_default_na=False)
    assert got.loc[it.row, ["linked_id", "name", "source", "reviewers"]].tolist() == [
        outside[0], onto.terms[outside[0]].name, "human", "dora"]

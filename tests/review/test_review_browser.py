"""End to end in headless Chromium (Playwright): a real project, the real server, SQLite checked after."""
from __future__ import annotations

import re
import sqlite3

import httpx
import pytest

from polarlab.project import load_project
from polarlab.review.app import ReviewServer, create_app
from polarlab.review.session import ReviewConfig, open_session

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")

LAUNCH = {"executable_path": "/usr/bin/chromium",
          "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                   "--no-first-run"]}
TOKEN = "t0ken-for-tests"


@pytest.fixture
def served(review_project):
    session = open_session(load_project(review_project), ReviewConfig(audit_share=0.0, batch_size=3, budget=50))
    # the item whose text holds HTML goes first, so the page must show it
    items = {it.item_id: it for it in session.store.items()}
    top = max(it.priority for it in items.values())
    it = items["c1"]
    session.store.put_items([type(it)(it.row, it.item_id, it.kind, top + 1, it.label, it.risk, it.payload)])
    with ReviewServer(create_app(session.store, TOKEN, on_answer=session)) as server:
        yield server, session


# the page's strict CSP forbids eval, so waits use locators (no wait_for_function)
def shown_id(page) -> str:
    return page.get_attribute("#card", "data-item")


def wait_item(page, item_id: str) -> None:
    playwright.expect(page.locator("#card")).to_have_attribute("data-item", item_id, timeout=30000)


def wait_new_item(page, old: str) -> str:
    card = page.locator("#card")
    playwright.expect(card).not_to_have_attribute("data-item", old, timeout=30000)
    playwright.expect(card).to_have_attribute("data-item", re.compile(".+"), timeout=30000)
    return shown_id(page)


def open_page(browser, server, reviewer):
    ctx = browser.new_context()
    page = ctx.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.url}/?token={TOKEN}&reviewer={reviewer}")
    playwright.expect(page.locator("#card")).to_have_attribute("data-item", re.compile(".+"), timeout=30000)
    return ctx, page, dialogs


def test_review_in_the_browser(served):
    server, session = served
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(**LAUNCH)
        try:
            ctx, page, dialogs = open_page(browser, server, "alice")
            # the <script> text is shown as text, and nothing ran
            first = shown_id(page)
            assert first == "c1"
            assert "<script>window.__pwned = 1</script>" in page.text_content("#text")
            assert page.evaluate("window.__pwned") is None and page.locator("#text img").count() == 0
            assert not dialogs
            # the project's final label (its labels file's) and its probability, beside the review model's own
            shown = next(it for it in session.store.items() if it.item_id == first).payload["labels_file"]
            meta = page.text_content("#itemmeta")
            assert f"labels file: {['ham', 'spam'][shown['label']]} {shown['probability']:.3f}" in meta, meta
            assert "review model: " in meta
            # three answers by keyboard: spam, ham, spam
            seen = [first]
            for key in ("2", "1", "2"):
                page.keyboard.press(key)
                seen.append(wait_new_item(page, seen[-1]))
            assert len(set(seen)) == 4
            # undo the last answer: its item comes back
            page.keyboard.press("u")
            wait_item(page, seen[2])
            page.reload()
            wait_item(page, seen[2])
            assert shown_id(page) == seen[2]          # the reload shows the item the reviewer holds
            page.keyboard.press("?")
            assert page.locator("#help").is_visible()

            # SQLite: two valid answers, one undone, with reviewer and time
            con = sqlite3.connect(session.store.path)
            rows = con.execute("SELECT i.item_id, a.answer, a.reviewer, a.time, a.undone FROM review_answers a "
                               "JOIN review_items i ON i.row = a.row ORDER BY a.id").fetchall()
            con.close()
            assert [(r[0], r[1], r[2]) for r in rows] == [(seen[0], 1, "alice"), (seen[1], 0, "alice"),
                                                         (seen[2], 1, "alice")]
            assert rows[0][4] is None and rows[1][4] is None and rows[2][4] is not None
            assert all(r[3] > 0 for r in rows)
            # ... and, in the project state, as "human" vote events with provenance (the undo included)
            from polarlab.state import ProjectState

            with ProjectState(session.store.path.parent) as state:
                ev = state.vote_events("train", source="human")
                L, names = state.votes("train")
                ids = state.example_ids("train")
            assert ev["example_id"].tolist() == [seen[0], seen[1], seen[2], seen[2]]
            assert ev["value"].tolist() == [1, 0, 1, -1] and set(ev["who"]) == {"alice"}
            assert ev["previous"].isna().tolist() == [True, True, True, False] and ev["previous"].iloc[3] == 1
            human = L[:, names.index("human")]
            assert human[ids.index(seen[0])] == 1 and human[ids.index(seen[1])] == 0
            assert human[ids.index(seen[2])] == -1 and (human >= 0).sum() == 2

            # two more reviewers at once never get the same item
            ctx_b, page_b, _ = open_page(browser, server, "bob")
            ctx_c, page_c, _ = open_page(browser, server, "carol")
            held = {shown_id(page), shown_id(page_b), shown_id(page_c)}
            assert len(held) == 3
            for _ in range(3):
                b_old, c_old = shown_id(page_b), shown_id(page_c)
                page_b.keyboard.press("1")
                page_c.keyboard.press("2")
                b_new, c_new = wait_new_item(page_b, b_old), wait_new_item(page_c, c_old)
                assert b_new != c_new and shown_id(page) not in (b_new, c_new)
            con = sqlite3.connect(session.store.path)
            dup = con.execute("SELECT row, count(*) FROM review_answers WHERE undone IS NULL AND answer IS NOT NULL "
                              "GROUP BY row HAVING count(*) > 1").fetchall()
            con.close()
            assert dup == []
            for c in (ctx, ctx_b, ctx_c):
                c.close()
        finally:
            browser.close()


def test_token_is_required_and_posts_are_csrf_safe(served):
    server, _ = served
    assert httpx.get(f"{server.url}/").status_code == 403
    assert httpx.get(f"{server.url}/?token=wrong").status_code == 403
    assert httpx.get(f"{server.url}/api/status").status_code == 403
    assert httpx.get(f"{server.url}/api/status", params={"token": TOKEN}).status_code == 200
    body = {"reviewer": "mallory", "row": 0, "label": 1}
    # a cross-site form could send the token in the URL but not a custom header
    assert httpx.post(f"{server.url}/api/answer?token={TOKEN}", json=body).status_code == 403
    hdr = {"X-Review-Token": TOKEN}
    assert httpx.post(f"{server.url}/api/answer", json=body,
                      headers={**hdr, "Origin": "http://evil.example"}).status_code == 403
    assert httpx.post(f"{server.url}/api/answer", content="reviewer=x",
                      headers={**hdr, "Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert httpx.get(f"{server.url}/api/status", params={"token": TOKEN},
                     headers={"Host": "attacker.example"}).status_code == 400
    page = httpx.get(f"{server.url}/", params={"token": TOKEN})
    assert "script-src 'nonce-" in page.headers["content-security-policy"]


def test_the_page_says_why_the_review_stopped(tmp_path):
    """A synthetic store (no pipeline) with a budget of one review: after the answer the page shows why it serves
    no more items and what to do."""
    from conftest import synthetic_store

    store = synthetic_store(tmp_path / "r.sqlite", 10)
    store.set_meta(budget=1)
    with ReviewServer(create_app(store, TOKEN)) as server, playwright.sync_playwright() as p:
        browser = p.chromium.launch(**LAUNCH)
        try:
            _, page, _ = open_page(browser, server, "stu")
            page.keyboard.press("2")
            playwright.expect(page.locator("#card")).to_have_attribute("data-item", "", timeout=30000)
            text = page.text_content("#text")
            assert "budget is spent (1 review)" in text and "--budget" in text, text
        finally:
            browser.close()
    assert [a["answer"] for a in store.answers()] == [1]


def test_the_counts_shown_include_the_answer_just_stored(tmp_path):
    """Answers faster than the shared status's lifetime (here 600 s): the header counted none of them (it showed
    the status computed when the page opened); now every shown count includes the last answer or undo."""
    from conftest import synthetic_store

    store = synthetic_store(tmp_path / "r.sqlite", 30)
    with ReviewServer(create_app(store, TOKEN, status_ttl=600.0)) as server, playwright.sync_playwright() as p:
        browser = p.chromium.launch(**LAUNCH)
        try:
            _, page, _ = open_page(browser, server, "fay")
            progress = page.locator("#progress")
            playwright.expect(progress).to_contain_text("0 reviewed", timeout=30000)
            for n, key in enumerate(("2", "1", "2", "2"), start=1):
                old = shown_id(page)
                page.keyboard.press(key)
                wait_new_item(page, old)
                playwright.expect(progress).to_contain_text(f"{n} reviewed", timeout=30000)
                playwright.expect(progress).to_contain_text(f"budget left {30 - n}", timeout=30000)
            page.keyboard.press("u")
            playwright.expect(progress).to_contain_text("3 reviewed", timeout=30000)
        finally:
            browser.close()
    assert len(store.answers()) == 3

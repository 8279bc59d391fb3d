"""The page in headless Chromium: pick a user, get cards, ask Why?, say 👎, chat.

Needs Debian's chromium at /usr/bin/chromium and the ``playwright`` Python package (no
``playwright install``: we drive the system browser). The chat uses the agent's
template fallback, so no language model runs.

Run as a script to save docs/screenshot.png (a MovieLens user when the store in
/tmp/wr1 exists, else the small test catalog)::

    .venv/bin/python tests/ui/test_browser.py [data_dir]
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 90_000  # ranking with the cross-encoder on two shared CPU cores is slow the first time

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fallback_agent(recommender):
    """The real ChatAgent with templates only: deterministic and fast."""

    def make():
        from whyrec.agent.chat import ChatAgent

        return ChatAgent(recommender, recommender.settings, fallback_only=True)

    return make


def pick_user(page, user_id: str) -> None:
    box = page.locator("#user-picker input")
    box.click()
    box.fill(user_id)
    box.press("Enter")


def card_titles(page) -> list[str]:
    heads = page.locator(".rec-card .card-head h4").all_inner_texts()
    return [re.sub(r"^\d+\.\s*", "", h).rsplit(" (", 1)[0].strip() for h in heads]


def card(page, title: str):
    return page.locator(".rec-card").filter(has=page.locator("h4", has_text=title))


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def app_url(recommender):
    from whyrec.ui.app import build_app, serve

    demo = build_app(recommender, fallback_agent(recommender))
    yield serve(demo, port=free_port(), block=False, quiet=True)
    demo.close()


def test_pick_user_explain_dislike_and_chat(browser, app_url, recommender):
    history_titles = {recommender.items[x.item_id].title for x in recommender.store.db.history("u1")}
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)

    # pick a user: cards and the profile appear, and no card is something u1 already rated
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    titles = card_titles(page)
    assert titles and not set(titles) & history_titles
    page.get_by_text(re.compile(r"All history.*7 interactions")).wait_for()

    # Why? shows the grounded explanation under that card, naming items from u1's history
    first = titles[0]
    card(page, first).get_by_role("button", name="Why?").click()
    why = card(page, first).locator(".prose.why-box")
    why.wait_for()
    text = why.inner_text()
    assert "Status: recommended (#1)" in text
    assert any(t in text for t in history_titles), text

    # 👎 records the dislike: the card goes away (the tiny catalog has no other unseen item to refill with)
    card(page, first).get_by_role("button", name="👎").click()
    page.get_by_text(f"Recorded: disliked — '{first}'").wait_for()
    page.wait_for_function(
        "title => ![...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes(title))", arg=first
    )
    assert first not in card_titles(page)
    assert sorted(card_titles(page)) == sorted(t for t in titles if t != first)
    assert [f.item_id for f in recommender.store.db.feedback("u1")] == [next(i for i, it in recommender.items.items() if it.title == first)]

    # the chat answers (template fallback) in this session's conversation
    page.locator("#chat-input textarea").fill("What are my interests?")
    page.locator("#chat-input textarea").press("Enter")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Romance')")
    assert "unavailable" not in page.locator("#chat").inner_text()

    # a second session with another user does not disturb the first
    other = browser.new_page(viewport={"width": 1400, "height": 1000})
    other.set_default_timeout(TIMEOUT_MS)
    other.goto(app_url)
    pick_user(other, "u2")
    other.locator(".rec-card").first.wait_for()
    other.get_by_text(re.compile(r"items for user u2")).wait_for()
    assert "What are my interests?" not in other.locator("#chat").inner_text()
    assert page.get_by_text(re.compile(r"items for user u1")).is_visible()
    assert first not in card_titles(page)


def test_new_user_rates_a_few_items_and_gets_recommendations(browser, app_url, recommender):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_text("New user? Rate a few items to start").click()
    page.get_by_label("New user id").fill("alice")
    page.get_by_label("Search the catalog").fill("starship in space")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_label("Star Voyage (1990)").check()
    page.get_by_label("Nebula Run (2005)").check()
    page.get_by_role("button", name="Add ratings and use this user").click()
    page.get_by_text(re.compile(r"items for user alice")).wait_for()
    page.get_by_text(re.compile(r"All history.*2 interactions")).wait_for()
    assert not {"Star Voyage", "Nebula Run"} & set(card_titles(page))
    assert {x.item_id for x in recommender.store.db.history("alice")} == {"space1", "space4"}


def test_errors_show_as_one_line_messages(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.locator("#user-picker input").wait_for()
    # chatting before picking a user is a readable error, not a traceback
    page.locator("#chat-input textarea").fill("hello")
    page.locator("#chat-input textarea").press("Enter")
    page.get_by_text("no user selected — pick a user at the top").first.wait_for()
    assert "Traceback" not in page.content()


# --- the screenshot ------------------------------------------------------------------------


def save_screenshot(data_dir: str | None = None, out: Path = Path("docs/screenshot.png"), user: str | None = None) -> Path:
    """Serve the app on a copy of a store (so nothing is written to it) and screenshot one user's page."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from whyrec.store.settings import Settings
    from whyrec.ui.app import launch_app

    source = Path(data_dir or "/tmp/wr1")
    work = Path(tempfile.mkdtemp(prefix="whyrec-shot-"))
    shutil.copytree(source, work / "data")
    demo, url = launch_app(Settings(data_dir=work / "data", cache_dir=work / "cache"), port=free_port(), block=False, fallback_chat=True)
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1440, "height": 1300}, device_scale_factor=1)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            pick_user(page, user or "1")
            page.locator(".rec-card").first.wait_for()
            question = "Something funny from the 90s?"
            page.locator("#chat-input textarea").fill(question)
            page.locator("#chat-input textarea").press("Enter")
            page.wait_for_function("q => (document.querySelector('#chat').innerText.split(q)[1] || '').trim().length > 40", arg=question)
            page.locator(".rec-card").nth(1).get_by_role("button", name="Why?").click()
            page.locator(".prose.why-box").first.wait_for()
            page.wait_for_timeout(1500)  # let the plots finish drawing
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            chromium.close()
    finally:
        demo.close()
        shutil.rmtree(work, ignore_errors=True)
    return out


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    print(save_screenshot(sys.argv[1] if len(sys.argv) > 1 else None))

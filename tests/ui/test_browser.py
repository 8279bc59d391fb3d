"""The page in headless Chromium, as a demanding user meets it: plots that draw, a chat that shows it is working,
errors that keep the page whole, text shown as typed, a reload that keeps the user.

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
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.ui.test_request_limits import HeldModel
from whyrec.store.ports import free_port
from whyrec.store.records import Interaction

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 90_000  # ranking with the cross-encoder on two shared CPU cores is slow the first time
HELLO = "Hello! Ask me for a film, or why one was recommended."  # what the held model answers once released

# a browser: slow, and only where Debian's chromium is (every test_browser_* module is marked with these)
IN_CHROMIUM = [pytest.mark.slow, pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")]
pytestmark = IN_CHROMIUM


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


def wait_for_drawn_cards(page, count: int | None = None) -> list[str]:
    """The card titles once the cards on the page are as many as the status line counts (``count``, when given) and no
    redraw is running (or, where a redraw tracker stays on over the same cards, once they held 1.5 s).

    The status line comes with the update that sets the cards' list, but the cards are drawn by a second round trip (their
    ``gr.render``), during which the old cards stay on the page: reading them at once read the list before. Only the
    cards' column is watched: a chat answer still streaming elsewhere is no redraw of the cards."""
    drawn = """want => { const counted = (document.querySelector('#rec-status')?.innerText || '').match(/(\\d+) items for user/);
        const titles = [...document.querySelectorAll('.rec-card h4')].map(e => e.innerText).join('|');
        if (!counted || (want !== null && Number(counted[1]) !== want) || document.querySelectorAll('.rec-card').length !== Number(counted[1])) {
            window.__drawnCards = null; return false; }
        const redrawing = [...document.querySelectorAll('#cards-column [data-testid="status-tracker"].generating')].some(e => e.offsetParent !== null);
        if (!redrawing) return true;
        // a tracker that stays on over the same cards (it can, after an update from the chat): they stand once they held 1.5 s
        const now = Date.now();
        if (!window.__drawnCards || window.__drawnCards.titles !== titles) { window.__drawnCards = {titles, since: now}; return false; }
        return now - window.__drawnCards.since > 1500; }"""
    try:
        page.wait_for_function(drawn, arg=count)
    except Exception as timed_out:  # say what the page showed instead
        seen = page.evaluate(
            """() => ({status: document.querySelector('#rec-status')?.innerText, cards: document.querySelectorAll('.rec-card').length,
                drawing: [...document.querySelectorAll('#cards-column [data-testid="status-tracker"].generating')].filter(e => e.offsetParent !== null)
                    .map(e => e.parentElement?.id || e.parentElement?.className)})"""
        )
        raise AssertionError(f"the cards were not drawn as the status counts them (want {count}): {seen}") from timed_out
    return card_titles(page)


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
    from whyrec.ui.app import build_app
    from whyrec.ui.server import serve

    demo = build_app(recommender, fallback_agent(recommender))
    yield serve(demo, port=free_port(), block=False, quiet=True)
    demo.close()


def error_badges(page) -> list[str]:
    """Gradio's red "Error" badges (a widget replaced by its status tracker) and error toasts now on the page."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="status-tracker"] .error, .toast-title.error')]
            .filter(e => e.offsetParent !== null).map(e => e.innerText)"""
    )


def visible_marks(page, elem_id: str) -> int:
    """Drawn marks (bars, lines) in a plot whose fill or stroke is a colour: 0 when the chart is empty or invisible."""
    return page.evaluate(
        """id => [...document.querySelectorAll(`#${id} svg g.mark-rect path, #${id} svg g.mark-line path`)]
            .filter(m => { const s = getComputedStyle(m); return (s.fill !== 'none' && s.fillOpacity !== '0') || (s.stroke !== 'none' && s.strokeOpacity !== '0'); })
            .length""",
        elem_id,
    )


def wait_for_marks(page, elem_id: str) -> int:
    page.wait_for_function(
        """id => [...document.querySelectorAll(`#${id} svg g.mark-rect path, #${id} svg g.mark-line path`)]
            .some(m => getComputedStyle(m).fill !== 'none' || getComputedStyle(m).stroke !== 'none')""",
        arg=elem_id,
    )
    return visible_marks(page, elem_id)


def send_chat(page, text: str) -> None:
    page.locator("#chat-input textarea").fill(text)
    page.locator("#chat-send").click()


def open_page(browser, app_url, height: int = 1400, context=None):
    page = context.new_page() if context else browser.new_page(viewport={"width": 1400, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.locator("#user-picker input").wait_for()
    return page


def test_pick_user_see_plots_explain_dislike_and_chat(browser, app_url, recommender):
    history_titles = {recommender.items[x.item_id].title for x in recommender.store.db.history("u1")}
    page = open_page(browser, app_url)

    # pick a user: cards and the profile appear, and no card is something u1 already rated
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    titles = card_titles(page)
    assert titles and not set(titles) & history_titles
    page.get_by_text(re.compile(r"All history.*7 interactions")).wait_for()

    # both plots draw coloured marks (the bug: marks with fill none), and evolution is over time, not slices
    assert wait_for_marks(page, "distribution-plot") >= 2
    assert wait_for_marks(page, "evolution-plot") >= 2
    evolution_text = page.locator("#evolution-plot svg").first.text_content()
    assert "by day" in evolution_text and "slice" not in evolution_text
    assert error_badges(page) == []

    # every card says which score it shows
    assert page.locator(".rec-card .card-score").first.inner_text().startswith("relevance score")

    # Why? shows the grounded explanation once (one list, no repeated paragraph), naming items from u1's history
    first = titles[0]
    card(page, first).get_by_role("button", name="Why?").click()
    why = page.locator(".prose.why-box").filter(has_text=f"Why '{first}'?")
    why.wait_for()
    text = why.inner_text()
    assert "It is #1 in your current recommendations." in text
    assert text.count("It is #1 in your current recommendations.") == 1
    assert any(t in text for t in history_titles), text

    # 👎 records the dislike: the card goes away (the tiny catalog has no other unseen item to refill with)
    card(page, first).get_by_role("button", name="👎").click()
    page.get_by_text(f"Recorded: disliked — '{first}'").first.wait_for()
    page.wait_for_function(
        "title => ![...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes(title))", arg=first
    )
    assert first not in card_titles(page)
    assert sorted(card_titles(page)) == sorted(t for t in titles if t != first)
    assert [f.item_id for f in recommender.store.db.feedback("u1")] == [next(i for i, it in recommender.items.items() if it.title == first)]
    assert page.get_by_text(f"Recorded: disliked — '{first}'").count() == 1  # one toast, not two

    # the chat answers (template fallback) in this session's conversation
    send_chat(page, "What are my interests?")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Romance')")
    assert "unavailable" not in page.locator("#chat").inner_text()

    # a second session with another user does not disturb the first
    other = open_page(browser, app_url, 1000)
    pick_user(other, "u2")
    other.locator(".rec-card").first.wait_for()
    other.get_by_text(re.compile(r"items for user u2")).wait_for()
    assert "What are my interests?" not in other.locator("#chat").inner_text()
    assert page.get_by_text(re.compile(r"items for user u1")).is_visible()
    assert first not in card_titles(page)


def test_new_user_rates_a_few_items_and_gets_recommendations(browser, app_url, recommender):
    page = open_page(browser, app_url, 1200)
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
    # two ratings cannot show a drift yet (the recent window is 3): no "Drift -0.00"
    assert "not measured yet" in page.locator("#profile-summary").inner_text()
    assert error_badges(page) == []


def test_bad_input_is_a_notice_next_to_its_control_and_every_widget_stays(browser, app_url, recommender):
    page = open_page(browser, app_url)

    # chatting before picking a user: the chat stays, the typed text stays, a one-line notice says what to do
    send_chat(page, "hello there")
    page.locator("#chat-notice").get_by_text("Pick a user first").wait_for()
    assert page.locator("#chat-input textarea").input_value() == "hello there"
    assert page.locator("#chat").is_visible()
    assert error_badges(page) == []

    # "Add ratings" without an id: a notice under the button, the picker and the form intact
    page.get_by_text("New user? Rate a few items to start").click()
    page.get_by_role("button", name="Add ratings and use this user").click()
    page.locator("#new-user-notice").get_by_text("Type an id for the new user first").wait_for()
    assert page.locator("#user-picker input").is_visible()
    assert error_badges(page) == []

    # an unknown id is not taken silently: the page asks, and "Start as a new user" gives a cold start
    pick_user(page, "99999")
    page.locator("#unknown-user").get_by_text("There is no user 99999 yet").wait_for()
    assert page.locator(".rec-card").count() == 0
    assert error_badges(page) == []
    page.get_by_role("button", name="Start as a new user").click()
    page.get_by_text(re.compile(r"items for user 99999")).wait_for()
    assert page.locator("#new-user-id input, #new-user-id textarea").first.input_value() == "99999"
    assert recommender.store.db.history("99999") == []

    # a reversed year range: a notice in the user's words, no stale cards, the filters intact
    pick_user(page, "u1")
    page.get_by_text(re.compile(r"items for user u1")).wait_for()
    wait_for_drawn_cards(page)  # picking a user sets the filters too: typed years must come after that update
    for slider, year in (("#year-min", "2005"), ("#year-max", "1995")):
        page.locator(f"{slider} input[type=number]").fill(year)
        page.locator(f"{slider} input[type=number]").press("Enter")
    page.wait_for_function(  # both typed years hold before the click reads them
        "() => document.querySelector('#year-min input[type=number]').value === '2005'"
        " && document.querySelector('#year-max input[type=number]').value === '1995'"
    )
    page.locator("#recommend-button").click()
    notice = page.locator("#filters-notice")
    notice.get_by_text("“From year” 2005 is after “To year” 1995").wait_for()
    assert "year_min" not in notice.inner_text()
    page.wait_for_function("() => document.querySelectorAll('.rec-card').length === 0")
    assert page.locator("#year-min").is_visible() and page.locator("#recommend-button").is_visible()
    assert error_badges(page) == []
    assert "Traceback" not in page.content()


def test_chat_shows_typed_text_as_text_and_thinks_at_once(browser, app_url):
    page = open_page(browser, app_url)
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    page.evaluate(
        """() => {
            window.thinkingAt = null;
            const shows = () => ['#chat', '#chat-status'].some(id => document.querySelector(id).innerText.includes('thinking…'));
            new MutationObserver(() => {
                if (window.thinkingAt === null && shows()) window.thinkingAt = performance.now();
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    typed = "<b>x</b><img src=x> what are my interests?"
    page.locator("#chat-input textarea").fill(typed)
    sent = page.evaluate("() => performance.now()")
    page.locator("#chat-send").click()
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Romance')")
    thinking_after_ms = page.evaluate("() => window.thinkingAt") - sent
    assert thinking_after_ms < 1000, f"'thinking…' showed {thinking_after_ms:.0f} ms after Send"
    page.locator("#chat").get_by_text(typed).wait_for()  # literally, as typed
    assert page.locator("#chat img[src='x'], #chat b").count() == 0
    assert error_badges(page) == []

    # the chat's recommendations become the cards, with the filters set to what the chat asked for,
    # so Why? explains the list on screen
    send_chat(page, "recommend a comedy")
    page.get_by_text(re.compile(r"items for user u1 — from the chat")).wait_for()
    first = card_titles(page)[0]
    card(page, first).get_by_role("button", name="Why?").click()
    page.locator(".prose.why-box").filter(has_text=f"Why '{first}'?").get_by_text("It is #1 in your current recommendations.").wait_for()


def test_a_reload_keeps_the_user_and_the_conversation(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = open_page(browser, app_url, context=context)
    pick_user(page, "u2")
    page.get_by_text(re.compile(r"items for user u2")).wait_for()
    send_chat(page, "What are my interests?")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Crime')")
    page.reload()
    page.get_by_text(re.compile(r"items for user u2")).wait_for()
    assert page.locator("#user-picker input").input_value().startswith("u2 · ")  # the picker shows who u2 is
    assert "What are my interests?" in page.locator("#chat").inner_text()
    context.close()


def test_the_user_picker_lists_every_user(browser, app_url, recommender):
    # more users than the 100 a Gradio dropdown shows by default
    recommender.store.db.add_interactions([Interaction(f"x{n:03d}", "rom1", 1_000_000.0, 4.0) for n in range(120)])
    page = open_page(browser, app_url)
    page.locator("#user-picker input").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    assert options.first.inner_text().strip().startswith("u1 · ")  # no blank entry first
    page.keyboard.type("x119")  # searching reaches past the first 100
    page.get_by_role("option", name=re.compile(r"^x119 · ")).wait_for()
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(r"items for user x119")).wait_for()


@contextmanager
def two_tabs_on_a_held_model(browser, recommender, mode: str = "react") -> Iterator[tuple[Any, Any, HeldModel]]:
    """Two tabs, u1's and u2's, their cards drawn, on an app whose chat model (the real ChatAgent over a scripted fake)
    answers only once the test sets ``held.release``, as a local model on a CPU answers after a while (``mode="plan"``:
    the rules answer what they read alone, the model the rest)."""
    from whyrec.agent.chat import ChatAgent
    from whyrec.ui.app import build_app
    from whyrec.ui.server import serve

    held = HeldModel(HELLO, calls=8)
    demo = build_app(recommender, lambda: ChatAgent(recommender, recommender.settings, model=held.model, mode=mode))
    url = serve(demo, port=free_port(), block=False, quiet=True)
    try:
        first, second = open_page(browser, url, 1000), open_page(browser, url, 1000)
        for page, user in ((first, "u1"), (second, "u2")):
            pick_user(page, user)
            page.locator(".rec-card").first.wait_for()
        yield first, second, held
    finally:
        held.release.set()
        demo.close()


def test_a_second_chat_says_it_is_waiting_for_the_first(browser, recommender):
    with two_tabs_on_a_held_model(browser, recommender) as (first, second, held):
        send_chat(first, "hello")
        first.get_by_text("thinking…").first.wait_for()
        assert held.called.wait(60), "the first chat holds the model"
        send_chat(second, "hello")
        second.locator("#chat").get_by_text("waiting for another conversation to finish").wait_for()
        held.release.set()  # the first answer ends only now: the second saw its place in line whatever the machine's speed
        first.locator("#chat").get_by_text("Hello! Ask me for a film").wait_for()
        second.locator("#chat").get_by_text("Hello! Ask me for a film").wait_for()
        assert "waiting for" not in second.locator("#chat").inner_text()
        assert error_badges(first) == [] and error_badges(second) == []


# --- the screenshot ------------------------------------------------------------------------


def save_screenshot(data_dir: str | None = None, out: Path = Path("docs/screenshot.png"), user: str | None = None) -> Path:
    """Serve the app on a copy of a store (so nothing is written to it) and screenshot one user's page."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from whyrec.store.settings import Settings
    from whyrec.ui.server import launch_app

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
            question = "A heist movie from the 90s?"
            send_chat(page, question)
            page.wait_for_function("q => (document.querySelector('#chat').innerText.split(q)[1] || '').trim().length > 40", arg=question)
            page.get_by_text("from the chat").first.wait_for()  # the chat's recommend tool set the cards
            wait_for_drawn_cards(page)
            page.locator(".rec-card").nth(1).get_by_role("button", name="Why?").click()
            page.locator(".prose.why-box").first.wait_for()
            wait_for_marks(page, "distribution-plot")
            wait_for_marks(page, "evolution-plot")
            wait_for_drawn_cards(page)  # the cards redrawn with the explanation open, and nothing else drawing
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

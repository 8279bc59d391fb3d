"""The page in headless Chromium, checked for one state: the chat, the "In the mood for…" box, its chips, the filters and
the cards say the same thing, a reload keeps them, and a turn the rules answer does not queue behind another tab's model.

One test per complaint of the chat-state issue (see each test's first line); the helpers and fixtures are
``tests/ui/test_browser.py``'s (system Chromium, the template-only chat agent, the small test catalog, 1990–2010).
"""

from __future__ import annotations

import json
import re
import time

from whyrec.store.ports import free_port
from tests.ui.test_browser import (  # noqa: F401  (fixtures)
    IN_CHROMIUM,
    TIMEOUT_MS,
    app_url,
    browser,
    card_titles,
    error_badges,
    open_page,
    pick_user,
    send_chat,
    two_tabs_on_a_held_model,
    wait_for_drawn_cards,
)

pytestmark = IN_CHROMIUM

PHONE = {"width": 390, "height": 844}
NINETIES_SCI_FI = "recommend a sci-fi film from the 90s"  # u2 has not seen Star Voyage (1990) or Orbit Station (1995)


def chips(page) -> list[str]:
    """The request-in-force chips as shown (none when the chip row is hidden)."""
    if not page.locator("#request-chips").is_visible():
        return []
    return [t.strip() for t in page.locator("#request-chips label").all_inner_texts()]


def wait_for_chips(page, expected: list[str]) -> None:
    page.wait_for_function(
        """want => { const box = document.querySelector('#request-chips');
            const shown = box && box.offsetParent !== null ? [...box.querySelectorAll('label')].map(l => l.innerText.trim()) : [];
            return JSON.stringify(shown) === JSON.stringify(want); }""",
        arg=expected,
    )


def years(page) -> tuple[int, int]:
    return tuple(int(page.locator(f"#{s} input[type=number]").input_value()) for s in ("year-min", "year-max"))


def categories(page) -> list[str]:
    return [t.strip() for t in page.locator("#category-filter .token").all_inner_texts()]


def request_box(page) -> str:
    return page.locator("#request textarea").input_value()


def chat_text(page) -> str:
    return page.locator("#chat").inner_text()


def wait_for_answer(page, question: str) -> str:
    """The chat's answer to ``question`` once written (more than a thinking bubble)."""
    page.wait_for_function(
        """q => { const parts = document.querySelector('#chat').innerText.split(q); const after = (parts[parts.length - 1] || '').trim();
            return parts.length > 1 && after.length > 30 && !after.includes('thinking…'); }""",
        arg=question,
    )
    return chat_text(page).split(question)[-1]


def wait_for_cards(page, status: str) -> list[str]:
    """The card titles once the status line reads ``status`` (a regex) and the cards it counts are drawn."""
    page.locator("#rec-status").get_by_text(re.compile(status)).wait_for()
    return wait_for_drawn_cards(page)


def chat_recommends(page, question: str) -> list[str]:
    send_chat(page, question)
    page.locator("#rec-status").get_by_text("from the chat").wait_for()
    wait_for_answer(page, question)
    return wait_for_cards(page, "from the chat")


def new_chat(page) -> None:
    page.locator("#chat").get_by_role("button", name="Clear").click()


def test_why_the_second_one_in_a_new_chat_is_about_the_second_card_on_screen(browser, app_url):
    """'The chat can't see the cards on the page. With 6 cards showing, "why the second one?" in a new chat fails.'"""
    page = open_page(browser, app_url)
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    send_chat(page, "What are my interests?")  # a conversation before the one that asks
    wait_for_answer(page, "What are my interests?")
    page.locator("#recommend-button").click()
    titles = wait_for_cards(page, r"\d+ items for user u1(?! — from the chat)")
    assert len(titles) >= 3, titles
    new_chat(page)
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('What are my interests?')")

    send_chat(page, "why the second one?")
    answer = wait_for_answer(page, "why the second one?").strip()
    head = answer.splitlines()[0]
    assert titles[1] in head and not any(t in head for t in titles if t != titles[1]), (titles, answer)
    assert "Which one" not in answer
    assert error_badges(page) == []


def test_a_chat_request_sets_the_filters_and_chips_and_recommend_agrees_with_the_chat(browser, app_url):
    """'The chat and the filter panel disagree: after "something scary from the 80s" the year sliders and categories are
    unchanged, while chat text piles up in the "In the mood for" box and is then used by Recommend.'"""
    page = open_page(browser, app_url)
    pick_user(page, "u2")
    page.locator(".rec-card").first.wait_for()
    assert chips(page) == [] and years(page) == (1990, 2010)

    from_chat = chat_recommends(page, NINETIES_SCI_FI)
    assert sorted(from_chat) == ["Orbit Station", "Star Voyage"]
    wait_for_chips(page, ["Sci-Fi ✕", "1990–1999 ✕"])
    assert years(page) == (1990, 1999) and categories(page) == ["Sci-Fi"]
    assert request_box(page) == NINETIES_SCI_FI

    # Recommend with the box and the filters as the chat left them: the same list
    page.locator("#recommend-button").click()
    assert sorted(wait_for_cards(page, r"\d+ items for user u2(?! — from the chat)")) == sorted(from_chat)

    # a chip dropped: the request without it goes into the box, the sliders open up, the list is ranked again
    page.locator("#request-chips label", has_text="1990–1999 ✕").click()
    wait_for_chips(page, ["Sci-Fi ✕"])
    assert request_box(page) == "sci-fi" and years(page) == (1990, 2010) and categories(page) == ["Sci-Fi"]
    page.wait_for_function("() => [...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes('Nebula Run'))")
    drawn = wait_for_drawn_cards(page)  # the first new card shows before the rest are drawn
    assert all(t in ("Star Voyage", "Orbit Station", "Nebula Run", "Nebula Run II") for t in drawn), drawn

    # the next chat turn refines the request as the box now has it: no 90s come back
    refined = chat_recommends(page, "only action")
    assert {"Nebula Run", "Nebula Run II"} <= set(refined), refined
    assert "90s" not in request_box(page) and "action" in request_box(page).lower()
    assert "1990–1999 ✕" not in chips(page) and "Action ✕" in chips(page)
    assert years(page) == (1990, 2010)

    # a new subject replaces the request in the box instead of piling up after it
    chat_recommends(page, "a romance from the 90s")
    assert "sci-fi" not in request_box(page).lower() and "romance" in request_box(page).lower()
    wait_for_chips(page, ["Romance ✕", "1990–1999 ✕"])
    assert years(page) == (1990, 1999) and categories(page) == ["Romance"]
    assert error_badges(page) == []


def test_a_reload_brings_back_the_cards_the_filters_and_the_chips(browser, app_url):
    """'A reload keeps the user and the chat, but resets the cards and filters. They no longer match the chat.'"""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = open_page(browser, app_url, context=context)
    pick_user(page, "u2")
    page.locator(".rec-card").first.wait_for()
    shown = chat_recommends(page, NINETIES_SCI_FI)
    wait_for_chips(page, ["Sci-Fi ✕", "1990–1999 ✕"])

    page.reload()
    page.get_by_text(re.compile(r"items for user u2")).wait_for()
    wait_for_chips(page, ["Sci-Fi ✕", "1990–1999 ✕"])
    assert sorted(wait_for_cards(page, r"items for user u2")) == sorted(shown)
    assert years(page) == (1990, 1999) and categories(page) == ["Sci-Fi"] and request_box(page) == NINETIES_SCI_FI
    assert NINETIES_SCI_FI in chat_text(page)

    # a request changed on the page (a dropped chip) is the one a reload brings back, with its cards
    page.locator("#request-chips label", has_text="Sci-Fi ✕").click()
    wait_for_chips(page, ["1990–1999 ✕"])
    page.wait_for_function("() => [...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes('Paris in Spring'))")
    before = card_titles(page)
    page.reload()
    page.get_by_text(re.compile(r"items for user u2")).wait_for()
    wait_for_chips(page, ["1990–1999 ✕"])
    assert sorted(wait_for_cards(page, r"items for user u2")) == sorted(before)
    assert request_box(page) == "from 1990 to 1999" and years(page) == (1990, 1999) and categories(page) == []
    assert error_badges(page) == []
    context.close()


def test_a_reload_brings_back_the_page_of_more_shown_not_the_plain_list(browser, app_url):
    """A reload showed the list a new ranking gives for the request in force, so after "more" it came back as the
    first page: the cards as shown are kept in the browser and come back as they were.

    Fails before the fix (210521a): after the reload the cards were ranked again (the status never said "from the chat")."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = open_page(browser, app_url, context=context)
    pick_user(page, "u2")
    page.locator(".rec-card").first.wait_for()
    first_page = chat_recommends(page, "recommend me something")
    send_chat(page, "more")
    page.wait_for_function(
        "first => { const cards = [...document.querySelectorAll('.rec-card h4')].map(h => h.innerText.replace(/^\\d+\\.\\s*/, '').replace(/\\s*\\(\\d+\\)$/, '').trim()); "
        "return cards.length > 0 && !cards.some(c => first.includes(c)); }", arg=first_page,
    )
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('thinking…')")
    # the update that set the "more" page wrote it where the browser keeps it, and only then were its cards drawn
    more = wait_for_drawn_cards(page)
    assert more and not set(more) & set(first_page), (first_page, more)

    page.reload()
    page.get_by_text(re.compile(r"items for user u2 — from the chat")).wait_for()
    assert wait_for_cards(page, r"items for user u2") == more
    assert error_badges(page) == []
    context.close()


def reading_agent(recommender, reading: dict):
    """The real ChatAgent over a fake model that reads one message as ``reading`` (the rules read the rest)."""

    def make():
        from tests.agent.chat_fakes import scripted
        from whyrec.agent.chat import ChatAgent

        return ChatAgent(recommender, recommender.settings, model=scripted(json.dumps(reading)), mode="plan")

    return make


def test_the_models_reading_is_said_on_its_own_line_and_its_chips_say_it_read_them(browser, recommender):
    """'The active request (its constraints, each with where it came from)': of "a sci-fi film that gets my pulse
    going", the rules read sci-fi and the model Action. The chips show both, Action marked as the model's reading; the
    answer says "I read '…' as: …" on a line of its own, the person's words neutralised, and "(Understood: …)" on its
    own line after the list, and both name what the chips show. A reload keeps the mark.

    Fails before the fix (210521a): no chip said it was the model's reading (waiting for "🤖 Action ✕" timed out)."""
    from whyrec.ui.app import build_app
    from whyrec.ui.server import serve

    demo = build_app(recommender, reading_agent(recommender, {"intent": "recommend", "genres": ["Action"]}))
    url = serve(demo, port=free_port(), block=False, quiet=True)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1400})
        page = open_page(browser, url, context=context)
        pick_user(page, "u2")
        page.locator(".rec-card").first.wait_for()
        question = "a sci-fi film that gets my pulse going <b>now</b>"
        titles = chat_recommends(page, question)
        assert sorted(titles[:2]) == ["Nebula Run", "Nebula Run II"], titles  # sci-fi and action, unseen by u2, first
        wait_for_chips(page, ["Sci-Fi ✕", "🤖 Action ✕"])
        assert "how the model read your words" in page.locator("#request-chips").inner_text()

        notes = page.evaluate(
            """() => { const bot = [...document.querySelectorAll('#chat .message-row.bot-row')].pop();
                const blocks = [...bot.querySelectorAll('p, li')];
                const list = bot.querySelector('ol');
                const at = text => blocks.find(b => b.tagName === 'P' && b.innerText.includes(text));
                const read = at('I read'), understood = at('(Understood');
                const where = b => b && list ? (list.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? 'after' : 'before') : null;
                const plain = b => b && b.innerText.replace(/[‘’]/g, "'");
                return {read: plain(read), understood: plain(understood),
                        read_at: where(read), understood_at: where(understood), in_item: !!(read && read.closest('li')) || !!(understood && understood.closest('li')),
                        markup: bot.querySelectorAll('b').length}; }"""
        )
        assert notes["read"] == "I read 'a sci-fi film that gets my pulse going now' as: sci-fi, Action.", notes
        assert notes["read_at"] == "before" and notes["understood_at"] == "after" and not notes["in_item"], notes
        assert notes["markup"] == 0, "the person's <b> reached the answer as markup"
        assert all(name in notes["understood"] for name in ("Sci-Fi", "Action")), notes

        page.reload()
        page.get_by_text(re.compile(r"items for user u2")).wait_for()
        wait_for_chips(page, ["Sci-Fi ✕", "🤖 Action ✕"])
        assert sorted(wait_for_drawn_cards(page)) == sorted(titles)
        assert error_badges(page) == []
        context.close()
    finally:
        demo.close()


def test_the_bin_starts_a_new_chat_without_the_old_request(browser, app_url):
    """The chat's 🗑 starts a new conversation: the old request leaves the box, the chips, the filters and the cards."""
    page = open_page(browser, app_url)
    pick_user(page, "u2")
    page.locator(".rec-card").first.wait_for()
    chat_recommends(page, NINETIES_SCI_FI)
    wait_for_chips(page, ["Sci-Fi ✕", "1990–1999 ✕"])

    new_chat(page)
    wait_for_chips(page, [])
    page.locator("#rec-status").get_by_text(re.compile(r"\d+ items for user u2(?! — from the chat)")).wait_for()
    assert request_box(page) == "" and years(page) == (1990, 2010) and categories(page) == []
    assert NINETIES_SCI_FI not in chat_text(page)

    # the next message starts from nothing: no 90s sci-fi filter comes back from the old conversation
    titles = chat_recommends(page, "recommend me something")
    assert not set(titles) <= {"Star Voyage", "Orbit Station"}, titles
    assert "1990–1999 ✕" not in chips(page) and "Sci-Fi ✕" not in chips(page)
    assert error_badges(page) == []


def test_a_turn_the_rules_answer_does_not_wait_behind_another_tabs_model_turn(browser, recommender):
    """'Queueing: a rule-decided turn waits behind another tab's model turn (2.1 s instead of 0.4 s).'"""
    with two_tabs_on_a_held_model(browser, recommender, mode="plan") as (first, second, held):
        second.evaluate(
            """() => { window.waited = false;
                new MutationObserver(() => { if (document.querySelector('#chat').innerText.includes('waiting for')) window.waited = true; })
                    .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
        )
        send_chat(first, "something to cheer me up")  # the rules cannot read it: the model does, until released
        first.get_by_text("thinking…").first.wait_for()
        assert held.called.wait(60), "the first tab's turn holds the model"
        sent = time.perf_counter()
        send_chat(second, NINETIES_SCI_FI)  # the rules read it all: no model, no line
        answer = wait_for_answer(second, NINETIES_SCI_FI)
        answered_after = time.perf_counter() - sent
        assert "Star Voyage" in answer and "Orbit Station" in answer, answer
        assert "Ask me for a film" not in chat_text(first) and "I read" not in chat_text(first), "the model turn is still running"
        assert answered_after < 5.0, f"the rule-decided turn took {answered_after:.1f} s"  # the time itself is what is tested
        assert not second.evaluate("() => window.waited"), "the rule-decided turn said it was waiting for another conversation"
        held.release.set()
        first.wait_for_function("() => document.querySelector('#chat').innerText.includes('something to cheer me up')")
        wait_for_answer(first, "something to cheer me up")
        assert error_badges(first) == [] and error_badges(second) == []


def test_the_chips_read_and_drop_on_a_phone(browser, app_url):
    """At 390 px the chips wrap inside the screen, and dropping one re-ranks like at desktop width."""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    pick_user(page, "u2")
    page.locator(".rec-card").first.wait_for()
    chat_recommends(page, NINETIES_SCI_FI)
    wait_for_chips(page, ["Sci-Fi ✕", "1990–1999 ✕"])
    for n in range(page.locator("#request-chips label").count()):
        box = page.locator("#request-chips label").nth(n).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box

    page.locator("#request-chips label", has_text="Sci-Fi ✕").click()
    wait_for_chips(page, ["1990–1999 ✕"])
    page.wait_for_function("() => [...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes('Paris in Spring'))")
    assert request_box(page) == "from 1990 to 1999" and categories(page) == [] and years(page) == (1990, 1999)
    drawn = wait_for_drawn_cards(page)  # the first new card shows before the rest are drawn
    assert all(t in ("Star Voyage", "Orbit Station", "Paris in Spring", "Wedding Season") for t in drawn), drawn
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert error_badges(page) == []
    page.close()

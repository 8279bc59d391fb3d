"""The page in headless Chromium, checked for honesty: numbers that agree with the words beside them, a time plot
whose clock is the one its title uses, a first visit that says what to do, and feedback that can be taken back.

One test per complaint a demanding user made (see each test's first line); the helpers and fixtures are
``tests/ui/test_browser.py``'s (system Chromium, the template-only chat agent, the small test catalog).
"""

from __future__ import annotations

import re

from tests.ui.test_browser import (  # noqa: F401  (fixtures)
    IN_CHROMIUM,
    TIMEOUT_MS,
    app_url,
    browser,
    card,
    card_titles,
    error_badges,
    open_page,
    pick_user,
    wait_for_marks,
)

pytestmark = IN_CHROMIUM

PHONE = {"width": 390, "height": 844}


def axis_labels(page, elem_id: str) -> list[str]:
    """The tick labels of a plot's axes, as drawn."""
    return page.evaluate("id => [...document.querySelectorAll(`#${id} svg g.role-axis-label text`)].map(t => t.textContent)", elem_id)


def test_the_scores_line_names_each_score_as_the_sentences_do(browser, app_url):
    """'The scores line says "content match 0.00" next to text saying "similarity 0.69".'"""
    page = open_page(browser, app_url)
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    first = card_titles(page)[0]
    card(page, first).get_by_role("button", name="Why?").click()
    scores = page.locator(".why-box .why-scores")
    scores.wait_for()
    line = scores.inner_text()
    assert "content match" not in line and "0.00" not in line.split("content search did not find it")[0], line
    final = re.search(r"relevance score \(final\) (\d\.\d\d)", line)
    assert final, line
    # the card's relevance score is the same number the scores line calls final
    assert card(page, first).locator(".card-score").inner_text().startswith(f"relevance score {final.group(1)}")
    assert error_badges(page) == []


def test_the_time_plot_reads_on_a_phone_with_a_24_hour_clock_and_no_single_rating_spike(browser, app_url):
    """'The evolution plot has a title saying 23:28–00:59 while its axis reads 11:20–12:50 (no AM/PM). A single rating
    spikes to 100 %. On a 390 px phone it draws empty and clipped.'"""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    assert wait_for_marks(page, "evolution-plot") >= 2, "the time plot draws its lines at 390 px"
    assert wait_for_marks(page, "distribution-plot") >= 2

    ticks = axis_labels(page, "evolution-plot")
    dates = [t for t in ticks if not t.endswith("%")]
    assert dates and all(re.fullmatch(r"(\d{4}-)?\d{2}-\d{2}( \d{2}:\d{2})?", t) for t in dates), ticks  # the date, a 24-hour clock
    text = page.locator("#evolution-plot").inner_text()
    assert "UTC" in text and not re.search(r"\b(AM|PM)\b", text), text  # the axis says its zone; no 12-hour clock
    # u1 rated one film a day: a point is a moving window of several ratings, and the plot says so
    assert re.search(r"share of last \d+ ratings", text), text
    assert "moving window" in page.locator("#evolution-caption").inner_text()

    # nothing is cut off at the right edge: the plots, their keys and the cards fit the phone's width
    for selector in ("#evolution-plot svg", "#distribution-plot svg", "#evolution-legend", "#distribution-legend", ".rec-card"):
        for box in [page.locator(selector).nth(n).bounding_box() for n in range(page.locator(selector).count())]:
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (selector, box)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#evolution-legend").get_by_text("Romance").is_visible()  # the colour key wraps instead of being cut
    assert error_badges(page) == []
    page.close()


def test_a_first_visit_lists_users_people_can_recognise_and_checks_new_ids(browser, app_url, recommender):
    """'The user list is 943 bare numbers; the chat still says "Pick a user" after one is picked; end users see developer
    text about WHYREC_RERANK_TOP=0; entering the existing id 650 in the new-user form silently adds ratings to user 650;
    "abc", "-1" and "<b>x</b>" are offered as new users without any check.'"""
    page = open_page(browser, app_url)
    assert "WHYREC_RERANK_TOP" not in page.locator("body").inner_text()
    page.locator("#user-picker input").click()
    first = page.get_by_role("option").first
    first.wait_for()
    assert re.fullmatch(r"u1 · a few ratings · mostly Romance( · more \S+ than most)?", first.inner_text().strip()), first.inner_text()
    page.keyboard.press("Escape")

    assert "Pick a user" in page.locator("#chat").inner_text()
    pick_user(page, "u2")
    page.get_by_text(re.compile(r"items for user u2")).wait_for()
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('Pick a user')")
    assert "WHYREC_RERANK_TOP" not in page.locator("body").inner_text()

    # the new-user form refuses an id that is someone else's, and their history is untouched
    before = recommender.store.db.history("u3")
    page.get_by_text("New user? Rate a few items to start").click()
    page.get_by_label("New user id").fill("u3")
    page.get_by_label("Search the catalog").fill("starship in space")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_label("Nebula Run (2005)").check()
    page.get_by_role("button", name="Add ratings and use this user").click()
    page.locator("#new-user-notice").get_by_text("User u3 already exists — pick them in the User box above").wait_for()
    assert recommender.store.db.history("u3") == before

    # ids that break the rule are refused with the rule, in one line, shown as typed (no markup)
    page.get_by_label("New user id").fill("<b>x</b>")
    page.get_by_role("button", name="Add ratings and use this user").click()
    page.locator("#new-user-notice").get_by_text("“<b>x</b>” cannot be a user id — use letters, digits").wait_for()
    assert page.locator("#new-user-notice b").count() == 0
    for bad in ("-1", "<b>x</b>"):
        pick_user(page, bad)
        page.locator("#unknown-user").get_by_text(f"“{bad}” cannot be a user id").wait_for()
        assert not page.get_by_role("button", name="Start as a new user").is_visible()
    assert recommender.store.db.history("-1") == [] and "<b>x</b>" not in recommender.store.db.users()
    pick_user(page, "abc")  # a good new id is still offered
    page.locator("#unknown-user").get_by_text("There is no user abc yet").wait_for()
    assert page.get_by_role("button", name="Start as a new user").is_visible()
    assert error_badges(page) == []


def test_a_seen_film_says_so_and_a_dislike_can_be_undone(browser, app_url, recommender):
    """'Films already seen have no "seen" mark when "exclude what I've seen" is off; there is no undo for 👎 or
    "not interested".'"""
    seen = {recommender.items[x.item_id].title for x in recommender.store.db.history("u1")}
    page = open_page(browser, app_url)
    pick_user(page, "u1")
    page.locator(".rec-card").first.wait_for()
    page.get_by_label("Exclude what I've seen").uncheck()
    page.wait_for_function("() => document.querySelectorAll('.rec-card .card-seen').length > 0")
    for title in card_titles(page):
        marked = card(page, title).locator(".card-seen").count() == 1
        assert marked == (title in seen), title
    assert "you rated it 5" in page.locator(".rec-card .card-seen").first.inner_text()

    page.get_by_label("Exclude what I've seen").check()
    page.wait_for_function("() => document.querySelectorAll('.rec-card .card-seen').length === 0")
    first = card_titles(page)[0]
    card(page, first).get_by_role("button", name="👎").click()
    page.locator("#undo-text").get_by_text(f"You marked {first} as not for you").wait_for()
    page.wait_for_function("title => ![...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes(title))", arg=first)
    assert len(recommender.store.db.feedback("u1")) == 1

    page.locator("#undo-button").click()
    page.get_by_text(f"Undone: disliked — '{first}'").first.wait_for()
    page.wait_for_function("title => [...document.querySelectorAll('.rec-card h4')].some(h => h.innerText.includes(title))", arg=first)
    assert recommender.store.db.feedback("u1") == []
    assert not page.locator("#undo-button").is_visible()
    assert error_badges(page) == []

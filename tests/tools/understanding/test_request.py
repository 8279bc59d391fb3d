"""Request understanding: what a free-text request asks for, read against the catalog's own vocabulary.

Parser cases run on the small test catalog plus two horror films (the real packaged MiniLM matches
mood words to category names); the integration tests run the whole pipeline on a real small store.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import time

import pytest

from whyrec.store.records import Item
from whyrec.tools.recommend.recommender import Recommender
from whyrec.tools.recommend.scoring import RecommendationList
from whyrec.tools.understanding.parser import RequestParser
from whyrec.tools.understanding.request import CategoryAsk
from whyrec.tools.recommend.retrieval import CatalogFacets, ItemFilter

from tests.conftest import SMALL_CATALOG

HORROR = [
    Item("hor1", "Night Terror", "A babysitter is stalked by a masked killer.", ("Horror",), 1984),
    Item("hor2", "The Crypt", "Grave robbers wake something under a church.", ("Horror", "Thriller"), 1996),
]
CATALOG = {i.item_id: i for i in SMALL_CATALOG + HORROR}
SHOP = {
    i.item_id: i
    for i in [
        Item("k1", "Chef knife", "A sharp steel knife.", ("Kitchen",)),
        Item("k2", "Frying pan", "Cast iron pan.", ("Kitchen",)),
        Item("t1", "Wooden train set", "Tracks and engines.", ("Toys",)),
        Item("t2", "Rag doll", "A soft doll.", ("Toys",)),
        Item("g1", "Rose bush", "Climbing roses.", ("Garden",)),
        Item("g2", "Garden hose", "Twenty metres.", ("Garden",)),
    ]
}


@pytest.fixture(scope="module")
def parser(embedder) -> RequestParser:
    return RequestParser(CATALOG, embedder)


def ids(recs) -> list[str]:
    return [r.item.item_id for r in recs]


# --- hard constraints: years and categories ----------------------------------------------------

def test_scary_from_the_80s_is_the_80s_and_horror(parser):
    parsed = parser.parse("something scary from the 80s")
    assert (parsed.years.start, parsed.years.end) == (1980, 1989)
    assert any("Horror" in ask.categories for ask in parsed.categories)
    assert "1980–1989" in parsed.summary() and "Horror" in parsed.summary()
    assert "because you asked for 'something scary from the 80s'" in parsed.summary()


def test_a_parsed_request_cannot_be_changed(parser):
    """What was read is shown as "Understood:" after the recommender applied it, so nothing downstream may edit it."""
    parsed = parser.parse("something scary from the 80s, not Star Voyage, like Night Terror")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.years = None
    with pytest.raises(AttributeError):
        parsed.categories.append(CategoryAsk(("Comedy",), "funny", "name"))
    with pytest.raises(AttributeError):
        parsed.notes.append("Understood: nothing.")
    with pytest.raises(TypeError):
        parsed.titles["hor1"] = "Another title"
    changed = dataclasses.replace(parsed, like_item_ids=[])  # a changed request is a new one, frozen too
    assert parsed.like_item_ids == ("hor1",) and changed.like_item_ids == () and changed.exclude_item_ids == ("space1",)
    assert copy.deepcopy(parsed).summary() == parsed.summary() == pickle.loads(pickle.dumps(parsed)).summary()


def test_funny_sci_fi_asks_for_both_comedy_and_sci_fi(parser):
    parsed = parser.parse("a funny sci-fi movie")
    assert sorted(ask.categories for ask in parsed.categories) == [("Comedy",), ("Sci-Fi",)]
    assert parsed.years is None


def test_before_1970_and_recent(parser):
    before = parser.parse("a movie made before 2000").years
    assert (before.start, before.end) == (None, 1999)
    too_old = parser.parse("before 1970")  # this catalog starts in 1984: say so, favour the oldest instead
    assert too_old.years is None and too_old.boost_years[0].end == 1969
    assert "Nothing in the catalog is from 1969 or earlier (the catalog covers 1984–2010)" in " ".join(too_old.notes)
    recent = parser.parse("something recent").years
    assert (recent.start, recent.end) == (2008, 2010)  # the newest three years of this catalog (max 2010)


def test_category_words_inside_a_title_are_not_categories(parser):
    parsed = parser.parse("not Star Voyage")
    assert parsed.exclude_item_ids == ("space1",) and not parsed.exclude_categories


# --- titles: like, not, outside the catalog ---------------------------------------------------

def test_like_a_catalog_title_is_more_like_this(parser):
    parsed = parser.parse("something like Star Voyage")
    assert parsed.like_item_ids == ("space1",)
    assert parser.parse("like Star Voyge").like_item_ids == ("space1",)  # misspelt


def test_what_follows_a_liked_title_is_still_read(parser):
    parsed = parser.parse("something like Star Voyage and a love story")
    assert parsed.like_item_ids == ("space1",)
    assert [ask.categories for ask in parsed.categories] == [("Romance",)]


def test_serious_and_moving_asks_for_drama(parser):
    parsed = parser.parse("Can you suggest something serious and moving?")
    assert [ask.categories for ask in parsed.categories] == [("Drama",)]


def test_not_a_title_excludes_it_and_its_sequel(parser):
    parsed = parser.parse("not Nebula Run")
    assert set(parsed.exclude_item_ids) == {"space4", "space5"}
    assert parsed.query_text == ""  # embedding "Nebula Run" would pull towards it


def test_a_colon_or_an_initial_inside_a_title_does_not_cut_it(embedder):
    spy = Item("spy1", "Mission: Impossible", "An agent is framed for a failed mission.", ("Action", "Thriller"), 1996)
    soldier = Item("war1", "G.I. Jane", "A woman trains with the Navy SEALs.", ("Action", "War"), 1997)
    parser = RequestParser({**CATALOG, spy.item_id: spy, soldier.item_id: soldier}, embedder)
    assert parser.parse("From the 90s. Not Mission: Impossible. Something else?").exclude_item_ids == ("spy1",)
    assert parser.parse("A drama. No, not G.I. Jane.").exclude_item_ids == ("war1",)
    assert parser.parse("something like Mission: Impossible").like_item_ids == ("spy1",)
    assert [a.categories for a in parser.parse("no comedy: something else").exclude_categories] == [("Comedy",)]


def test_an_exclamation_mark_or_an_alternate_title_inside_a_title_does_not_cut_it(embedder):
    spoof = Item("spoof1", "Hot Shots! Part Deux", "A spoof of action films.", ("Action", "Comedy"), 1993)
    drama = Item("dr9", "Like Water For Chocolate (Como agua para chocolate)", "Love through cooking.", ("Drama", "Romance"), 1992)
    parser = RequestParser({**CATALOG, spoof.item_id: spoof, drama.item_id: drama}, embedder)
    assert parser.parse("A comedy. No, not Hot Shots! Part Deux.").exclude_item_ids == ("spoof1",)  # it came back: "!" ended the title
    said = parser.parse("A drama. Not Like Water For Chocolate (Como agua para chocolate). Something else?")
    assert said.exclude_item_ids == ("dr9",) and not any("not in the catalog" in n or "did not understand" in n for n in said.notes)
    assert parser.parse("not like water for chocolate").exclude_item_ids == ("dr9",)  # the title without its other name
    assert parser.parse("not Hot Shots! Something funny").exclude_item_ids == ()  # a "!" outside a title still ends the phrase


def test_not_a_genre_excludes_the_genre(parser):
    parsed = parser.parse("no romance, something from the 90s")
    assert [ask.categories for ask in parsed.exclude_categories] == [("Romance",)]
    assert "romance" not in parsed.query_text.lower()


def test_a_title_outside_the_catalog_is_said_and_used_for_its_words(parser):
    parsed = parser.parse("something like Star Wars")
    assert parsed.unknown_titles == ("Star Wars",) and not parsed.like_item_ids
    assert len(parsed.unknown_title_vectors) == 1
    note = " ".join(parsed.notes)
    assert "'Star Wars' is not in the catalog" in note and "2010" in note  # the catalog's own newest year


def test_titles_named_outright_are_read_as_titles_and_i_love_is_not_romance(parser):
    parsed = parser.parse("Recommend me Inception and The Dark Knight, I love Christopher Nolan.")
    assert parsed.unknown_titles == ("Inception", "The Dark Knight", "Christopher Nolan")
    assert not parsed.categories and not parsed.boost_categories  # neither 'love' nor 'Inception' is a genre wish
    assert parser.parse("Recommend me Star Voyage").like_item_ids == ("space1",)
    assert sorted(a.categories for a in parser.parse("A Funny Sci-Fi Movie").categories) == [("Comedy",), ("Sci-Fi",)]


# --- bad input ---------------------------------------------------------------------------------

def test_gibberish_says_so_and_drops_the_request_text(parser):
    parsed = parser.parse("asdkjh qwpoeiru zzxvbn")
    assert parsed.problem == "gibberish" and parsed.query_vector is None
    assert "could not make sense" in " ".join(parsed.notes)


def test_another_language_says_so_and_keeps_what_it_recognised(parser):
    parsed = parser.parse("Prosím nějakou komedii, 1990-1995")  # Czech: no phrasebook for it
    assert parsed.problem == "language" and "English, Spanish" in " ".join(parsed.notes)
    assert (parsed.years.start, parsed.years.end) == (1990, 1995)


def test_a_language_the_phrasebook_holds_is_read(parser):
    parsed = parser.parse("une comédie des années 80")  # before: "not English", and only the years were kept
    assert parsed.problem is None and parsed.language == "fr"
    assert [a.categories for a in parsed.categories] == [("Comedy",)]
    assert (parsed.years.start, parsed.years.end) == (1980, 1989)


def test_foreign_or_unreadable_words_in_an_english_request_are_named_not_dropped_silently(parser):
    parsed = parser.parse("something funny, muy gracioso")  # before: Comedy, and not a word about 'muy gracioso'
    assert parsed.problem is None and [a.categories for a in parsed.categories] == [("Comedy",)]
    assert parsed.unread == ("muy gracioso",)
    assert "I did not understand 'muy gracioso', so these follow the rest of your request." in parsed.notes
    assert "gracioso" not in parsed.query_text  # what the note says: the rest of the request is what was used
    assert parser.parse("a funny movie, muy gracioso").unread == ("muy gracioso",)
    assert parser.parse("a funny movie asdkjh").unread == ("asdkjh",)
    # English words with accents, and plain English, are read as usual
    for request in ("a naïve romance set in a café", "a film where people die", "a romantic comedy with a happy ending"):
        parsed = parser.parse(request)
        assert parsed.unread == () and parsed.problem is None, request  # "a naïve romance" was "not English"


def test_a_title_written_in_lower_case_after_like_is_said_and_used_for_its_words(parser):
    parsed = parser.parse("something like the matrix")  # before: read as nothing, and nothing said
    assert parsed.unknown_titles == ("the matrix",) and len(parsed.unknown_title_vectors) == 1
    assert "I found no title 'the matrix' in the catalog" in " ".join(parsed.notes)
    for request in ("I feel like crying", "movies like the ones my dad likes", "something like this", "I'd like a comedy"):
        parsed = parser.parse(request)
        assert parsed.unknown_titles == () and parsed.unread == (), request  # "I'd" was 'not understood'
    assert [a.categories for a in parser.parse("a rom-com").categories] == [("Romance", "Comedy")]  # was "could not make sense"


def test_a_misspelt_category_word_is_read_and_the_note_says_how(parser):
    parsed = parser.parse("somthing scray from the 80s")  # before: years only, and 'scray' dropped without a word
    assert [a.categories for a in parsed.categories] == [("Horror", "Thriller")] and parsed.years.start == 1980
    assert "Taking 'scray' to mean 'scary'." in parsed.notes
    assert [a.categories for a in parser.parse("a funy romace").categories] == [("Comedy",), ("Romance",)]
    # real words keep their own meaning: 'scar' is not 'scary', 'crimes' is Crime by its name
    assert not parser.parse("a scar on his face").categories
    assert not any(n.startswith("Taking") for n in parser.parse("crimes of passion").notes)


def test_a_5000_character_request_is_read_in_part_quickly(parser):
    request = ("I want a funny film with spaceships " * 200)[:5000]
    start = time.perf_counter()
    parsed = parser.parse(request)
    assert time.perf_counter() - start < 5.0
    assert len(parsed.text) <= 500 and any("5,000 characters" in n for n in parsed.notes)
    assert ("Comedy",) in [a.categories for a in parsed.categories]  # still read: 'funny'



def test_contradictory_years_say_nothing_matches_both(parser):
    parsed = parser.parse("a 1950s movie from 1995")
    assert parsed.problem == "contradiction" and parsed.years is None
    assert "Nothing matches both 1950–1959" in " ".join(parsed.notes)
    assert len(parsed.boost_years) == 2  # the closest items to either range are favoured


# --- the catalog's own categories ---------------------------------------------------------------

def test_mood_words_map_to_a_shops_categories_by_embedding(embedder):
    shop = RequestParser(SHOP, embedder)
    cooking = shop.parse("something for cooking")
    assert [(a.categories, a.how) for a in cooking.boost_categories] == [(("Kitchen",), "embedding")]
    assert [a.categories for a in shop.parse("gear for gardening").boost_categories] == [("Garden",)]
    funny = shop.parse("a funny sci-fi movie")  # the film lexicon means nothing to a shop
    assert not funny.categories and not funny.boost_categories


# --- naming one item (chat: "why X?") -----------------------------------------------------------

def test_resolve_title_by_title_misspelling_position_or_not_at_all(parser):
    assert parser.resolve_title("Orbit Station").item.item_id == "space2"
    fuzzy = parser.resolve_title("Orbit Statoin")
    assert fuzzy.how == "fuzzy" and fuzzy.item.item_id == "space2"
    assert parser.resolve_title("the second one", shown=["rom1", "crime3"]).item.item_id == "crime3"
    missing = parser.resolve_title("The Matrix")
    assert missing.item is None and "not in the catalog" in missing.message and "2010" in missing.message


# --- the whole pipeline on a real small store -----------------------------------------------------

def test_returned_items_meet_the_hard_constraints(recommender):
    recs = recommender.recommend("u3", "a crime film before 2000", k=10)
    assert isinstance(recs, RecommendationList) and recs
    assert all("Crime" in r.item.categories and r.item.year < 2000 for r in recs)
    assert set(ids(recs)) == {"crime1", "crime2"}  # every unseen 1990s crime film, nothing else
    understood = json.loads(json.dumps(recs.to_dict()))["understood"]  # what a UI or an API caller receives
    assert understood["years"]["max"] == 1999 and understood["categories"][0]["categories"] == ["Crime"]


def test_not_a_title_keeps_it_out_of_the_list(small_store, reranker):
    on = Recommender(small_store, reranker)
    off = Recommender(small_store, reranker, request_parsing=False)
    assert "space4" in ids(off.recommend("u2", "not Nebula Run", k=5))  # the embedding alone pulls towards it
    recs = on.recommend("u2", "not Nebula Run", k=5)
    assert recs and not {"space4", "space5"} & set(ids(recs))
    assert off.recommend("u2", "not Nebula Run", k=5).understood is None


def test_explicit_filters_win_a_conflict_and_say_so(recommender):
    recs = recommender.recommend("u3", "a crime film from the 90s", k=10, year_min=2000)
    assert recs and all(r.item.year >= 2000 for r in recs)
    assert any("Your year filter" in n for n in recs.notes)


def test_bad_requests_still_recommend(recommender):
    for request in ["asdkjh qwpoeiru zzxvbn", "x" * 5000, "películas de terror de los 80", "a 1950s movie from 1995"]:
        recs = recommender.recommend("u1", request, k=3)
        assert recs.notes, request
        assert len(recs) >= 1, request
    contradiction = recommender.recommend("u1", "a 1950s movie from 1995", k=3)
    assert any("Nothing matches both" in n for n in contradiction.notes)


def test_explanations_name_the_constraint(recommender):
    shown = recommender.explain("u3", "crime1", "a crime film before 2000")
    assert "Filtered to 1999 or earlier and Crime because you asked for 'a crime film before 2000'" in shown.text
    ruled_out = recommender.explain("u3", "crime3", "a crime film before 2000")
    assert ruled_out.status == "filtered"
    assert "rules it out: it is from 2002, outside 1999 or earlier" in ruled_out.text


def test_the_filter_counted_in_python_matches_chromas_where(small_store):
    facets = CatalogFacets.of(small_store.db.items())
    filters = [
        ItemFilter(all_of=(("Comedy",), ("Romance",))),
        ItemFilter(all_of=(("Sci-Fi", "Crime"),), none_of=("Action",), year_max=2003),
        ItemFilter(("Romance",), none_of=("Drama",), year_min=1995),
        ItemFilter(year_min=1990, year_max=1999),
    ]
    for item_filter in filters:
        chroma = set(small_store.index.collection.get(where=item_filter.where(), include=[])["ids"])
        assert facets.select(item_filter) == chroma, item_filter


def test_dont_want_is_an_exclusion_not_a_wish(parser):
    parsed = parser.parse("I don't want anything scary")
    assert not parsed.categories and any("Horror" in a.categories for a in parsed.exclude_categories)


@pytest.mark.parametrize(
    "text", ["A romantic movie please, my son hates horror.", "Take the horror ones out of that list.", "leave out the horror", "romance, I can't stand horror"]
)
def test_hating_or_taking_out_a_category_leaves_it_out(parser, text):
    parsed = parser.parse(text)  # before: "hates horror" and "the horror ones" asked for Horror
    assert {c for a in parsed.exclude_categories for c in a.categories} == {"Horror"}
    assert not any("Horror" in a.categories for a in parsed.categories)


def test_a_closing_instead_is_read_and_instead_of_is_not(parser):
    assert parser.parse("something romantic instead").rules_sure  # before: "instead" sent the turn to the model
    assert "instead" in parser.parse("a comedy instead of a drama").unaccounted


def test_several_exclusions_in_one_phrase(parser):
    parsed = parser.parse("no romance, comedy or drama please")
    assert {c for a in parsed.exclude_categories for c in a.categories} == {"Romance", "Comedy", "Drama"}


ODD_REQUESTS = [
    "not", "like", "not not", "'''", "(((", "\x00\x01", "   ", "1999-1990", "the 00s", "from 1800", "🙂🎬 scary 🎃",
    "مرحبا فيلم", "怖い映画 80年代", "like like like", "not like Nebula Run", "after 2005 but before 2000",
    "no romance no comedy no drama no sci-fi no crime no action", "something like Star Wars, not Star Voyage, from the 90s",
]


def test_odd_requests_never_raise(parser):
    for request in ODD_REQUESTS:
        parsed = parser.parse(request)
        assert isinstance(parsed.to_dict()["notes"], list) and isinstance(parsed.summary(), str), request
    assert parser.parse("after 2005 but before 2000").problem == "contradiction"


def test_why_not_the_item_asked_to_be_like(recommender):
    explanation = recommender.explain("u2", "space1", "something like Star Voyage")
    assert "You asked for items like it" in explanation.text
    assert "space1" not in ids(recommender.recommend("u2", "something like Star Voyage", k=10))


def test_in_a_refined_request_the_last_word_on_an_item_wins(parser) -> None:
    # a chat appends refinements to the request: "not X" after "like X" stops asking for more like X, and the reverse
    turned = parser.parse("a space movie. More like Star Voyage. Not Star Voyage, something older")
    assert turned.exclude_item_ids == ("space1",) and turned.like_item_ids == ()
    assert "more like" not in turned.notes[0] and "not 'Star Voyage'" in turned.notes[0]
    back = parser.parse("Not Star Voyage. Actually, more like Star Voyage")
    assert back.like_item_ids == ("space1",) and back.exclude_item_ids == ()


def test_a_category_asked_for_and_then_left_out_keeps_the_last_word(parser) -> None:
    # before: Horror or Thriller was both the filter and excluded, so nothing matched and the notes contradicted each other
    milder = parser.parse("something scary from the 80s. Not too scary")
    assert milder.categories == () and [a.categories for a in milder.exclude_categories] == [("Horror", "Thriller")]
    assert milder.years is not None and milder.years.label == "1980–1989"
    less = parser.parse("something less scary")
    assert less.categories == () and [a.categories for a in less.exclude_categories] == [("Horror", "Thriller")]
    back = parser.parse("no horror. OK, horror then")
    assert [a.categories for a in back.categories] == [("Horror",)] and back.exclude_categories == ()
    assert parser.parse("a film less than two hours long").exclude_categories == ()


def test_lighter_and_newer_lean_the_list_without_filtering_it(parser) -> None:
    # before, "something lighter" and "something newer" were read as nothing at all
    lighter = parser.parse("something lighter")
    assert [a.categories for a in lighter.boost_categories] == [("Comedy",)] and lighter.categories == ()
    assert [a.categories for a in parser.parse("a feel-good, light-hearted film").boost_categories] == [("Comedy",)]
    newer = parser.parse("something newer")
    assert newer.years is None and len(newer.boost_years) == 1 and newer.boost_years[0].end is None
    assert newer.soft_match(CATALOG["rom4"]) > newer.soft_match(CATALOG["rom1"])  # 2008 leans ahead of 1992


def test_a_later_sentence_with_years_replaces_the_earlier_years(parser) -> None:
    # a chat appends refinements as sentences: "make it from the 90s" after "a funny 80s movie" means the 90s
    moved = parser.parse("a funny 80s movie. Make it from the 90s.")
    assert moved.years is not None and moved.years.label == "1990–1999" and moved.problem is None
    assert [a.categories for a in moved.categories] == [("Comedy",)]
    # one sentence's own contradiction still says so, and the earlier decade is not part of it
    both = parser.parse("something scary from the 80s. a 1950s movie from 1995")
    assert both.problem == "contradiction" and "1980" not in both.notes[-1]


def test_a_leaning_word_does_not_repeat_a_category_already_asked_for(parser) -> None:
    refined = parser.parse("a funny movie. something lighter")
    assert [a.categories for a in refined.categories] == [("Comedy",)] and refined.boost_categories == ()
    assert "leaning to Comedy" not in refined.notes[0]


def test_why_the_item_a_list_is_like_says_it_was_left_out_on_purpose(recommender):
    why = recommender.explain("u2", "space1", "more like Star Voyage")
    assert why.status == "filtered" and "not among the candidates" not in why.text and "You asked for items like it" in why.text


def test_notes_quote_the_newest_words_and_the_word_the_person_wrote(parser) -> None:
    chat = parser.parse("a romantic film for a rainy sunday afternoon with my sister. something older. no drama please")
    assert chat.summary().endswith("because you asked for '…afternoon with my sister. something older. no drama please'.")
    assert any("'Meg Ryan' (after 'no')" in n for n in parser.parse("a romantic comedy but no Meg Ryan").notes)


def test_darker_leans_and_the_newest_year_leaning_wins(parser) -> None:
    darker = parser.parse("something darker")  # before: read as nothing
    assert darker.categories == () and darker.boost_categories and "Thriller" in darker.boost_categories[0].categories
    turned = parser.parse("something older. something newer")  # before: leaning both ways at once
    assert len(turned.boost_years) == 1 and turned.boost_years[0].end is None



def test_a_capitalised_run_ends_at_a_whole_word(parser):
    parsed = parser.parse("I want to see Como agua para chocolate")
    # before: the run took the 'a' of 'agua' as the article "a": "'Como a' is not in the catalog", "I did not understand 'gua para'"
    assert parsed.unknown_titles == ("Como",) and parsed.unread == ("agua para",)


@pytest.mark.parametrize(
    ("request_text", "about"),
    [
        ("a movie about a shark", "shark"),
        ("a movie set on a submarine", "submarine"),
        ("a heist movie", "heist"),
        ("a 90s movie about a serial killer", "serial killer"),
        ("a computer that goes rogue", "computer goes rogue"),
        ("something funny from the 90s", ""),
        ("a horror movie, not Nebula Run", ""),
        ("I want something like The Heist", ""),
        ("hey, what's a good thriller?", ""),  # before: about "hey what's"
    ],
)
def test_what_a_request_is_about_is_read_apart_from_its_filters(parser, request_text: str, about: str) -> None:
    parsed = parser.parse(request_text)

    assert parsed.about == about
    if about:
        assert f"about '{about}'" in parsed.notes[0], "the Understood line says what was searched for"
        assert f"searching the stories for '{about}'" in parsed.summary().lower()


def test_a_courtroom_drama_filters_to_drama_and_searches_for_the_courtroom(parser) -> None:
    parsed = parser.parse("a courtroom drama from the 90s")

    assert [c.categories for c in parsed.categories] == [("Drama",)]
    assert parsed.years is not None and (parsed.years.start, parsed.years.end) == (1990, 1999)
    assert parsed.about == "courtroom"


@pytest.mark.parametrize("title", ["Murder in the First", "I Like It Like That"])
def test_a_title_holding_a_break_word_is_left_out_whole(embedder, title: str) -> None:
    items = {**CATALOG, "t": Item("t", title, "A story.", ("Drama",), 1995)}
    parsed = RequestParser(items, embedder).parse(f"A good drama. Not {title}. Something else?")

    assert parsed.exclude_item_ids == ("t",)
    assert parsed.about == "", "the left-out title's words are not searched for"


# --- years said the other way round, parts of decades, recency, plural category names ------------

@pytest.mark.parametrize(
    ("request_text", "first", "last"),
    [
        ("a thriller, but nothing from before 1990", 1990, None),  # before: 1989 or earlier, the very years ruled out
        ("not before 1990", 1990, None),
        ("no earlier than 1985", 1985, None),
        ("nothing older than 1990", 1990, None),
        ("nothing after 1995", None, 1995),
        ("no later than 1992", None, 1992),
        ("not after 1990", None, 1990),
        ("nothing made before the 90s", 1990, None),
        ("nothing pre-1990", 1990, None),
        ("since 1990", 1990, None),
        ("after 1990", 1991, None),
        ("before 1990", None, 1989),
    ],
)
def test_a_negated_time_bound_is_read_the_right_way_round(parser, request_text: str, first, last) -> None:
    parsed = parser.parse(request_text)

    assert parsed.years is not None and (parsed.years.start, parsed.years.end) == (first, last)
    assert not parsed.exclude_categories and not parsed.exclude_item_ids


@pytest.mark.parametrize(
    ("request_text", "first", "last"),
    [
        ("comedies from the early 90s", 1990, 1993),  # before: the whole decade
        ("mid 80s", 1984, 1986),
        ("a mid-80s thriller", 1984, 1986),
        ("late 80s", 1987, 1989),
        ("early nineties", 1990, 1993),
        ("the late 1990s", 1997, 1999),
        ("early-90s", 1990, 1993),
        ("before the late 80s", None, 1986),
    ],
)
def test_part_of_a_decade_is_those_years(parser, request_text: str, first, last) -> None:
    parsed = parser.parse(request_text)

    assert parsed.years is not None and (parsed.years.start, parsed.years.end) == (first, last)


@pytest.mark.parametrize("request_text", ["a drama from the last few years", "recent years", "something lately", "in recent years"])
def test_the_last_few_years_are_the_catalogs_newest(parser, request_text: str) -> None:
    parsed = parser.parse(request_text)

    assert parsed.years is not None and (parsed.years.start, parsed.years.end) == (2008, 2010)  # as "recent"
    assert parsed.about == "", "'last few' is not what the films are about"


@pytest.mark.parametrize(
    ("request_text", "category"),
    [("comedies from the early 90s", "Comedy"), ("documentaries", "Documentary"), ("thrillers", "Thriller"), ("no romances", "Romance")],
)
def test_a_plural_category_name_is_read_as_the_name(parser, request_text: str, category: str) -> None:
    parsed = parser.parse(request_text)

    asks = parsed.exclude_categories if request_text.startswith("no ") else parsed.categories
    assert [(a.categories, a.how) for a in asks] == [((category,), "name")]
    assert parsed.about == "" and not parsed.boost_categories  # before: "comedies" was a mood word and the subject


# --- coverage: whether the rules read every word --------------------------------------------------

@pytest.mark.parametrize(
    "request_text",
    [
        "a horror movie from the 80s",
        "a courtroom drama",
        "a movie about a shark",
        "a shark movie",
        "a thriller, but nothing from before 1990",
        "comedies from the early 90s",
        "Can you recommend a good sci-fi movie, please?",
        "something like Star Voyage, but no horror",
        "I'd like a romance set in Paris",
        "a drama from the last few years",
        "asdkjh qwrtz",  # gibberish: no model reads it better, and the notes say so
    ],
)
def test_the_rules_are_sure_when_they_account_for_every_word(parser, request_text: str) -> None:
    parsed = parser.parse(request_text)

    assert parsed.unaccounted == () and parsed.rules_sure


@pytest.mark.parametrize(
    ("request_text", "unaccounted"),
    [
        ("What do you think I like?", ["think"]),  # was searched for as the subject "think"
        ("something to cheer me up", ["cheer", "up"]),
        ("something to cheer me up after a long week", ["cheer", "up", "after", "long", "week"]),
        ("not too violent please", ["not", "violent"]),  # the exclusion named nothing: it was dropped, not read
        ("funnier than Star Voyage", ["than"]),  # "funnier" asks for Comedy; what it compares with is not read
        ("something like Inception", ["inception"]),  # not in the catalog: its words are a guess
        ("a movie to watch with my wife", ["wife"]),  # company, not a subject
        ("something not from the 80s", ["not", "80s"]),
    ],
)
def test_words_the_rules_did_not_read_for_sure_are_named(parser, request_text: str, unaccounted: list[str]) -> None:
    parsed = parser.parse(request_text)

    assert list(parsed.unaccounted) == unaccounted and not parsed.rules_sure
    assert parsed.to_dict()["unaccounted"] == unaccounted


def test_another_language_or_an_unread_phrase_is_never_sure(parser) -> None:
    foreign = parser.parse("una película de terror que me haga llorar a mares")  # the phrasebook reads "de terror" only
    mixed = parser.parse("something funny, muy gracioso")

    assert foreign.language == "es" and not foreign.rules_sure
    assert mixed.unread and "gracioso" in mixed.unaccounted and not mixed.rules_sure


# --- films written with their year ("The Heist (1994)"), as people and ReDial write them --------------

def test_a_catalog_film_with_its_year_is_more_like_it_and_no_year_filter(parser):
    parsed = parser.parse("I loved The Heist (1994), anything similar?")
    assert parsed.like_item_ids == ("crime1",)
    assert parsed.years is None and not parsed.boost_years


def test_a_film_outside_the_catalog_keeps_its_words_out_of_the_categories(parser):
    parsed = parser.parse("I'm looking for a romance. I like The Horror Picture Show (1975)")
    assert [ask.categories for ask in parsed.categories] == [("Romance",)]  # "Horror" is part of a title
    assert parsed.unknown_titles == ("The Horror Picture Show (1975)",)
    assert any("not in the catalog" in note for note in parsed.notes)


def test_a_catalog_title_of_another_year_is_another_film(parser):
    parsed = parser.parse("something like Detective Noir (2015)")  # a remake, not the 1997 film
    assert "crime2" not in parsed.like_item_ids
    assert parsed.unknown_titles == ("Detective Noir (2015)",)


def test_only_the_dated_title_is_taken_from_a_run_of_capitals(parser):
    # a shouted message is one run of capitals up to the year: the words before the title are still the request
    parsed = parser.parse("I WANT A ROMANCE. MY SISTER AND I REALLY ENJOYED The Heist (1994)")
    assert list(parsed.like_item_ids) == ["crime1"]
    assert any("Romance" in ask.categories for ask in [*parsed.categories, *parsed.boost_categories])

"""A model's reading of a request: only what the message supports is kept, and its English reads back for sure."""

from __future__ import annotations

from dataclasses import replace

import pytest
from whyrec.store.records import Item
from whyrec.tools.understanding.parser import RequestParser
from whyrec.tools.understanding.request import ParsedRequest
from whyrec.tools.understanding.structured import ModelRequest, checked_request, english_request, nothing_read, request_schema
from whyrec.tools.understanding.vocabulary import CatalogVocabulary

from tests.conftest import SMALL_CATALOG

VOCABULARY = CatalogVocabulary({item.item_id: item for item in SMALL_CATALOG})


def test_the_schema_offers_only_the_catalogs_genres_and_short_strings() -> None:
    schema = request_schema(VOCABULARY)
    genres = schema["properties"]["genres"]["items"]["enum"]
    assert set(genres) == {c for item in SMALL_CATALOG for c in item.categories}
    assert schema["required"] == ["intent"]  # a small model writes only what the message gives
    assert schema["properties"]["about"]["maxLength"] <= 40 and schema["properties"]["titles"]["items"]["maxLength"] <= 60


@pytest.mark.parametrize(
    ("raw", "text", "kept"),
    [
        # "una película de terror des años 80": the decade is written, so 1980-1989 is kept
        ({"genres": ["Thriller"], "from_year": 1980, "to_year": 1989}, "una película de suspense de los años 80",
         {"genres": ["Thriller"], "from_year": 1980, "to_year": 1989}),
        ({"from_year": 1990}, "a thriller, but nothing from before 1990", {"from_year": 1990, "to_year": None}),
        ({"from_year": 1980, "to_year": 1983}, "comedies from the early 80s", {"from_year": 1980, "to_year": 1983}),
        ({"from_year": 1970, "to_year": 1979}, "ein Film aus den 70ern", {"from_year": 1970, "to_year": 1979}),
        # an invented year is dropped; a range that runs backwards too
        ({"from_year": 1975}, "a scary movie", {"from_year": None}),
        ({"from_year": 1995, "to_year": 1990}, "between 1990 and 1995", {"from_year": None, "to_year": None}),
        # exclusions need a negation in the message, in its language
        ({"not_genres": ["Comedy", "Romance"]}, "a movie about a shark", {"not_genres": []}),
        ({"not_genres": ["Comedy"]}, "un film d'action, sans comédie", {"not_genres": ["Comedy"]}),
        # titles must be written in the message; counts must be said
        ({"titles": ["Star Voyage", "Inception"]}, "something like star voyage", {"titles": ["Star Voyage"]}),
        ({"count": 3}, "just 3 please", {"count": 3}),
        ({"count": 3}, "drei Filme bitte", {"count": 3}),
        ({"count": 7}, "a few films", {"count": None}),
        # "about" words of an English message must be its own words (the model added "space station")
        ({"about": "sharks space station"}, "a movie about sharks", {"about": "sharks"}),
        # and content: greetings and stop words are no subject (ReDial openings read as "about Hello", "about as")
        ({"about": "Hello"}, "Hello, something funny as a treat", {"about": ""}),
        ({"about": "as favorite heist"}, "my favorite is a heist as good as Heat", {"about": "heist"}),
        ({"intent": "launch_rockets"}, "whatever", {"intent": "recommend"}),
    ],
)
def test_a_field_is_kept_only_where_the_message_supports_it(raw, text, kept) -> None:
    rules = nothing_read(text)  # the rules read none of it
    if text.startswith(("una", "un ", "ein", "drei")):
        rules = replace(rules, problem="language")
    read = checked_request(raw, text, VOCABULARY, rules)
    for name, value in kept.items():
        assert getattr(read, name) == value, name


def test_another_language_keeps_the_models_english_subject() -> None:
    text = "un film sur un braquage de banque"
    rules = ParsedRequest(text=text, problem="language", unaccounted=text.split())
    read = checked_request({"genres": ["Crime"], "about": "bank robbery"}, text, VOCABULARY, rules)
    assert read.genres == ["Crime"] and read.about == "bank robbery"


def test_genres_need_a_word_the_rules_left_unread_in_some_language() -> None:
    # "ein Film aus den 70ern": the rules read "Film" and the 70s; "aus den" are German stop words
    text = "ein Film aus den 70ern"
    rules = ParsedRequest(text=text, unaccounted=["aus", "den"])
    read = checked_request({"genres": ["Drama", "Comedy"], "from_year": 1970, "to_year": 1979}, text, VOCABULARY, rules)
    assert read.genres == [] and (read.from_year, read.to_year) == (1970, 1979) and read.dropped


def test_a_word_of_preference_or_comparison_gives_the_model_no_genre_to_add() -> None:
    # "I'd prefer from the 90s." said of a list of thrillers: "prefer" is left unread, and names no genre
    text = "I'd prefer from the 90s."
    rules = ParsedRequest(text=text, unaccounted=["prefer"])
    read = checked_request({"genres": ["Drama", "Comedy"], "about": "prefer", "from_year": 1990, "to_year": 1999}, text, VOCABULARY, rules)
    assert read.genres == [] and read.about == "" and (read.from_year, read.to_year) == (1990, 1999)
    # a content word left unread still lets the model read it
    text = "I'd prefer something with swordfights"
    rules = ParsedRequest(text=text, unaccounted=["prefer", "swordfights"])
    assert checked_request({"genres": ["Adventure"]}, text, VOCABULARY, rules).genres == ["Adventure"]


def test_a_film_ruled_out_is_not_its_genres_and_a_film_turned_against_is_not_asked_for(recommender) -> None:
    # "Not Scream. What else?": the model left out Thriller and Action, the genres of the film ruled out
    text = "Not Nebula Run. What else?"
    rules = ParsedRequest(text=text, unaccounted=["else"])
    read = checked_request({"not_genres": ["Sci-Fi"], "titles": ["Nebula Run"]}, text, VOCABULARY, rules)
    assert read.not_genres == [] and read.dropped
    # "Don't watch Pocahontas, please." named a film the model read back as "like" it
    text = "Don't show me Nebula Run, please."
    english = english_request(ModelRequest(titles=["Nebula Run"]), ParsedRequest(text=text), VOCABULARY)
    assert "like" not in english
    assert "like 'Nebula Run'" in english_request(ModelRequest(titles=["Nebula Run"]), ParsedRequest(text="algo como Nebula Run"), VOCABULARY)


def test_the_english_request_reads_back_to_the_same_constraints(recommender) -> None:
    parser = recommender.request_parser
    model = ModelRequest(genres=["Sci-Fi"], not_genres=["Comedy"], from_year=1990, about="starship", titles=["Nebula Run"])
    english = english_request(model, parser.parse(""), VOCABULARY)
    parsed = parser.parse(english)

    assert [a.categories for a in parsed.categories] == [("Sci-Fi",)]
    assert [a.categories for a in parsed.exclude_categories] == [("Comedy",)]
    assert parsed.years is not None and (parsed.years.start, parsed.years.end) == (1990, None)
    assert parsed.like_item_ids == ("space4",) and "starship" in parsed.about
    assert parsed.rules_sure, parsed.unaccounted


def test_a_film_the_catalog_lacks_is_not_written_back_for_its_words_to_be_read(recommender) -> None:
    # "I like The Rocky Horror Picture Show and Hairspray" on a catalog with neither: "like 'The Rocky Horror Picture
    # Show'" was read back as Horror, beside the musical asked for
    rules = recommender.request_parser.parse("a romance")
    model = ModelRequest(titles=["The Horror Orbit Show", "Nebula Run"], disliked=["Comedy Night Horror"])
    english = english_request(model, rules, VOCABULARY)
    parsed = recommender.request_parser.parse(english)

    assert [a.categories for a in parsed.categories] == [("Romance",)] and not parsed.exclude_categories
    assert parsed.like_item_ids == ("space4",)


def test_what_the_rules_read_for_sure_is_never_dropped_by_the_model(recommender) -> None:
    rules = recommender.request_parser.parse("a romance from the 90s, nothing with comedy")
    english = english_request(ModelRequest(genres=["Drama"]), rules, VOCABULARY)
    parsed = recommender.request_parser.parse(english)

    asked = {c for ask in parsed.categories for c in ask.categories}
    assert {"Romance", "Drama"} <= asked and [a.categories for a in parsed.exclude_categories] == [("Comedy",)]
    assert parsed.years is not None and (parsed.years.start, parsed.years.end) == (1990, 1999)


@pytest.fixture(scope="module")
def war_and_documentaries(embedder) -> tuple[RequestParser, CatalogVocabulary]:
    """A parser on a catalog with War films and documentaries (the shared small catalog has no War)."""
    films = {f"f{n}": Item(f"f{n}", f"Film {n}", "A film.", (genre,), 1990 + n) for n, genre in enumerate(["War", "Documentary", "Drama", "Comedy"])}
    vocabulary = CatalogVocabulary(films)
    return RequestParser(vocabulary, embedder), vocabulary


def test_a_genre_beside_a_documentary_is_its_subject(war_and_documentaries) -> None:
    # "a good war time documentary" came back Documentary and War: a documentary about war is no War film
    parser, vocabulary = war_and_documentaries
    rules = parser.parse("una película documental")
    english = english_request(ModelRequest(genres=["Documentary", "War"]), rules, vocabulary)
    assert english == "war documentary"  # as the rules read a documentary's subject
    parsed = parser.parse(english)
    assert [a.categories for a in parsed.categories] == [("Documentary",)]


def test_a_genre_named_before_a_hedge_keeps_in_another_language(war_and_documentaries) -> None:
    # "Ik wil een oorlogsfilm, maar niet te gewelddadig" (a war film, but not too violent) came back "without War"
    parser, vocabulary = war_and_documentaries
    rules = parser.parse("Ik wil een oorlogsfilm, maar niet te gewelddadig.")
    assert [a.categories for a in rules.categories] == [("War",)]
    assert english_request(ModelRequest(not_genres=["War"]), rules, vocabulary) == "war"  # before: "without War"


def test_a_hedge_the_rules_read_gives_the_model_no_veto_over_a_genre(recommender) -> None:
    # "a romantic comedy, but not too romantic" in Spanish: the rules read the hedge; a model that calls Romance ruled
    # out (there is a "no" in the message) must not turn the request into its opposite
    rules = recommender.request_parser.parse("Una comedia romántica, pero no demasiado romántica.")
    english = english_request(ModelRequest(not_genres=["Romance"]), rules, VOCABULARY)
    parsed = recommender.request_parser.parse(english)

    assert {c for a in parsed.categories for c in a.categories} == {"Comedy", "Romance"} and not parsed.exclude_categories


def test_a_subject_the_rules_wrote_as_a_mood_is_not_written_again(recommender) -> None:
    # "got anything about a heist?" was read back as "heist, about heist"
    rules = recommender.request_parser.parse("got anything about a heist?")
    assert english_request(ModelRequest(about="heist"), rules, VOCABULARY).count("heist") == 1

"""Requests in other languages, read by the rules through the phrasebook's English (no model involved)."""

from __future__ import annotations

import pytest

from whyrec.tools.understanding.phrasebook import in_english, language_of
from whyrec.tools.understanding.parser import RequestParser

from tests.tools.understanding.test_request import CATALOG


@pytest.fixture(scope="module")
def parser(embedder) -> RequestParser:
    return RequestParser(CATALOG, embedder)


@pytest.mark.parametrize(
    "text",
    [
        "a western from the 50s",
        "a Hitchcock film I probably haven't seen",
        "Something like La La Land, no musicals though",
        "Take the horror ones out of that list.",
        "I loved De Niro in Heat",
    ],
)
def test_english_is_never_rewritten(text):
    assert language_of(text) is None
    assert in_english(text).english == text


@pytest.mark.parametrize(
    ("text", "language", "english"),
    [
        ("Recomiéndame tres comedias románticas, nada anterior a 1990.", "es", "recommend 3 comedies romantic, nothing before 1990."),
        ("Science-Fiction aus den frühen 80ern, am liebsten drei Stück.", "de", "sci-fi early 80s"),
        ("Einen Kriegsfilm zwischen 1985 und 1992, bitte.", "de", "war between 1985 and 1992, please."),
        ("Un giallo della metà degli anni '80.", "it", "mystery thriller mid 80s."),
        ("Een spannende film uit de late jaren 80, graag.", "nl", "thriller movie late 80s, please."),
        ("Vad för slags filmer gillar jag?", "sv", "what kind of movies do I like?"),
        ("pourquoi le deuxième ?", "fr", "why the second?"),
        ("¿Por qué la segunda?", "es", "why the second?"),
    ],
)
def test_closed_vocabulary_is_written_in_english(text, language, english):
    phrased = in_english(text)
    assert phrased.language == language
    assert phrased.english.startswith(english)


def test_an_english_word_that_is_a_function_word_elsewhere_survives():
    # "war" is German for "was": the phrasebook's own English must not be dropped as a German function word
    assert "war" in in_english("Ich will einen Kriegsfilm sehen.").english.split()


def test_what_the_phrasebook_does_not_know_stays_for_the_model(parser):
    parsed = parser.parse("Dame algo de ciencia ficción de finales de los 90 que no sea de Hollywood.")
    assert parsed.language == "es"
    assert {c for ask in parsed.categories for c in ask.categories} == {"Sci-Fi"}
    assert (parsed.years.start, parsed.years.end) == (1997, 1999)


@pytest.mark.parametrize(
    ("text", "asked", "years", "left_out"),
    [
        ("Recomiéndame tres comedias románticas, nada anterior a 1990.", {"Comedy", "Romance"}, (1990, None), set()),
        ("Je cherche un bon polar des années 90.", {"Crime"}, (1990, 1999), set()),
        ("N'importe quoi sauf de l'horreur.", set(), None, {"Horror"}),
        ("Cualquier cosa menos romances, por favor.", set(), None, {"Romance"}),
        ("Science-Fiction aus den frühen 90ern.", {"Sci-Fi"}, (1990, 1993), set()),
    ],
)
def test_the_rules_read_other_languages_through_the_phrasebook(parser, text, asked, years, left_out):
    """The test catalog spans 1984–2010, so the decades asked are inside it."""
    parsed = parser.parse(text)
    assert {c for ask in parsed.categories for c in ask.categories} == asked
    assert ((parsed.years.start, parsed.years.end) if parsed.years else None) == years
    assert {c for ask in parsed.exclude_categories for c in ask.categories} == left_out
    assert parsed.problem is None


# --- decades spelled out, films to cry at, counts and questions about one's taste, in each language -----

@pytest.mark.parametrize(
    ("text", "language", "decade"),
    [
        ("Una comedia de los ochenta, por favor.", "es", "80s"),
        ("Vorrei un thriller degli anni novanta.", "it", "90s"),
        ("Ein Krimi aus den Achtzigern, bitte.", "de", "80s"),
        ("Uma comédia da década de 90, por favor.", "pt", "90s"),
        ("Een film uit de jaren negentig graag.", "nl", "90s"),
        ("Un film des années quatre-vingt-dix.", "fr", "90s"),
    ],
)
def test_a_decade_spelled_out_is_read_as_the_decade(text, language, decade):
    phrased = in_english(text)
    assert phrased.language == language
    assert decade in phrased.english


@pytest.mark.parametrize(
    "text", ["Quiero una película para llorar.", "Je cherche un film qui fait pleurer.", "Ich möchte einen Film zum Weinen.",
             "Voglio un film da piangere.", "Quero um filme pra chorar.", "Ik wil een film om bij te huilen."],
)
def test_a_film_to_cry_at_is_a_drama_or_a_romance_in_every_language(parser, text):
    parsed = parser.parse(text)
    assert [set(ask.categories) for ask in parsed.categories] == [{"Drama", "Romance"}]


@pytest.mark.parametrize(
    ("text", "language", "english"),
    [
        ("drei Stück", "de", "3 movies"),  # two words, but "drei" is German
        ("geef me twee films", "nl", "give me 2 movie"),
        ("een stuk of vier", "nl", "4 movies"),
        ("recomiéndame una sola película", "es", "recommend just one movie"),
        ("la que tú quieras", "es", "just one"),
        ("quatre films d'horreur", "fr", "4 movie horror"),
    ],
)
def test_a_count_is_written_as_the_number(text, language, english):
    phrased = in_english(text)
    assert (phrased.language, phrased.english) == (language, english)


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("¿Sabes qué me gusta?", "what I like"),
        ("Quels sont mes goûts ?", "my taste"),
        ("Welche Genres schaue ich am liebsten?", "what kind of movies do I like"),
        ("Quais são os meus gostos?", "my taste"),
        ("Weet je wat ik leuk vind?", "what I like"),
    ],
)
def test_a_question_about_ones_taste_is_written_as_the_english_question(text, english):
    assert english in in_english(text).english


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("¿Me recomiendas un western?", "recommend"),
        ("Was kannst du mir empfehlen?", "recommend"),
        ("Mi consigli un film?", "recommend"),
        ("Je voudrais voir une comédie.", "I want"),
        ("Vorrei vedere una commedia.", "I want"),
        ("Una película de vaqueros.", "western"),
        ("Não gosto de musicais.", "musicals"),
    ],
)
def test_everyday_verbs_and_genre_words_are_written_in_english(text, english):
    assert english in in_english(text).english.split(", ")[0]


def test_polish_is_read_too(parser):
    parsed = parser.parse("Poleć mi jakąś komedię z lat dziewięćdziesiątych, bez romansów.")
    assert parsed.language == "pl"
    assert [set(ask.categories) for ask in parsed.categories] == [{"Comedy"}]
    assert (parsed.years.start, parsed.years.end) == (1990, 1999)
    assert [set(ask.categories) for ask in parsed.exclude_categories] == [{"Romance"}]


@pytest.mark.parametrize(
    "text",
    ["No me gustó Nebula Run, ¿algo parecido?", "Je n'ai pas aimé Nebula Run, autre chose ?", "Nebula Run hat mir nicht gefallen.",
     "Non mi è piaciuto Nebula Run.", "Não gostei de Nebula Run.", "Ik vond Nebula Run niet leuk, iets anders?"],
)
def test_a_film_the_person_did_not_like_is_left_out_in_every_language(parser, text):
    parsed = parser.parse(text)
    assert "space4" in parsed.exclude_item_ids and "space4" not in parsed.like_item_ids


@pytest.mark.parametrize(
    "text", ["Una comedia sin romance, para toda la familia.", "Eine Komödie ohne Romanze, für die ganze Familie.",
             "Een komedie zonder romantiek, voor de hele familie."],
)
def test_romance_ruled_out_and_a_family_audience_in_other_languages(text):
    english = in_english(text).english
    assert "without romance" in english and "family" in english


def test_a_gory_hedge_in_spanish_tempers_the_genre(parser):
    parsed = parser.parse("Una de miedo, pero no demasiado sangrienta.")
    assert [set(a.categories) for a in parsed.categories] == [{"Horror"}] and not parsed.exclude_categories

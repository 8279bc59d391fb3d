"""Years said the way people say them: two decades as one span, and the catalog's newest years counted back.

The small test catalog runs 1984–2010, so "the last year" is 2010 and a short decade ("the 90s") is the 1990s.
"""

from __future__ import annotations

import pytest

from whyrec.tools.understanding.parser import RequestParser

from tests.tools.understanding.test_request import CATALOG


@pytest.fixture(scope="module")
def parser(embedder) -> RequestParser:
    return RequestParser(CATALOG, embedder)


@pytest.mark.parametrize(
    ("request_text", "span"),
    [
        ("a romance, 1990s or 2000s", (1990, 2009)),  # "or" between neighbouring decades is one span, not a contradiction
        ("sci-fi from the 90s and 2000s", (1990, 2009)),
        ("crime from the nineties to the 2000s", (1990, 2009)),
        ("90s-2000s sci-fi", (1990, 2009)),
        ("the early 90s or late 80s", (1987, 1993)),  # neighbours in either order
    ],
)
def test_two_decades_are_one_span(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span
    assert "contradict" not in " ".join(parsed.notes)


def test_a_span_said_backwards_is_not_one(parser):
    parsed = parser.parse("crime from the 2000s to the 90s")
    assert parsed.years is None and "contradict" in " ".join(parsed.notes)  # two asks that contradict, said so


def test_decades_apart_stay_two_leanings(parser):
    parsed = parser.parse("something from the 80s or the 2000s")
    assert parsed.years is None  # not 1980–2009: the 90s were not asked for
    assert {(y.start, y.end) for y in parsed.boost_years} == {(1980, 1989), (2000, 2009)}


@pytest.mark.parametrize(
    ("request_text", "span"),
    [
        ("a movie from within the last year", (2010, 2010)),
        ("anything from the past 5 years?", (2006, 2010)),
        ("a comedy made in the last three years", (2008, 2010)),
    ],
)
def test_the_last_years_count_back_from_the_catalogs_newest(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span


def test_a_year_said_in_passing_is_not_a_span(parser):
    parsed = parser.parse("I saw a great thriller last year")  # when they watched it, not what they ask for
    assert parsed.years is None


# --- open ends, two-digit ranges, parts said with "of", decades counted back, rough years ------------

@pytest.mark.parametrize(
    ("request_text", "span"),
    [
        ("thrillers from 1992 onwards", (1992, None)),
        ("a comedy, 1988 or later", (1988, None)),
        ("something from the 90s on, please", (1990, None)),
        ("dramas from 1995 and earlier", (None, 1995)),
        ("a thriller that isn't older than 1990", (1990, None)),  # "older than" turned round by "isn't"
        ("films that aren't newer than 1995", (None, 1995)),
    ],
)
def test_an_open_end_said_after_the_year_is_open(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span
    assert parsed.unaccounted == ()


@pytest.mark.parametrize(
    ("request_text", "span"),
    [
        ("action between '86 and '91", (1986, 1991)),
        ("a thriller from 92 to 96", (1992, 1996)),
        ("crime, '03-'07", (2003, 2007)),  # the century the catalog holds them in
    ],
)
def test_a_range_of_two_digit_years_is_those_years(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span


def test_numbers_that_are_not_years_are_no_range(parser):
    assert parser.parse("a comedy between 80 and 100 minutes long").years is None
    assert parser.parse("something from 20 to 30 films").years is None


@pytest.mark.parametrize(
    ("request_text", "span"),
    [
        ("a romance from the start of the 90s", (1990, 1993)),
        ("the end of the 80s", (1987, 1989)),
        ("the first half of the 2000s", (2000, 2004)),
        ("sci-fi from the second half of the nineties", (1995, 1999)),
        ("the middle of the 90s", (1994, 1996)),
    ],
)
def test_a_part_of_a_decade_said_with_of_is_those_years(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span
    assert parsed.unaccounted == ()


@pytest.mark.parametrize(
    ("request_text", "span"),
    [
        ("a comedy from the last decade", (2001, 2010)),
        ("anything from the past two decades", (1991, 2010)),
    ],
)
def test_decades_count_back_from_the_catalogs_newest(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span


@pytest.mark.parametrize(
    ("request_text", "span"),
    [("something from around 1995", (1993, 1997)), ("a 1992-ish thriller", (1990, 1994)), ("a thriller from circa 2004", (2002, 2006)), ("2000 or so", (1998, 2002))],
)
def test_a_rough_year_is_the_years_around_it(parser, request_text, span):
    parsed = parser.parse(request_text)
    assert (parsed.years.start, parsed.years.end) == span
    assert parsed.unaccounted == ()

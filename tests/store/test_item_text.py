"""The embedded item text: what goes in, in what order, and that it fits the packaged model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from whyrec.store.records import ITEM_TEXT_MAX_PIECES, Item, estimated_word_pieces

OVERVIEW = (
    "Led by Woody, Andy's toys live happily in his room until Andy's birthday brings Buzz Lightyear onto the scene. "
    "Afraid of losing his place in Andy's heart, Woody plots against Buzz. But when circumstances separate Buzz and "
    "Woody from their owner, the duo eventually learns to put aside their differences."
)
TOY_STORY = Item("1", "Toy Story", OVERVIEW, ("Animation", "Children's", "Comedy"), 1995, keywords=("jealousy", "toy", "boy", "friendship"))
# Long real-world prose: eight overviews' worth of sentences, so the budget must cut it.
LONG_OVERVIEW = " ".join(
    [
        OVERVIEW,
        "When siblings Judy and Peter discover an enchanted board game that opens the door to a magical world, they "
        "unwittingly invite Alan, an adult who's been trapped inside the game for 26 years, into their living room.",
        "A family wedding reignites the ancient feud between next-door neighbors and fishing buddies John and Max.",
        "Cheated on, mistreated and stepped on, the women are holding their breath, waiting for the elusive good man "
        "to break a string of less-than-stellar lovers.",
        "Obsessive master thief Neil McCauley leads a top-notch crew on various daring heists throughout Los Angeles "
        "while determined detective Vincent Hanna pursues him without rest.",
        "An ugly duckling having undergone a remarkable change, still harbors feelings for her crush: a carefree "
        "playboy, but not before his business-focused brother has something to say about it.",
        "A mischievous young boy, Tom Sawyer, witnesses a murder by the deadly Injun Joe and befriends Huck Finn, a "
        "boy with no future and no family, as they run away to an island on the Mississippi.",
        "International action superstar Jean Claude Van Damme teams with Powers Boothe in a tense, high octane tale "
        "of a day at an arena that turns into a nightmare when terrorists take over the crowd and the vice president.",
        "James Bond must unmask the mysterious head of the Janus Syndicate and prevent the leader from utilizing the "
        "GoldenEye weapons system to inflict devastating revenge on Britain.",
    ]
)


def word_pieces(embedder, text: str) -> int:
    """What the packaged model's own tokenizer makes of the text, its [CLS] and [SEP] included."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(embedder.model_path) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()  # the file pads to 128
    return len(tokenizer.encode(text).ids)


def test_text_reads_title_year_genres_overview_then_keywords():
    assert TOY_STORY.text == (
        f"Toy Story (1995). Genres: Animation, Children's, Comedy. {OVERVIEW} Keywords: jealousy, toy, boy, friendship."
    )


def test_an_item_without_keywords_reads_as_it_did_before_keywords_so_it_is_not_embedded_again():
    star = Item("s", "Star Voyage", "A crew explores distant galaxies aboard a starship.", ("Sci-Fi", "Adventure"), 1990)
    assert star.text == "Star Voyage (1990). Genres: Sci-Fi, Adventure. A crew explores distant galaxies aboard a starship."


def test_an_empty_description_falls_back_to_title_year_categories_and_keywords():
    assert Item("h", "Heat", "", ("Crime",), 1995, keywords=("heist",)).text == "Heat (1995). Genres: Crime. Keywords: heist."
    assert Item("h", "Heat").text == "Heat"


def test_keywords_change_the_text_hash_so_the_item_is_embedded_again():
    assert dataclasses.replace(TOY_STORY, keywords=("toy",)).text_hash != TOY_STORY.text_hash


def test_a_long_overview_is_cut_at_a_sentence_boundary_and_the_keywords_survive(embedder):
    item = dataclasses.replace(TOY_STORY, description=LONG_OVERVIEW)
    assert word_pieces(embedder, LONG_OVERVIEW) > 256  # the model alone would silently drop the keywords
    text = item.text
    assert word_pieces(embedder, text) <= 256
    assert text.endswith("Keywords: jealousy, toy, boy, friendship.")
    kept = text.removeprefix("Toy Story (1995). Genres: Animation, Children's, Comedy. ").removesuffix(" Keywords: jealousy, toy, boy, friendship.")
    assert LONG_OVERVIEW.startswith(kept) and kept.endswith(".") and len(kept) > len(OVERVIEW)


def test_one_endless_sentence_is_cut_at_a_word_and_marked(embedder):
    item = Item("x", "Run On", "and then " * 400 + "the end.", ("Drama",), 2001, keywords=("long",))
    text = item.text
    assert word_pieces(embedder, text) <= 256
    assert text.endswith("\u2026 Keywords: long.")
    assert text.split("\u2026")[0].split()[-1] in ("and", "then")  # whole words, not "th…"


def test_text_without_spaces_is_cut_at_a_sentence_or_a_character(embedder):
    sentences = Item("x", "Film", "十歳の少女千尋は、両親と共に不思議な町に迷い込む。" * 20, keywords=("friendship",)).text
    assert word_pieces(embedder, sentences) <= 256
    assert sentences.endswith("迷い込む。 Keywords: friendship.") and "十歳の少女千尋" in sentences
    endless = Item("x", "Film", "十歳の少女千尋は" * 200, keywords=("friendship",)).text
    assert word_pieces(embedder, endless) <= 256
    assert endless.endswith("\u2026 Keywords: friendship.") and len(endless) > 200


def test_hundreds_of_keywords_keep_the_first_ones_and_leave_room_for_the_overview(embedder):
    keywords = tuple(f"theme number {n}" for n in range(300))
    text = dataclasses.replace(TOY_STORY, keywords=keywords).text
    assert word_pieces(embedder, text) <= 256
    assert OVERVIEW in text and "Keywords: theme number 0, theme number 1," in text and "theme number 299" not in text


@pytest.mark.parametrize(
    "overview",
    [
        "Amélie Poulain, jeune femme timide, découvre qu'elle peut changer la vie des gens qui l'entourent. " * 12,
        "十歳の少女千尋は、両親と共に不思議な町に迷い込む。" * 20,
        "Москва слезам не верит — советский фильм о трёх подругах. " * 15,
        "In 1984, 3,000 miles from L.A., agent J.D. McClane (code-name: 'K-9') fights back! " * 12,
    ],
    ids=["french", "japanese", "russian", "digits-and-punctuation"],
)
def test_texts_in_other_scripts_fit_the_model_too(embedder, overview):
    item = Item("x", "Film", overview, ("Drama",), 2001, keywords=("friendship", "city life"))
    assert word_pieces(embedder, item.text) <= 256
    assert item.text.endswith("Keywords: friendship, city life.")


def test_the_estimate_never_undercounts_prose(embedder):
    for text in [OVERVIEW, LONG_OVERVIEW, TOY_STORY.text]:
        assert estimated_word_pieces(text) >= word_pieces(embedder, text) - 2
    assert ITEM_TEXT_MAX_PIECES + 2 <= embedder.model.max_seq_length

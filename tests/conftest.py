"""Shared fixtures: the real packaged MiniLM model loaded once, real stores under tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the app and chat in tests start no background model for interest summaries; the tests that want one ask for it
os.environ.setdefault("WHYREC_MODEL_SUMMARIES", "false")

import pytest

from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.embeddings import ItemEmbedder
from whyrec.store.item_index import ItemIndex
from whyrec.store.records import Dataset, Interaction, Item
from whyrec.store.settings import Settings

DAY = 86400.0

SMALL_CATALOG = [
    Item("space1", "Star Voyage", "A crew explores distant galaxies aboard a starship.", ("Sci-Fi", "Adventure"), 1990),
    Item("space2", "Orbit Station", "Astronauts repair a space station in orbit around Mars.", ("Sci-Fi",), 1995),
    Item("space3", "Alien Frontier", "First contact with aliens on a faraway planet.", ("Sci-Fi", "Action"), 2001),
    Item("space4", "Nebula Run", "Smugglers race a starship through a nebula.", ("Sci-Fi", "Action"), 2005),
    Item("space5", "Nebula Run II", "Smugglers race a starship through a nebula again.", ("Sci-Fi", "Action"), 2007),
    Item("rom1", "Paris in Spring", "Two strangers fall in love in Paris.", ("Romance",), 1992),
    Item("rom2", "Wedding Season", "A bride and groom plan a chaotic wedding.", ("Romance", "Comedy"), 1998),
    Item("rom3", "Love Letters", "An old love story told through letters.", ("Romance", "Drama"), 2003),
    Item("rom4", "Summer Kiss", "A summer romance on the beach.", ("Romance",), 2008),
    Item("crime1", "The Heist", "A gang plans a bank robbery.", ("Crime", "Thriller"), 1994),
    Item("crime2", "Detective Noir", "A detective hunts a killer in a rainy city.", ("Crime", "Film-Noir"), 1997),
    Item("crime3", "Mob Ties", "A family of gangsters fights for control.", ("Crime", "Drama"), 2002),
    Item("cook1", "Kitchen Nights", "A chef runs a busy restaurant kitchen.", ("Documentary",), 2010),
]


def history(user: str, item_ids: list[str], start: float = 1_000_000.0, rating: float = 5.0) -> list[Interaction]:
    return [Interaction(user, item_id, start + n * DAY, rating) for n, item_id in enumerate(item_ids)]


SMALL_INTERACTIONS = (
    # u1 watched romance for a long time, then switched to sci-fi recently
    history("u1", ["rom1", "rom2", "rom3", "crime1", "rom4", "space1", "space2"])
    + history("u2", ["crime1", "crime2", "crime3", "space3"])
    + history("u3", ["space1", "space2", "space3", "space4", "rom1"])
)


@pytest.fixture(scope="session")
def embedder() -> ItemEmbedder:
    return ItemEmbedder(Settings(data_dir="/nonexistent"))


@pytest.fixture(scope="session")
def reranker():
    """The base MiniLM as an (untrained) cross-encoder: real model code, loaded once."""
    from whyrec.tools.recommend.reranker import Reranker

    return Reranker(Settings(data_dir="/nonexistent").resolved_embedding_model())


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", short_term_window=3)


@pytest.fixture
def empty_store(settings, embedder) -> Store:
    return Store(settings, Database(settings.sqlite_path), embedder, ItemIndex(settings, embedder))


@pytest.fixture
def small_store(empty_store) -> Store:
    empty_store.ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    return empty_store


@pytest.fixture
def recommender(small_store, reranker):
    from whyrec.tools.recommend.recommender import Recommender

    return Recommender(small_store, reranker)

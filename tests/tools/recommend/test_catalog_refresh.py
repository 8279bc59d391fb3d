"""A running recommender follows ingests made elsewhere (another process, another worker) within its staleness bound."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from tests.conftest import SMALL_CATALOG, SMALL_INTERACTIONS
from whyrec.store.catalog import Store
from whyrec.store.database import Database
from whyrec.store.errors import InputError
from whyrec.store.item_index import ItemIndex
from whyrec.store.records import Dataset
from whyrec.tools.recommend.recommender import Recommender

REMOVED = {"space4", "space5", "rom4"}
RENAMED = {"space1": "Star Voyage (Director's Cut)", "rom1": "Paris in Autumn"}


def edited_catalog() -> Dataset:
    items = [dataclasses.replace(i, title=RENAMED.get(i.item_id, i.title)) for i in SMALL_CATALOG if i.item_id not in REMOVED]
    return Dataset("small-v2", items, [x for x in SMALL_INTERACTIONS if x.item_id not in REMOVED])


def separate_store(settings, embedder) -> Store:
    """What `whyrec ingest` in another process opens: its own connections to the same store."""
    return Store(settings, Database.from_settings(settings), embedder, ItemIndex(settings, embedder))


def shown_ids(recommender: Recommender, user: str, request: str | None = None) -> set[str]:
    return {r.item.item_id for r in recommender.recommend(user, request, k=10, diversity=0.0)}


def test_a_running_recommender_serves_the_new_titles_and_never_a_removed_item_after_an_ingest(small_store, settings, embedder):
    settings.catalog_check_seconds = 0.0  # check on every call: the bound is the call itself
    running = Recommender(small_store, reranker=None)
    assert REMOVED & shown_ids(running, "u2", "space smugglers")  # before: the items are there to remove

    separate_store(settings, embedder).ingest(edited_catalog(), progress=False)

    for user, request in (("u1", None), ("u2", "space smugglers"), ("u3", "romance in paris"), ("new", None)):
        assert not REMOVED & shown_ids(running, user, request)
    assert running.item("space1").title == "Star Voyage (Director's Cut)"
    assert running.search("Paris", k=3)[0].title == "Paris in Autumn"
    for item_id in REMOVED:
        with pytest.raises(InputError, match=f"item '{item_id}' is not in the catalog"):
            running.explain("u2", item_id)
        with pytest.raises(InputError, match=f"item '{item_id}' is not in the catalog"):
            running.feedback("u2", item_id, "liked")


def test_within_the_bound_the_catalog_read_before_the_ingest_may_still_serve(small_store, settings, embedder):
    settings.catalog_check_seconds = 3600.0
    running = Recommender(small_store, reranker=None)
    separate_store(settings, embedder).ingest(edited_catalog(), progress=False)
    assert running.item("space1").title == "Star Voyage"  # the documented bound: up to catalog_check_seconds
    running._catalog.checked -= 3600.0  # the bound has passed
    assert running.item("space1").title == "Star Voyage (Director's Cut)"


def test_an_ingest_under_load_makes_no_call_fail(small_store, settings, embedder):
    settings.catalog_check_seconds = 0.0
    running = Recommender(small_store, reranker=None)
    errors: list[BaseException] = []
    served_after: list[set[str]] = []
    ingested = threading.Event()
    stop = threading.Event()

    def client(user: str, request: str | None) -> None:
        while not stop.is_set():
            after = ingested.is_set()
            try:
                ids = shown_ids(running, user, request)
                running.explain(user, "crime1", request)
            except BaseException as error:  # noqa: BLE001 - every failure is collected for the assertion
                errors.append(error)
                return
            if after:
                served_after.append(ids)

    clients = [threading.Thread(target=client, args=args) for args in (("u1", None), ("u2", "space smugglers"), ("u3", None))]
    for thread in clients:
        thread.start()
    separate_store(settings, embedder).ingest(edited_catalog(), progress=False)
    ingested.set()
    while len(served_after) < 6 and not errors:
        stop.wait(0.05)
    stop.set()
    for thread in clients:
        thread.join()
    assert errors == []
    assert served_after and not any(REMOVED & ids for ids in served_after)


def test_a_recommender_started_before_the_first_ingest_serves_it_at_once(empty_store, settings, embedder):
    running = Recommender(empty_store, reranker=None)  # the default bound (5 s) applies to a catalog it has
    separate_store(settings, embedder).ingest(Dataset("small", list(SMALL_CATALOG), list(SMALL_INTERACTIONS)), progress=False)
    assert running.item("space1").title == "Star Voyage" and shown_ids(running, "u1")

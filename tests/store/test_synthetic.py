from collections import Counter

import numpy as np
import pytest
from whyrec.store.synthetic import (
    DAY,
    GENRES,
    LOG_START,
    SyntheticLog,
    synthetic_dataset,
)


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(items=400, interactions=30_000, users=3_000, seed=7)


def test_it_has_exactly_the_size_asked_for_and_every_item_has_text(data):
    assert len(data.items) == 400 and len(data.interactions) == 30_000
    assert len({x.user_id for x in data.interactions}) <= 3_000
    assert all(i.title and i.categories and set(i.categories) <= set(GENRES) and i.year for i in data.items)
    assert all(x.rating in (1.0, 2.0, 3.0, 4.0, 5.0) for x in data.interactions)


def test_a_person_meets_an_item_once(data):
    assert len({(x.user_id, x.item_id) for x in data.interactions}) == len(data.interactions)


def test_the_same_seed_gives_the_same_log_and_another_seed_another(data):
    again = synthetic_dataset(items=400, interactions=30_000, users=3_000, seed=7)
    other = synthetic_dataset(items=400, interactions=30_000, users=3_000, seed=8)
    assert again.interactions == data.interactions and [i.title for i in again.items] == [i.title for i in data.items]
    assert other.interactions != data.interactions


def test_popularity_is_skewed(data):
    counts = np.array(sorted(Counter(x.item_id for x in data.interactions).values(), reverse=True))
    assert counts[: len(data.items) // 10].sum() > 0.3 * len(data.interactions)  # the top tenth of items: three times its share
    assert counts[0] > 10 * np.median(counts)


def test_nobody_meets_an_item_before_its_release_and_time_runs_forward(data):
    released = {i.item_id: i.metadata["released"] for i in data.items}
    stamps = [x.timestamp for x in data.interactions]
    assert stamps == sorted(stamps)
    assert LOG_START <= stamps[0] and stamps[-1] <= LOG_START + SyntheticLog().span_days * DAY
    assert all(x.timestamp >= released[x.item_id] for x in data.interactions)


def test_users_are_active_over_windows_shorter_than_the_log(data):
    first, last = {}, {}
    for x in data.interactions:
        first.setdefault(x.user_id, x.timestamp)
        last[x.user_id] = x.timestamp
    spans = [(last[u] - first[u]) / DAY for u in first]
    assert np.median(spans) < SyntheticLog().span_days / 3


def test_what_is_popular_lately_is_mostly_new(data):
    released = {i.item_id: i.metadata["released"] for i in data.items}
    end = data.interactions[-1].timestamp
    lately = Counter(x.item_id for x in data.interactions if x.timestamp > end - 30 * DAY)
    ever = Counter(x.item_id for x in data.interactions)
    age_lately = np.median([(end - released[i]) / DAY for i, _ in lately.most_common(10)])
    age_ever = np.median([(end - released[i]) / DAY for i, _ in ever.most_common(10)])
    assert age_lately < 120 < age_ever


def test_unrated_logs_and_impossible_sizes():
    unrated = synthetic_dataset(items=50, interactions=500, users=100, ratings=False, seed=1)
    assert all(x.rating is None and x.liked for x in unrated.interactions)
    with pytest.raises(ValueError, match="more than half of all user-item pairs"):
        synthetic_dataset(items=10, interactions=1_000, users=20)

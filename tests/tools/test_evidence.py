"""Evidence for a recommendation: the past items it resembles, cited as a person would read them."""

from __future__ import annotations

import numpy as np

from whyrec.store.records import Item
from whyrec.tools.evidence import similar_past


def test_a_film_stored_under_two_ids_is_cited_once() -> None:
    # MovieLens-100K holds 'Money Talks' as items 876 and 881; the list said "similar to 'Money Talks', 'Money Talks'"
    items = {
        "876": Item("876", "Money Talks", year=1997),
        "881": Item("881", "Money Talks", year=1997),
        "50": Item("50", "Star Wars", year=1977),
        "1": Item("1", "Toy Story", year=1995),
    }
    ids = ["876", "881", "50"]
    matrix = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)

    cited = similar_past(ids, matrix, {"876": 5.0, "881": 5.0, "50": 4.0}, np.array([1.0, 0.0], dtype=np.float32), items, exclude="1")

    assert [p.title for p in cited] == ["Money Talks", "Star Wars"]

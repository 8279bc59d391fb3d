import numpy as np

from whyrec.tools.recommend.diversity import MAX_RELEVANCE_DROP, mmr
from whyrec.tools.recommend.recommender import Recommender


def test_mmr_zero_diversity_is_plain_top_k():
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    vectors = np.eye(4)
    assert mmr(scores, vectors, 3, 0.0) == [0, 1, 2]


def test_mmr_skips_a_near_copy_of_the_first_pick():
    scores = np.array([1.0, 0.95, 0.5])
    copy = np.array([1.0, 0.0])
    vectors = np.array([copy, copy, [0.0, 1.0]])
    assert mmr(scores, vectors, 2, 0.0) == [0, 1]
    assert mmr(scores, vectors, 2, 0.5) == [0, 2]


def test_mmr_handles_fewer_items_than_k():
    assert mmr(np.array([0.3]), np.ones((1, 2)), 5, 0.5) == [0]
    assert mmr(np.array([]), np.zeros((0, 2)), 5, 0.5) == []


def test_mmr_at_full_diversity_never_picks_far_below_the_best():
    # two relevant near-copies, then a long tail of irrelevant items that are all different:
    # classic MMR at diversity 1 fills the list with the tail; the cap keeps the picks relevant
    scores = np.array([1.0, 0.98, 0.95, 0.9, 0.1, 0.05, 0.0])
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 8))
    vectors[:4] = vectors[0] + 0.05 * rng.normal(size=(4, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    classic = mmr(scores, vectors, 3, 1.0, widest_pool=None, max_relevance_drop=1.0, max_share_per_series=None)
    assert any(scores[i] < 0.5 for i in classic)
    capped = mmr(scores, vectors, 3, 1.0, max_share_per_series=None)
    assert all(scores[i] >= 0.5 for i in capped)


def test_mmr_tops_up_by_relevance_when_too_few_are_close_to_the_best():
    scores = np.array([1.0, 0.2, 0.1, 0.0])
    assert mmr(scores, np.eye(4), 3, 1.0) == [0, 1, 2]


def test_mmr_holds_back_a_series_when_other_items_are_left():
    # four sequels of one film (very similar to each other) and two other relevant films
    sequel = np.array([1.0, 0.0, 0.0])
    vectors = np.array([sequel, sequel, sequel, sequel, [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    scores = np.array([1.0, 0.99, 0.98, 0.97, 0.6, 0.55])
    picks = mmr(scores, vectors, 4, 0.3, max_relevance_drop=1.0)
    assert picks[0] == 0
    assert sum(i < 4 for i in picks) == 2  # ceil(4/3): two of the series, then the others
    assert {4, 5} <= set(picks)
    # nothing else left: the series fills the list rather than leave it short
    assert sorted(mmr(scores[:4], vectors[:4], 4, 0.3)) == [0, 1, 2, 3]
    # diversity 0 stays the plain top-k
    assert mmr(scores, vectors, 4, 0.0) == [0, 1, 2, 3]


def one_note_candidates(n: int = 100, seed: int = 0):
    """Shaped like a MovieLens user's candidates: a top 10 that is all one kind of film (cosine about 0.6
    to each other: alike, not one series) in the upper half of the relevance range, films of other
    kinds just below half, then a long tail of poor matches."""
    rng = np.random.default_rng(seed)
    theme = rng.normal(size=64)
    theme /= np.linalg.norm(theme)
    vectors = rng.normal(size=(n, 64))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[:10] = 0.8 * theme + 0.6 * vectors[:10]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = np.concatenate([np.linspace(1.0, 0.55, 10), np.linspace(0.48, 0.4, 10), np.linspace(0.35, 0.0, n - 20)])
    return scores, vectors


def replaced(plain: list[int], picks: list[int]) -> float:
    return len(set(plain) - set(picks)) / len(plain)


def test_moving_the_knob_from_0_to_1_changes_the_list_and_more_so_as_it_goes_up():
    # with only the relevance cap of 0.5 the eligible candidates were this top 10, and diversity 1
    # gave the same ten titles reordered
    scores, vectors = one_note_candidates()
    plain = mmr(scores, vectors, 10, 0.0)
    assert plain == list(range(10))
    shares = [replaced(plain, mmr(scores, vectors, 10, d)) for d in (0.0, 0.3, 0.5, 0.7, 1.0)]
    assert shares[0] == 0.0
    assert shares[-1] >= 0.4  # "1 = most varied" changes at least four of the ten
    assert shares == sorted(shares)


def test_full_diversity_stays_among_the_twenty_best_and_above_the_relevance_cap():
    scores, vectors = one_note_candidates()
    picks = mmr(scores, vectors, 10, 1.0)
    assert picks[0] == 0  # the best match still leads the list
    assert max(picks) < 20
    relevance = (scores - scores.min()) / (scores.max() - scores.min())
    assert relevance[picks].min() >= 1 - MAX_RELEVANCE_DROP
    # classic MMR (no pool, no cap) reaches into the poor matches at the bottom
    classic = mmr(scores, vectors, 10, 1.0, widest_pool=None, max_relevance_drop=1.0, max_share_per_series=None)
    assert max(classic) >= 20


def test_categories_spread_the_list_over_more_genres():
    # forty unrelated films (random vectors), most of them comedies; six other genres among the twenty best
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 64))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = np.linspace(1.0, 0.0, 40)
    others = [("Sci-Fi",), ("Horror",), ("Western",), ("War",), ("Musical",), ("Film-Noir",)]
    categories = [("Comedy",)] * 14 + others + [("Comedy",)] * 20

    def genres(picks):
        return len({c for i in picks for c in categories[i]})

    assert genres(mmr(scores, vectors, 10, 1.0, categories=categories)) == 7  # comedy and all six others
    assert genres(mmr(scores, vectors, 10, 1.0)) < 7
    assert genres(mmr(scores, vectors, 10, 0.0, categories=categories)) == 1


def test_a_catalog_without_categories_ranks_as_if_none_were_given():
    scores, vectors = one_note_candidates()
    assert mmr(scores, vectors, 10, 0.8, categories=[()] * len(scores)) == mmr(scores, vectors, 10, 0.8)


def test_diversity_1_swaps_items_of_the_small_catalog_list_but_stays_among_the_best(small_store):
    recommender = Recommender(small_store, None)
    everything = [r.item.item_id for r in recommender.recommend("u3", k=20, diversity=0.0)]  # by relevance
    plain = [r.item.item_id for r in recommender.recommend("u3", k=3, diversity=0.0)]
    varied = [r.item.item_id for r in recommender.recommend("u3", k=3, diversity=1.0)]
    assert plain == everything[:3]
    assert set(varied) != set(plain)  # the knob acts: at least one title is another one
    assert varied[0] == plain[0]
    assert set(varied) <= set(everything[:6])  # drawn from the 2k best, not the bottom of the catalog

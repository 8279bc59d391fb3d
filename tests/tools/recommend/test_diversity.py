import numpy as np

from whyrec.tools.recommend.diversity import mmr


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
    classic = mmr(scores, vectors, 3, 1.0, max_relevance_drop=1.0, max_share_per_series=None)
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

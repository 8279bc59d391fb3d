import numpy as np

from whyrec.tools.diversity import mmr


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

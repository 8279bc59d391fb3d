"""Metrics on hand-made rankings whose answers can be worked out on paper."""

import math

import numpy as np
import pytest

from whyrec.tools.evaluation.metrics import (
    catalog_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    mrr,
    ndcg_at_k,
    per_case_ndcg,
    ranking_metrics,
    recall_at_k,
    target_positions,
)

# user 0: target 7 first; user 1: target 3 third; user 2: target 9 absent; user 3: target 5 at position 5
RANKED = np.array(
    [
        [7, 1, 2, 3, 4, 5],
        [0, 1, 3, 4, 5, 6],
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 3, 4, 5],
    ]
)
TARGETS = np.array([7, 3, 9, 5])


def test_target_positions_finds_each_target_or_minus_one():
    assert target_positions(RANKED, TARGETS).tolist() == [0, 2, -1, 5]


def test_recall_counts_targets_inside_the_cutoff_only():
    assert recall_at_k(RANKED, TARGETS, k=3) == pytest.approx(2 / 4)
    assert recall_at_k(RANKED, TARGETS, k=6) == pytest.approx(3 / 4)
    assert recall_at_k(RANKED, TARGETS, k=1) == pytest.approx(1 / 4)
    assert hit_rate_at_k(RANKED, TARGETS, k=3) == recall_at_k(RANKED, TARGETS, k=3)


def test_ndcg_discounts_by_log2_of_position():
    expected = (1.0 + 1.0 / math.log2(4)) / 4  # positions 0 and 2 within k=3
    assert ndcg_at_k(RANKED, TARGETS, k=3) == pytest.approx(expected)
    assert ndcg_at_k(np.array([[4, 2]]), np.array([4]), k=2) == pytest.approx(1.0)


def test_scored_lists_use_the_same_ndcg_as_ranked_lists():
    # the reranker's validation scores lists; one positive at each user's place must give what ndcg_at_k gives
    scores = [np.array([0.9, 0.5, 0.4, 0.3, 0.2, 0.1])] * 4
    positives = [[row.tolist().index(t)] if t in row else [] for row, t in zip(RANKED, TARGETS)]
    assert per_case_ndcg(scores, positives, k=3).mean() == pytest.approx(ndcg_at_k(RANKED, TARGETS, k=3))


def test_scored_lists_with_several_positives_and_ties():
    # two positives on top is perfect; a tie with a negative counts against the positive
    assert per_case_ndcg([np.array([0.9, 0.8, 0.1])], [[0, 1]], k=10)[0] == pytest.approx(1.0)
    tied = per_case_ndcg([np.array([0.5, 0.5, 0.1])], [[0]], k=10)[0]
    assert tied == pytest.approx(1 / math.log2(3))
    metrics = ranking_metrics([np.array([0.1, 0.9, 0.5]), np.array([0.3, 0.2])], [[2], []], k=2)
    assert metrics["mrr"] == pytest.approx((1 / 2 + 0) / 2)  # a list without a positive is a miss
    assert metrics["hit@1"] == 0.0 and metrics["hit@2"] == pytest.approx(0.5) and metrics["cases"] == 2


def test_mrr_at_k_and_over_the_whole_list():
    assert mrr(RANKED, TARGETS, k=3) == pytest.approx((1 + 1 / 3) / 4)
    assert mrr(RANKED, TARGETS) == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)


def test_padding_never_matches_a_target():
    ranked = np.array([[-1, -1, 2]])
    assert recall_at_k(ranked, np.array([2]), k=3) == 1.0
    assert mrr(ranked, np.array([2]), k=3) == pytest.approx(1 / 3)
    assert recall_at_k(np.array([[-1, -1]]), np.array([0]), k=2) == 0.0


def test_no_users_gives_zero():
    empty = np.zeros((0, 10), dtype=int)
    assert recall_at_k(empty, np.zeros(0, dtype=int), k=10) == 0.0
    assert ndcg_at_k(empty, np.zeros(0, dtype=int), k=10) == 0.0
    assert mrr(empty, np.zeros(0, dtype=int)) == 0.0


def test_too_few_columns_for_k_is_refused():
    with pytest.raises(ValueError, match="ranked has 6 columns but k=10"):
        recall_at_k(RANKED, TARGETS, k=10)


def test_mismatched_targets_are_refused():
    with pytest.raises(ValueError, match="targets must have shape"):
        ndcg_at_k(RANKED, np.array([1, 2]), k=3)


def test_catalog_coverage_counts_distinct_items():
    assert catalog_coverage([[0, 1, 2], [2, 3, -1]], n_items=8) == pytest.approx(4 / 8)
    assert catalog_coverage([["a", "b"], ["b", None]], n_items=4) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="n_items"):
        catalog_coverage([[0]], n_items=0)


def test_intra_list_diversity_is_mean_pairwise_cosine_distance():
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [-3.0, 0.0]])
    # identical items: distance 0; orthogonal: 1; opposite: 2
    assert intra_list_diversity([[0, 2]], vectors) == pytest.approx(0.0)
    assert intra_list_diversity([[0, 1]], vectors) == pytest.approx(1.0)
    assert intra_list_diversity([[0, 3]], vectors) == pytest.approx(2.0)
    # three items: pairs (0,1)=1, (0,2)=0, (1,2)=1 -> 2/3; averaged with a list of 1.0
    assert intra_list_diversity([[0, 1, 2], [0, 1]], vectors) == pytest.approx((2 / 3 + 1.0) / 2)
    # lists with fewer than two real items are skipped
    assert intra_list_diversity([[0, -1], [1]], vectors) == 0.0

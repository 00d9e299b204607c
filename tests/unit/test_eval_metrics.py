"""Metric functions against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from movierec.evaluation import metrics

RANKS = [1, 3, None, 11]


def test_rank_of_is_one_based_and_none_when_absent() -> None:
    assert metrics.rank_of("b", ["a", "b", "c"]) == 2
    assert metrics.rank_of("x", ["a", "b"]) is None


def test_hit_rate_ndcg_mrr_at_10_by_hand() -> None:
    assert metrics.hit_rate(RANKS, 10) == 0.5
    # 1/log2(2) = 1 and 1/log2(4) = 0.5; two misses.
    assert metrics.ndcg(RANKS, 10) == pytest.approx((1 + 0.5) / 4)
    assert metrics.mrr(RANKS, 10) == pytest.approx((1 + 1 / 3) / 4)


def test_rank_beyond_k_counts_only_at_larger_k() -> None:
    assert metrics.hit_rate(RANKS, 20) == 0.75
    assert metrics.ndcg(RANKS, 20) == pytest.approx((1 + 0.5 + 1 / math.log2(12)) / 4)
    assert metrics.mrr(RANKS, 20) == pytest.approx((1 + 1 / 3 + 1 / 11) / 4)
    assert metrics.hit_rate(RANKS, 2) == 0.25
    assert metrics.hit_rate([], 10) == 0.0


def test_coverage_counts_distinct_movies_in_top_k() -> None:
    lists = [["a", "b", "c"], ["a", "d"]]
    assert metrics.coverage(lists, 10, 2) == pytest.approx(0.3)  # {a, b, d}
    assert metrics.coverage(lists, 10, 3) == pytest.approx(0.4)


def test_popularity_percentiles_with_ties_at_their_midpoint() -> None:
    pct = metrics.popularity_percentiles({"a": 3, "b": 1, "c": 1}, ["a", "b", "c", "d"])
    # sorted counts 0, 1, 1, 3: a has 3 below -> (3 + 0.5) / 4; b and c share (1 + 2/2) / 4; d (0 + 0.5) / 4
    assert pct == {"a": 87.5, "b": 50.0, "c": 50.0, "d": 12.5}
    assert metrics.mean_popularity_percentile([["a", "d"], ["b"]], pct, 1) == pytest.approx((87.5 + 50) / 2)


def test_popularity_counts_users_not_events() -> None:
    from movierec.models.ranking import Interaction

    train = {1: [Interaction("a", 1), Interaction("a", 2)], 2: [Interaction("a", 1), Interaction("b", 3)]}
    assert metrics.popularity_counts(train) == {"a": 2, "b": 1}


def test_bootstrap_ci_resamples_users_and_is_reproducible() -> None:
    values = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    users = [1, 1, 2, 3, 4, 5, 6, 7]
    first = metrics.bootstrap_ci(values, users, seed=3)
    assert first == metrics.bootstrap_ci(values, users, seed=3)
    low, high = first
    assert 0.0 <= low < sum(values) / len(values) < high <= 1.0
    # One user: every resample is that user, so the interval collapses onto the mean of their cases.
    assert metrics.bootstrap_ci([1.0, 0.0, 0.0, 0.0], [9, 9, 9, 9]) == (0.25, 0.25)
    assert metrics.bootstrap_ci([], []) == (0.0, 0.0)

"""Ranker v2 scoring on a tiny hand-checked case: recency, ratings, transitions, cold movies, exclusion."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pyarrow as pa

from movierec.models.ranking import Interaction
from movierec.ranking.collab import CollabRanker, FoldIn, Neighbours
from movierec.ranking.registry import build_ranker
from movierec.training.model import arrow_columns
from tests.fixtures.training import tiny_index
CF = {0: [(2, 0.5), (3, 0.25)], 1: [(3, 0.4)], 2: [(0, 0.5)], 3: [(1, 0.4)], 4: [(0, 0.2)]}
SEQ = {0: [(4, 1.0)], 1: [(2, 0.5), (4, 0.5)]}
VECTORS = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 0], [0.1, 1, 0]], dtype=np.float32)


def _lists(spec: dict[int, list[tuple[int, float]]], n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    idx, w = np.full((n, 2), -1, np.int32), np.zeros((n, 2), np.float32)
    for row, pairs in spec.items():
        for j, (col, weight) in enumerate(pairs):
            idx[row, j], w[row, j] = col, weight
    return idx, w


def _model() -> Neighbours:
    return Neighbours(np.array([5, 5, 5, 5, 5, 0], np.int32), *_lists(CF), *_lists(SEQ))


def _ranker(**params: float) -> CollabRanker:
    base = dict(tau=1.0, seq_tau=1.0, beta=0.5, cold_weight=0.0, popularity_weight=0.0)
    return CollabRanker(tiny_index(VECTORS, 5), _model(), FoldIn(**(base | params)))


def _history(rating_m1: float | None = 5.0) -> list[Interaction]:
    # given out of time order on purpose: the ranker orders by last_seen (m1 is the latest)
    return [Interaction("m1", last_seen=2.0, rating=rating_m1), Interaction("m0", last_seen=1.0)]


def test_scores_match_the_hand_computed_fold_in() -> None:
    a0, a1 = math.exp(-1), 1.0  # recency weights: m0 one step back, m1 latest
    ease = {2: a0 * 0.5, 3: a0 * 0.25 + a1 * 0.4}  # m0 -> m2, m3; m1 -> m3
    nxt = {4: a0 * 1.0 + a1 * 0.5, 2: a1 * 0.5}  # m0 -> m4; m1 -> m2, m4
    expected = {
        "m3": ease[3] / ease[3],
        "m2": ease[2] / ease[3] + 0.5 * nxt[2] / nxt[4],
        "m4": 0.5 * nxt[4] / nxt[4],
        "m5": 0.0,
    }
    got = _ranker().rank(_history(), 10)
    assert [s.movie_id for s in got] == ["m3", "m2", "m4", "m5"]  # watched m0, m1 excluded
    assert {s.movie_id: round(s.score, 6) for s in got} == {m: round(v, 6) for m, v in expected.items()}
    assert got == _ranker().rank(list(reversed(_history())), 10)  # deterministic, order-independent


def test_a_poorly_rated_movie_hardly_pulls_its_neighbours() -> None:
    liked = [s.movie_id for s in _ranker(beta=0.0).rank(_history(5.0), 2)]
    disliked = [s.movie_id for s in _ranker(beta=0.0).rank(_history(1.0), 2)]
    # rated 5: m3 (0.4 from m1 + 0.092 from m0) beats m2 (0.184); rated 1: m1 weighs 0.2 -> m3 0.172 < m2
    assert liked == ["m3", "m2"] and disliked == ["m2", "m3"]


def test_cold_movies_are_recommended_by_content_similarity() -> None:
    plain = _ranker().rank(_history(), 4)
    with_content = _ranker(cold_weight=1.0).rank(_history(), 4)
    assert plain[-1].movie_id == "m5" and plain[-1].score == 0.0
    # m5's vector is close to m1 (the latest movie): content lifts it above m4
    assert [s.movie_id for s in with_content].index("m5") < [s.movie_id for s in with_content].index("m4")
    # a history of cold movies only is ranked by content alone (no collaborative signal to use)
    only_cold = _ranker().rank([Interaction("m5", 1.0)], 2)
    assert [s.movie_id for s in only_cold] == ["m1", "m4"]


def test_the_long_tail_places_go_to_the_best_of_the_less_watched_movies() -> None:
    plain = _ranker().rank(_history(), 3)
    assert [s.movie_id for s in plain] == ["m3", "m2", "m4"]
    # m0..m3 are the 4 most watched (equal counts: row order); the last place goes to the best of m4, m5
    tailed = _ranker(long_tail=1, long_tail_from=4).rank(_history(), 2)
    assert [s.movie_id for s in tailed] == ["m3", "m4"] and tailed[1] == plain[2]  # it keeps its score
    assert [s.movie_id for s in _ranker(long_tail=2, long_tail_from=4).rank(_history(), 3)] == ["m3", "m4", "m5"]
    assert [s.movie_id for s in _ranker(long_tail=9, long_tail_from=4).rank(_history(), 2)] == ["m4", "m5"]
    # no movie outside the most watched: the places go to the next best, as without a long tail
    assert _ranker(long_tail=1, long_tail_from=6).rank(_history(), 3) == plain
    # the places end at the answer size: a longer list (an evaluation's depth) goes on by score after it,
    # so its first places are the answer
    answer = _ranker(long_tail=1, long_tail_from=4, long_tail_end=2)
    assert answer.rank(_history(), 4)[:2] == answer.rank(_history(), 2) == tailed
    assert [s.movie_id for s in answer.rank(_history(), 4)] == ["m3", "m4", "m2", "m5"]


def test_the_registry_builds_v2_from_index_columns_and_manifest() -> None:
    index = tiny_index(VECTORS, 5, arrow_columns(_model()))
    fold = FoldIn(tau=1.0, seq_tau=1.0, beta=0.5, cold_weight=0.0, popularity_weight=0.0)
    manifest = replace(index.manifest, ranker="collab-v2", build={"training": {"fold_in": fold.to_dict()}})
    served = build_ranker(type(index)(manifest, index.table))
    assert served.name == "collab-v2"
    assert served.rank(_history(), 10) == _ranker().rank(_history(), 10)


def test_rows_added_after_training_are_cold() -> None:
    """An incremental index update appends movies with null model columns: they read as cold padding."""
    cols = arrow_columns(_model())
    grown = {name: pa.concat_arrays([arr, pa.nulls(1, arr.type)]) for name, arr in cols.items()}
    index = tiny_index(np.vstack([VECTORS, [[0, 1, 0.1]]]), 6, grown)
    model = Neighbours.from_index(index)
    assert model.cf_count.tolist() == [5, 5, 5, 5, 5, 0, 0]
    assert model.cf_idx[6].tolist() == [-1, -1] and model.seq_w[6].tolist() == [0, 0]
    np.testing.assert_array_equal(model.cf_idx[:6], _model().cf_idx)


def test_a_history_shorter_than_popular_below_is_ranked_by_popularity() -> None:
    """``popular_below=3``: a user with 1-2 known movies gets the model's most popular movies (watched
    ones excluded); from 3 known movies on, the learned neighbours rank as before."""
    counts = np.array([1, 2, 3, 4, 5, 0], np.int32)  # m4 most popular, m5 cold
    model = replace(_model(), cf_count=counts)
    params = FoldIn(tau=1.0, seq_tau=1.0, beta=0.5, cold_weight=0.0, popularity_weight=0.0)
    short = CollabRanker(tiny_index(VECTORS, 5), model, replace(params, popular_below=3))
    assert [s.movie_id for s in short.rank(_history(), 3)] == ["m4", "m3", "m2"]
    longer = _history() + [Interaction("m2", last_seen=0.5)]
    plain = CollabRanker(tiny_index(VECTORS, 5), model, params)
    assert short.rank(longer, 3) == plain.rank(longer, 3)


def test_a_popularity_discount_demotes_popular_candidates_but_an_empty_history_still_gets_the_popular_list() -> None:
    """A negative ``popularity_weight`` lowers each candidate by its scaled popularity: m3, a neighbour of
    the history but by far the most watched, falls below movies the history does not point to at all. With
    no history there is nothing to discount against: the answer is the popular list, not its reverse."""
    counts = np.array([1, 2, 3, 40, 5, 0], np.int32)
    model = replace(_model(), cf_count=counts)
    params = FoldIn(tau=1.0, seq_tau=1.0, beta=0.0, cold_weight=0.0, popularity_weight=0.0)
    history = [Interaction("m0", last_seen=1.0)]  # CF: m0 -> m2 (0.5), m3 (0.25); unit-scaled 1.0, 0.5
    plain = CollabRanker(tiny_index(VECTORS, 5), model, params)
    assert [s.movie_id for s in plain.rank(history, 2)] == ["m2", "m3"]
    discounted = CollabRanker(tiny_index(VECTORS, 5), model, replace(params, popularity_weight=-1.0))
    pop = np.log1p(counts.astype(np.float64)) / np.log1p(40)
    got = {s.movie_id: s.score for s in discounted.rank(history, 5)}
    for movie, ease in {"m1": 0.0, "m2": 1.0, "m3": 0.5, "m4": 0.0, "m5": 0.0}.items():
        assert math.isclose(got[movie], ease - pop[int(movie[1])])
    assert list(got) == ["m2", "m5", "m1", "m4", "m3"]
    assert [s.movie_id for s in discounted.rank([], 3)] == ["m3", "m4", "m2"]

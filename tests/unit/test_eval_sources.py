"""The course-stream source (ingest's parser and fold rules), seeded tie order, and the Markov baseline."""

from __future__ import annotations

from movierec.evaluation.baselines import MarkovRanker
from movierec.evaluation.interactions import build_log, fold_stream
from movierec.models.ranking import Interaction


def test_stream_fold_counts_any_watched_minute_and_keeps_the_latest_rating() -> None:
    lines = [
        b"2025-02-01T10:00:00,7,GET /data/m/heat+1995/3.mpg",
        b"2025-02-01T10:01:00,7,GET /data/m/heat+1995/4.mpg",
        b"2025-02-01T10:05:00,7,GET /rate/heat+1995=2",
        b"2025-02-01T10:06:00,7,GET /rate/heat+1995=5",
        b"2025-02-01T10:07:00,5521777,GET /rate/heat+1995=5",  # rejected by the parser: 7-digit user id
        b"garbage",
        b"2025-02-01T11:00:00,8,GET /rate/sabrina+1995=4",
    ]
    states = fold_stream(lines)
    assert set(states) == {7, 8}
    heat = states[7]["heat+1995"]
    assert heat.minutes == frozenset({3, 4}) and heat.max_minute == 4 and heat.rating == 5
    assert heat.last_seen - heat.first_seen == 360.0
    assert states[8]["sabrina+1995"].rating == 4 and not states[8]["sabrina+1995"].minutes


def test_seeded_ties_are_reproducible_and_not_id_order() -> None:
    rows = [(1, Interaction(str(m), 5.0)) for m in range(30)]
    by_id = [i.movie_id for i in build_log(rows).users[1]]
    seeded = [i.movie_id for i in build_log(rows, tie_seed=0).users[1]]
    assert by_id == [str(m) for m in range(30)]
    assert seeded == [i.movie_id for i in build_log(list(reversed(rows)), tie_seed=0).users[1]]
    assert seeded != by_id and sorted(seeded) == sorted(by_id)


def test_markov_ranks_the_successors_of_the_last_movie_then_popularity() -> None:
    def h(*movies: str) -> tuple[Interaction, ...]:
        return tuple(Interaction(m, float(t)) for t, m in enumerate(movies))

    train = {1: h("a", "b"), 2: h("a", "b"), 3: h("a", "c"), 4: h("d", "e"), 5: h("e")}
    ranker = MarkovRanker.fit(train, ["a", "b", "c", "d", "e", "z"])
    assert [s.movie_id for s in ranker.rank(h("x", "a"), 4)] == ["b", "c", "e", "d"]  # unknown "x" ignored
    assert [s.movie_id for s in ranker.rank(h("a", "z"), 2)] == ["b", "c"]  # z has no successor: back off to a
    assert [s.movie_id for s in ranker.rank((), 2)] == ["a", "b"]  # empty history: popularity (b, e tie: row order)

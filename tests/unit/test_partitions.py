"""Partitions apply independently: the worker split, the sum of a movie's shards, the key check."""

from __future__ import annotations

import pytest

from infra.ingest_workers import shares
from infra.replay import key_of
from movierec.logic.aggregate import count_unkeyed
from movierec.logic.parser import parse_line
from movierec.models.ingest import Record
from movierec.models.state import MovieState


def test_every_partition_has_exactly_one_worker() -> None:
    assert shares(4, 1) == [[0, 1, 2, 3]]
    assert shares(4, 2) == [[0, 2], [1, 3]]
    assert shares(4, 4) == [[0], [1], [2], [3]]
    assert shares(2, 4) == [[0], [1]]  # no idle worker without a partition
    for partitions in range(1, 9):
        for workers in range(1, 9):
            owned = [p for share in shares(partitions, workers) for p in share]
            assert sorted(owned) == list(range(partitions))
    with pytest.raises(ValueError):
        shares(4, 0)


def test_a_movies_totals_are_the_sum_of_its_shards() -> None:
    a = MovieState(watchers=2, watch_minutes=10, ratings_count=1, ratings_sum=4, first_seen=5.0, last_activity=9.0)
    b = MovieState(watchers=1, watch_minutes=3, ratings_count=2, ratings_sum=7, first_seen=2.0, last_activity=6.0)
    assert MovieState.total([a, b]) == MovieState(3, 13, 3, 11, 2.0, 9.0)
    assert MovieState.total([a]) == a
    assert MovieState.total([]) == MovieState()


def test_records_not_keyed_by_their_user_are_counted() -> None:
    lines = [b"2025-02-12T05:11:55,54831,GET /data/m/konga+1961/22.mpg",
             b"2025-02-12T05:12:01,7,GET /rate/heat+1995=4",
             b"not a line at all"]  # fmt: skip
    keyed = [Record(i, raw, parse_line(raw), key=key_of(raw)) for i, raw in enumerate(lines)]
    assert count_unkeyed(keyed) == 0
    unkeyed = [Record(i, raw, parse_line(raw)) for i, raw in enumerate(lines)]
    assert count_unkeyed(unkeyed) == 2  # the rejected line is quarantined by its partition: no key needed
    other = [Record(0, lines[0], parse_line(lines[0]), key=b"7")]
    assert count_unkeyed(other) == 1

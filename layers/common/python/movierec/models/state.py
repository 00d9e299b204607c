"""The stored state of the items ingest maintains, as plain values.

Ingest's fold (:mod:`movierec.logic.aggregate`) computes new states from old ones, the data layer maps
them to and from DynamoDB items, and the history readers (serving, evaluation, training) read
:class:`HistoryState` back: three users of one type, so it lives here rather than with any of them.
``inf``/``-inf`` first/last times mean "never seen".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, slots=True)
class HistoryState:
    """What the store knows of one (user, movie): minutes watched, latest rating, first and last seen."""

    minutes: frozenset[int] = frozenset()
    max_minute: int = 0
    rating: int | None = None
    rated_at: float | None = None
    first_seen: float = float("inf")
    last_seen: float = float("-inf")


@dataclass(frozen=True, slots=True)
class MovieState:
    """Popularity counters of one movie, over every user's history (see docs/ingest.md), or over the
    users of one partition (one shard of the movie)."""

    watchers: int = 0
    watch_minutes: int = 0
    ratings_count: int = 0
    ratings_sum: int = 0
    first_seen: float = float("inf")
    last_activity: float = float("-inf")

    @classmethod
    def total(cls, shards: Iterable[MovieState]) -> MovieState:
        """A movie's totals from its per-partition shards (see ``MovieItem``): counters add, times take
        min/max. Exact because a (user, movie) pair lives in one partition (events are keyed by user), so
        no watcher or rating is in two shards."""
        out = cls()
        for s in shards:
            out = cls(
                watchers=out.watchers + s.watchers,
                watch_minutes=out.watch_minutes + s.watch_minutes,
                ratings_count=out.ratings_count + s.ratings_count,
                ratings_sum=out.ratings_sum + s.ratings_sum,
                first_seen=min(out.first_seen, s.first_seen),
                last_activity=max(out.last_activity, s.last_activity),
            )
        return out


@dataclass(frozen=True, slots=True)
class UserState:
    """Activity counters of one user."""

    movies: int = 0
    ratings: int = 0
    first_seen: float = float("inf")
    last_seen: float = float("-inf")

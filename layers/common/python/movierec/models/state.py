"""The stored state of the items ingest maintains, as plain values.

Ingest's fold (:mod:`movierec.logic.aggregate`) computes new states from old ones, the data layer maps
them to and from DynamoDB items, and the history readers (serving, evaluation, training) read
:class:`HistoryState` back: three users of one type, so it lives here rather than with any of them.
``inf``/``-inf`` first/last times mean "never seen".
"""

from __future__ import annotations

from dataclasses import dataclass


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
    """Popularity counters of one movie, over every user's history (see docs/ingest.md)."""

    watchers: int = 0
    watch_minutes: int = 0
    ratings_count: int = 0
    ratings_sum: int = 0
    first_seen: float = float("inf")
    last_activity: float = float("-inf")


@dataclass(frozen=True, slots=True)
class UserState:
    """Activity counters of one user."""

    movies: int = 0
    ratings: int = 0
    first_seen: float = float("inf")
    last_seen: float = float("-inf")

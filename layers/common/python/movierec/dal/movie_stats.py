"""Reading the ingested per-movie aggregates (``movies`` table, written by ingest, one shard a partition).

A movie's figures are the sum of its shards (:meth:`MovieState.total`). A Scan reads the whole table, so
callers do it rarely (the popularity list refreshes at most every ``index_refresh_s``; the index update
runs as a job), never per request.
"""

from __future__ import annotations

from collections import defaultdict

from typing import Any

from movierec.dal.tables import MovieItem, Tables
from movierec.models.state import MovieState


def scan_movie_stats(tables: Tables) -> list[tuple[str, float, float]]:
    """(movie id, distinct watchers, ratings count) of every movie the stream has shown, shards summed."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for item in tables.movies.scan(attributes_to_get=["movie_id", "watchers", "ratings_count"]):
        t = totals[item.movie_id]
        t[0] += float(item.watchers or 0)
        t[1] += float(item.ratings_count or 0)
    return [(movie_id, watchers, ratings) for movie_id, (watchers, ratings) in totals.items()]


def movie_totals(tables: Tables, movie_id: str) -> MovieState | None:
    """One movie's totals over its shards (one Query); None when the stream never showed it."""
    shards = [movie_state(item) for item in tables.movies.query(movie_id, consistent_read=True)]
    return MovieState.total(shards) if shards else None


def stream_movie_ids(tables: Tables) -> list[str]:
    """Every movie id the stream has shown, once each (a movie has one item per partition that saw it)."""
    return list(dict.fromkeys(item.movie_id for item in tables.movies.scan(attributes_to_get=["movie_id"])))


def movie_state(item: MovieItem) -> MovieState:
    """The counters one movie item (one shard) holds."""
    return MovieState(
        watchers=int(item.watchers or 0),
        watch_minutes=int(item.watch_minutes or 0),
        ratings_count=int(item.ratings_count or 0),
        ratings_sum=int(item.ratings_sum or 0),
        first_seen=or_default(item.first_seen, float("inf")),
        last_activity=or_default(item.last_activity, float("-inf")),
    )


def or_default(value: Any, default: float) -> float:
    """A stored number, or ``default`` when the attribute is absent (never seen)."""
    return default if value is None else float(value)

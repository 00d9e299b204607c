"""Reading the ingested per-movie aggregates (``movies`` table, written by ingest).

A Scan reads the whole table, so callers do it rarely (the popularity list refreshes at most every
``index_refresh_s``; the index update runs as a job), never per request.
"""

from __future__ import annotations

from movierec.dal.tables import Tables


def scan_movie_stats(tables: Tables) -> list[tuple[str, float, float]]:
    """(movie id, distinct watchers, ratings count) of every movie the stream has shown."""
    return [
        (item.movie_id, float(item.watchers or 0), float(item.ratings_count or 0))
        for item in tables.movies.scan(attributes_to_get=["movie_id", "watchers", "ratings_count"])
    ]

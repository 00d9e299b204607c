"""Interaction logs for evaluation: who interacted with which movie, when, in time order.

Two sources feed the same :class:`InteractionLog`, so one protocol measures both:

- :func:`load_movielens` — MovieLens ml-latest-small ``ratings.csv`` (every rating is an interaction;
  movie ids are MovieLens ``movieId`` as text), catalog = every movie of ``movies.csv``.
- :func:`load_dynamodb` — what the running system has ingested: the ``history`` table (read-only,
  through the pynamodb models and the serving path's ``get_history``), catalog = movies in the
  ``movies`` table plus any movie seen in a history.

Each user's interactions are sorted by time, ties broken by movie id (:func:`movie_order`), so "the
chronologically last interaction" is well defined and every run sees the same order.

Usage::

    log = load_movielens()
    log.users[1][-1]          # user 1's last Interaction
    log.catalog               # every movie id that can be recommended, in movie-id order
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from typing import Iterable, Sequence

from movierec.config import Settings, get_settings
from movierec.datasets import data_path
from movierec.models.ranking import Interaction, InteractionLog

MOVIELENS = ("movielens", "ml-latest-small")


def movie_order(movie_id: str) -> tuple[int, int, str]:
    """Sort key of a movie id: numeric ids numerically (MovieLens), then other ids as text (course ids)."""
    return (0, int(movie_id), "") if movie_id.isdigit() else (1, 0, movie_id)


def time_order(item: Interaction) -> tuple[float, tuple[int, int, str]]:
    """Sort key of an interaction: its time, ties broken by movie id."""
    return item.last_seen, movie_order(item.movie_id)


def build_log(
    rows: Iterable[tuple[int, Interaction]], catalog: Iterable[str] = (), source: str = "constructed"
) -> InteractionLog:
    """A log from (user id, interaction) rows; the catalog is ``catalog`` plus every movie in the rows.

    A movie that appears twice for one user keeps its latest interaction (a history has one row per movie,
    as the ``history`` table does).
    """
    per_user: dict[int, dict[str, Interaction]] = defaultdict(dict)
    movies = set(catalog)
    for user_id, item in rows:
        seen = per_user[user_id].get(item.movie_id)
        if seen is None or time_order(item) > time_order(seen):
            per_user[user_id][item.movie_id] = item
        movies.add(item.movie_id)
    users = {u: tuple(sorted(h.values(), key=time_order)) for u, h in sorted(per_user.items())}
    return InteractionLog(users=users, catalog=tuple(sorted(movies, key=movie_order)), source=source)


def with_catalog(log: InteractionLog, movie_ids: Iterable[str]) -> InteractionLog:
    """The same log with ``movie_ids`` added to its catalog (e.g. every movie of the served index)."""
    return replace(log, catalog=tuple(sorted(set(log.catalog) | set(movie_ids), key=movie_order)))


def _movielens_rows(ratings: Sequence[dict[str, str]]) -> Iterable[tuple[int, Interaction]]:
    for r in ratings:
        yield int(r["userId"]), Interaction(
            movie_id=r["movieId"], last_seen=float(r["timestamp"]), rating=float(r["rating"])
        )


def load_movielens(settings: Settings | None = None) -> InteractionLog:
    """MovieLens ml-latest-small ratings as a log (610 users, 100,836 interactions, 9,742 movies)."""
    s = settings or get_settings()
    with data_path(*MOVIELENS, "ratings.csv", settings=s).open(newline="") as f:
        ratings = list(csv.DictReader(f))
    with data_path(*MOVIELENS, "movies.csv", settings=s).open(newline="") as f:
        catalog = [row["movieId"] for row in csv.DictReader(f)]
    return build_log(_movielens_rows(ratings), catalog, source="movielens")


def load_dynamodb(settings: Settings | None = None) -> InteractionLog:
    """The running system's ingested histories, read-only.

    One Scan of the history table, items mapped as the recommend function maps them
    (:func:`movierec.dal.history.to_interaction`), so evaluation sees exactly what serving sees.
    """
    from movierec.dal.history import scan_histories
    from movierec.dal.tables import Tables

    tables = Tables(settings or get_settings())
    rows = scan_histories(tables)
    catalog = [m.movie_id for m in tables.movies.scan(attributes_to_get=["movie_id"])]
    return build_log(rows, catalog, source="dynamodb")

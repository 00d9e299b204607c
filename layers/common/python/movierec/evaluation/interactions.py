"""Interaction logs for evaluation and training: who interacted with which movie, when, in time order.

Three sources feed the same :class:`InteractionLog`, so one protocol measures all of them:

- :func:`load_movielens` — MovieLens ml-latest-small ``ratings.csv`` (every rating is an interaction;
  movie ids are MovieLens ``movieId`` as text), catalog = every movie of ``movies.csv``.
- :func:`load_stream` — the course stream files (``stream/*.txt``) through ingest's own parser
  (:func:`movierec.logic.parser.parse_line`): a watch of any minute of a movie is an interaction, a
  rating is one too (and sets its rating), folded per (user, movie) as ingest folds them and mapped as
  serving maps stored states (:func:`movierec.dal.history.to_interaction`); catalog = the course
  catalog plus every movie of the stream.
- :func:`load_dynamodb` — what the running system has ingested: the ``history`` table (read-only,
  through the pynamodb models and the serving path's mapping), catalog = movies in the ``movies``
  table plus any movie seen in a history (or only the latter, for training).

:func:`load_prior` is not a source but extra training data for ranker v2 on the course-id sources:
MovieLens histories with their movies in stream ids (:mod:`movierec.training.prior` says why and how).

Each user's interactions are sorted by time. Ties in time are broken by movie id by default
(:func:`movie_order`), or — with ``tie_seed`` — by a seeded pseudo-random order per (user, movie):
id order is not a real order, and a sequence model would learn it (MovieLens rates many movies in
the same second). Either way every run with the same arguments sees the same order.

Usage::

    log = load_movielens()
    log.users[1][-1]          # user 1's last Interaction
    log.catalog               # every movie id that can be recommended, in movie-id order
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from movierec.config import Settings, get_settings
from movierec.datasets import data_path
from movierec.models.events import RateEvent, WatchEvent
from movierec.models.ranking import Interaction, InteractionLog
from movierec.models.state import HistoryState

MOVIELENS = ("movielens", "ml-latest-small")
#: The seed of the tie order ``movierec eval offline`` and ``movierec train`` use on every source.
TIE_SEED = 0


def movie_order(movie_id: str) -> tuple[int, int, str]:
    """Sort key of a movie id: numeric ids numerically (MovieLens), then other ids as text (course ids)."""
    return (0, int(movie_id), "") if movie_id.isdigit() else (1, 0, movie_id)


def time_order(item: Interaction) -> tuple[float, tuple[int, int, str]]:
    """Sort key of an interaction: its time, ties broken by movie id."""
    return item.last_seen, movie_order(item.movie_id)


def tie_order(seed: int, user_id: int, movie_id: str) -> bytes:
    """A seeded pseudo-random sort key of one (user, movie): stable across processes (not ``hash()``)."""
    return hashlib.blake2b(f"{seed}:{user_id}:{movie_id}".encode(), digest_size=8).digest()


def build_log(
    rows: Iterable[tuple[int, Interaction]], catalog: Iterable[str] = (), source: str = "constructed",
    tie_seed: int | None = None,
) -> InteractionLog:  # fmt: skip
    """A log from (user id, interaction) rows; the catalog is ``catalog`` plus every movie in the rows.

    A movie that appears twice for one user keeps its latest interaction (a history has one row per movie,
    as the ``history`` table does). Ties in time: by movie id, or seeded random with ``tie_seed``.
    """
    per_user: dict[int, dict[str, Interaction]] = defaultdict(dict)
    movies = set(catalog)
    for user_id, item in rows:
        seen = per_user[user_id].get(item.movie_id)
        if seen is None or time_order(item) > time_order(seen):
            per_user[user_id][item.movie_id] = item
        movies.add(item.movie_id)
    if tie_seed is None:
        users = {u: tuple(sorted(h.values(), key=time_order)) for u, h in sorted(per_user.items())}
    else:
        users = {
            u: tuple(sorted(h.values(), key=lambda i, u=u: (i.last_seen, tie_order(tie_seed, u, i.movie_id))))
            for u, h in sorted(per_user.items())
        }
    return InteractionLog(users=users, catalog=tuple(sorted(movies, key=movie_order)), source=source)


def with_catalog(log: InteractionLog, movie_ids: Iterable[str]) -> InteractionLog:
    """The same log with ``movie_ids`` added to its catalog (e.g. every movie of the served index)."""
    return replace(log, catalog=tuple(sorted(set(log.catalog) | set(movie_ids), key=movie_order)))


def _movielens_rows(ratings: Sequence[dict[str, str]]) -> Iterable[tuple[int, Interaction]]:
    for r in ratings:
        yield int(r["userId"]), Interaction(
            movie_id=r["movieId"], last_seen=float(r["timestamp"]), rating=float(r["rating"])
        )


def load_movielens(settings: Settings | None = None, tie_seed: int | None = None) -> InteractionLog:
    """MovieLens ml-latest-small ratings as a log (610 users, 100,836 interactions, 9,742 movies)."""
    s = settings or get_settings()
    with data_path(*MOVIELENS, "ratings.csv", settings=s).open(newline="") as f:
        ratings = list(csv.DictReader(f))
    with data_path(*MOVIELENS, "movies.csv", settings=s).open(newline="") as f:
        catalog = [row["movieId"] for row in csv.DictReader(f)]
    return build_log(_movielens_rows(ratings), catalog, source="movielens", tie_seed=tie_seed)


def load_prior(settings: Settings | None = None, tie_seed: int | None = TIE_SEED) -> dict[int, tuple[Interaction, ...]]:
    """MovieLens histories in stream movie ids, keyed by ``-userId`` so they can never be mistaken for a
    course user. A movie's id is its course id (linked, or the one of :func:`course_movie_ids` its title
    names, so that ``Star Wars: Episode IV - A New Hope``'s ratings land on the stream's ``star+wars+1977``),
    else the course-style id of its title (:func:`~movierec.catalog.movielens_stream.movie_ids`)."""
    from movierec.catalog.movielens_stream import movie_ids

    s = settings or get_settings()
    ids = movie_ids(s, course_movie_ids(s))
    log = load_movielens(s, tie_seed=tie_seed)
    return {-u: tuple(replace(i, movie_id=ids[int(i.movie_id)]) for i in h) for u, h in log.users.items()}


def course_movie_ids(settings: Settings | None = None) -> tuple[str, ...]:
    """The course movie ids the data folder holds: its catalog's and its stream files' (the catalog file
    is a sample of the course's movies; the stream names about 40% more). Empty without course files.

    These are the ids the prior's titles are matched to. They are the same for every caller (evaluation,
    training, ``publish-prior``), so a published prior is the data folder's prior; and they are item facts
    (which movies the course has), the catalog every offline ranking is already over, never who watched
    what."""
    from movierec.catalog.course import load_course_catalog

    try:
        return load_stream(settings).catalog
    except FileNotFoundError:  # a file or folder missing (a DataMissingError too): what there is
        try:
            return tuple(m.id for m in load_course_catalog(settings).movies)
        except FileNotFoundError:
            return ()


def stream_files(settings: Settings | None = None) -> list[Path]:
    """The course stream files (``stream/*.txt``: one log line per line), sorted by name."""
    folder = data_path("stream", settings=settings)
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no stream/*.txt files in {folder}")
    return files


def fold_stream(lines: Iterable[bytes]) -> dict[int, dict[str, HistoryState]]:
    """Stream lines -> per user, per movie the state ingest would store (rejected and request lines skipped).

    The same rules as ingest's fold: minutes watched are a set, the latest rating wins, first/last seen
    span every watch and rating of the pair.
    """
    from movierec.logic.parser import parse_line

    states: dict[int, dict[str, HistoryState]] = defaultdict(dict)
    for raw in lines:
        event = parse_line(raw)
        if not isinstance(event, (WatchEvent, RateEvent)):
            continue
        old = states[event.user_id].get(event.movie_id) or HistoryState()
        seen = {"first_seen": min(old.first_seen, event.at), "last_seen": max(old.last_seen, event.at)}
        if isinstance(event, WatchEvent):
            new = replace(old, minutes=old.minutes | {event.minute}, max_minute=max(old.max_minute, event.minute), **seen)
        elif old.rated_at is None or event.at >= old.rated_at:
            new = replace(old, rating=event.rating, rated_at=event.at, **seen)
        else:
            new = replace(old, **seen)
        states[event.user_id][event.movie_id] = new
    return states


def _lines(paths: Iterable[Path]) -> Iterable[bytes]:
    for path in paths:
        with path.open("rb") as f:
            for line in f:
                yield line.rstrip(b"\r\n")


def load_stream(settings: Settings | None = None, files: Sequence[Path] | None = None,
                tie_seed: int | None = None) -> InteractionLog:  # fmt: skip
    """The course stream files as a log (see the module docstring); catalog = course catalog + stream movies."""
    from movierec.catalog.course import load_course_catalog
    from movierec.dal.history import to_interaction

    s = settings or get_settings()
    states = fold_stream(_lines(files or stream_files(s)))
    rows = ((u, to_interaction(m, state)) for u, movies in states.items() for m, state in movies.items())
    catalog = [m.id for m in load_course_catalog(s).movies]
    return build_log(rows, catalog, source="stream", tie_seed=tie_seed)


def load_dynamodb(settings: Settings | None = None, include_catalog: bool = True,
                  tie_seed: int | None = None) -> InteractionLog:  # fmt: skip
    """The running system's ingested histories, read-only.

    One Scan of the history table, items mapped as the recommend function maps them
    (:func:`movierec.dal.history.to_interaction`), so evaluation sees exactly what serving sees.
    ``include_catalog`` adds every movie of the ``movies`` table (one more Scan; training needs none).
    """
    from movierec.dal.history import scan_histories
    from movierec.dal.movie_stats import stream_movie_ids
    from movierec.dal.tables import Tables

    tables = Tables(settings or get_settings())
    rows = scan_histories(tables)
    catalog = stream_movie_ids(tables) if include_catalog else []
    return build_log(rows, catalog, source="dynamodb", tie_seed=tie_seed)

"""MovieLens ratings -> course-format stream events, in time order.

MovieLens gives long, timestamped histories; the course stream gives the format. Each rating becomes
``minutes_per_rating`` watch events (minutes 0, 1, ... one minute apart, ending one minute before the
rating) and then the rate event. Movie ids are the course ids from ``movielens/ml_to_course_ids.csv``
where one exists, else derived from the MovieLens title in the course style (:func:`course_style_id`,
which reproduces 92% of the known course ids exactly). Ratings 0.5..5 become integers 1..5 by rounding
half up (0.5 -> 1, 3.5 -> 4), because the stream only carries integer ratings.

:func:`movielens_events` is a generator over time-ordered events (a bounded heap merges the watch events
that precede each rating), so a replay, a benchmark or an evaluation can consume it lazily.
"""

from __future__ import annotations

import csv
import heapq
import re
import zlib
from datetime import datetime, timezone
from typing import Iterator

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.logic.parser import is_movie_id
from movierec.models.events import Event, RateEvent, RecommendationEvent, WatchEvent

MOVIELENS = ("movielens", "ml-latest-small")
#: Articles MovieLens moves to the end of a title ("Heat, The"); the course ids keep them in front.
_ARTICLES = ("The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der", "Die", "El", "Los", "Las")
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
_ALTERNATE = re.compile(r"\s*\(.*?\)")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 -._*")


def course_style_id(title: str) -> str:
    """A course-style id for a MovieLens title: ``"American President, The (1995)"`` -> ``the+american+president+1995``.

    Alternate titles in parentheses are dropped, a trailing article moves to the front, commas become
    ``_`` (as in ``the+good_+the+bad+and+the+ugly+1966``), other characters outside the id charset are
    dropped, spaces become ``+`` and the year is appended.
    """
    match = _TITLE_YEAR.match(title)
    name, year = (match.group(1), match.group(2)) if match else (title, "")
    name = _ALTERNATE.sub("", name)
    for article in _ARTICLES:
        if name.endswith(", " + article):
            name = article + ("" if article.endswith("'") else " ") + name[: -len(article) - 2]
            break
    name = "".join(ch for ch in name.lower().replace(",", "_") if ch in _ALLOWED or ch == "_")
    movie_id = name.replace(" ", "+") + (f"+{year}" if year else "")
    # A title with nothing left (all non-Latin characters) still needs a stable, valid id.
    return movie_id if is_movie_id(movie_id) and name.strip() else f"movielens+{zlib.crc32(title.encode()):08x}"


def movie_ids(settings: Settings | None = None) -> dict[int, str]:
    """MovieLens movieId -> stream movie id (course id when known, else :func:`course_style_id`)."""
    known: dict[int, str] = {}
    with open(data_path("movielens", "ml_to_course_ids.csv", settings=settings), newline="") as f:
        for row in csv.DictReader(f):
            known[int(row["movieId"])] = row["course_movie_id"]
    out: dict[int, str] = {}
    with open(data_path(*MOVIELENS, "movies.csv", settings=settings), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ml_id = int(row["movieId"])
            out[ml_id] = known.get(ml_id) or course_style_id(row["title"])
    return out


def stream_rating(value: float) -> int:
    """A MovieLens rating (0.5..5 in halves) as a stream rating 1..5, rounding half up."""
    return max(1, min(5, int(value + 0.5)))


def movielens_events(
    minutes_per_rating: int = 3,
    limit: int | None = None,
    settings: Settings | None = None,
) -> Iterator[WatchEvent | RateEvent]:
    """Every MovieLens rating (the first ``limit`` in time order) as watch events then a rate event, by time.

    Ties are broken by (user, movie, kind) so the output is deterministic.
    """
    ids = movie_ids(settings)
    with open(data_path(*MOVIELENS, "ratings.csv", settings=settings), newline="") as f:
        rows = [(int(r["timestamp"]), int(r["userId"]), int(r["movieId"]), float(r["rating"])) for r in csv.DictReader(f)]
    rows.sort()
    if limit is not None:
        rows = rows[:limit]
    lead = 60 * minutes_per_rating  # the first watch event precedes its rating by this many seconds
    heap: list[tuple[float, int, str, int, int]] = []  # (at, user, movie, kind 0=watch 1=rate, value)
    for ts, user, ml_movie, rating in rows:
        while heap and heap[0][0] < ts - lead:
            yield _event(heapq.heappop(heap))
        movie = ids[ml_movie]
        for i in range(minutes_per_rating):
            heapq.heappush(heap, (float(ts - lead + 60 * i), user, movie, 0, i))
        heapq.heappush(heap, (float(ts), user, movie, 1, stream_rating(rating)))
    while heap:
        yield _event(heapq.heappop(heap))


def _event(entry: tuple[float, int, str, int, int]) -> WatchEvent | RateEvent:
    at, user, movie, kind, value = entry
    return WatchEvent(at, user, movie, value) if kind == 0 else RateEvent(at, user, movie, value)


def format_time(at: float) -> str:
    """Epoch seconds as the stream writes them: ``2025-02-12T05:11:55`` (UTC), ``.fff`` only when needed."""
    dt = datetime.fromtimestamp(at, tz=timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    ms = round((at - int(at)) * 1000)
    return f"{text}.{ms:03d}" if ms else text


def format_line(event: Event) -> str:
    """An event as the course stream line the parser reads back into the same event."""
    t = format_time(event.at)
    if isinstance(event, WatchEvent):
        return f"{t},{event.user_id},GET /data/m/{event.movie_id}/{event.minute}.mpg"
    if isinstance(event, RateEvent):
        return f"{t},{event.user_id},GET /rate/{event.movie_id}={event.rating}"
    assert isinstance(event, RecommendationEvent)
    return (f"{t},{event.user_id},recommendation request {event.server}, status {event.status}, "
            f"result: {', '.join(event.movie_ids)}, {event.latency_ms} ms")

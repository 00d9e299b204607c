"""Events -> course stream lines, and MovieLens ratings -> course-format events (pure; no file access).

The inverse of :mod:`movierec.logic.parser`: :func:`format_line` writes the line the parser reads back into
the same event, so replays, benchmarks and tests produce exactly what the course stream sends. The
MovieLens conversion (:func:`ratings_as_events`) turns each rating into ``minutes_per_rating`` watch events
(minutes 0, 1, ... one minute apart, ending one minute before the rating) and then the rate event; ratings
0.5..5 become integers 1..5 by rounding half up, because the stream only carries integer ratings. Reading
the MovieLens files is :mod:`movierec.catalog.movielens_stream`'s job.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timezone
from typing import Iterable, Iterator, Mapping

from movierec.models.events import Event, MovieLensRating, RateEvent, RecommendationEvent, WatchEvent


def stream_rating(value: float) -> int:
    """A MovieLens rating (0.5..5 in halves) as a stream rating 1..5, rounding half up."""
    return max(1, min(5, int(value + 0.5)))


def ratings_as_events(
    rows: Iterable[MovieLensRating], ids: Mapping[int, str], minutes_per_rating: int = 3
) -> Iterator[WatchEvent | RateEvent]:
    """Time-ordered ``rows`` as watch events then a rate event each, in time order.

    A bounded heap merges the watch events that precede each rating, so the output is lazy; ties are
    broken by (user, movie, kind), so it is deterministic.
    """
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

"""Fold a run of parsed stream records into per-(user, movie), per-movie and per-user changes.

A user watching a movie sends one line per minute, so a batch of thousands of lines touches far fewer
items than it has lines: folding first turns them into tens or hundreds of item writes (DynamoDB and
moto are the slow part of ingest). A user's history is one page item holding all their movies, so a
user costs one history write however many movies they touch. Everything here is pure (no I/O):
:mod:`movierec.ingest.writer` reads the current items through the data layer, calls :func:`resolve` to
get their absolute new state, and writes those.

What the result means (and why it is idempotent):

- history: ``minutes`` is the SET of distinct minutes watched, so the same watch line twice (a duplicated
  message) changes nothing; ``rating`` is the rating with the latest event time (the same rate line twice
  is the same rating; an older rating arriving late does not replace a newer one); first/last seen are
  min/max of event times.
- movie: ``watchers`` = users with at least one watched minute, ``watch_minutes`` = distinct (user, minute)
  pairs, ``ratings_count``/``ratings_sum`` = over each user's latest rating, ``first_seen``/``last_activity``
  = min/max event time. All derive from the history change, so a duplicate line counts nothing twice.
- user: ``movies`` = distinct movies touched, ``ratings`` = movies rated, first/last seen.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Sequence

from movierec.models.events import RecommendationEvent, Rejection, WatchEvent
from movierec.models.ingest import Record
from movierec.models.state import HistoryState, MovieState, UserState

PairKey = tuple[int, str]


@dataclass(slots=True)
class PairDelta:
    """What a chunk says about one (user, movie)."""

    minutes: set[int] = field(default_factory=set)
    first_at: float = float("inf")
    last_at: float = float("-inf")
    rating: int | None = None
    rated_at: float | None = None

    def see(self, at: float) -> None:
        if at < self.first_at:
            self.first_at = at
        if at > self.last_at:
            self.last_at = at


@dataclass
class Chunk:
    """A contiguous run of records (offsets ``first``..``last``) folded into item-level changes."""

    first: int
    last: int
    pairs: dict[PairKey, PairDelta] = field(default_factory=dict)
    recommendations: dict[str, RecommendationEvent] = field(default_factory=dict)
    rejected: list[Record] = field(default_factory=list)
    accepted: int = 0
    movies: set[str] = field(default_factory=set)
    users: set[int] = field(default_factory=set)


def recommendation_key(event: RecommendationEvent) -> str:
    """Range key of a stream recommendation: time-sortable, and equal for a duplicated line (same content)."""
    body = f"{event.user_id}|{event.status}|{','.join(event.movie_ids)}|{event.latency_ms}"
    return f"{round(event.at * 1000):013d}#stream:{event.server}#{zlib.crc32(body.encode()):08x}"


def _fold(chunk: Chunk, record: Record) -> None:
    event = record.parsed
    chunk.last = record.offset
    if isinstance(event, Rejection):
        chunk.rejected.append(record)
        return
    chunk.accepted += 1
    if isinstance(event, RecommendationEvent):
        chunk.recommendations[recommendation_key(event)] = event
        return
    key = (event.user_id, event.movie_id)
    delta = chunk.pairs.get(key)
    if delta is None:
        delta = chunk.pairs[key] = PairDelta()
        chunk.movies.add(event.movie_id)
        chunk.users.add(event.user_id)
    delta.see(event.at)
    if isinstance(event, WatchEvent):
        delta.minutes.add(event.minute)
    elif delta.rated_at is None or event.at >= delta.rated_at:  # RateEvent: the latest one wins
        delta.rating, delta.rated_at = event.rating, event.at


def _new_keys(chunk: Chunk, record: Record) -> int:
    """How many item writes ``record`` would add to ``chunk``."""
    event = record.parsed
    if isinstance(event, Rejection):
        return 1
    if isinstance(event, RecommendationEvent):
        return 0 if recommendation_key(event) in chunk.recommendations else 1
    # a movie is one item write; a user two (their history page and their user item)
    return (event.movie_id not in chunk.movies) + 2 * (event.user_id not in chunk.users)


def chunks(records: Sequence[Record], max_actions: int) -> Iterator[Chunk]:
    """Split offset-ordered records into contiguous chunks of at most ``max_actions`` item writes each."""
    if max_actions < 3:
        raise ValueError("a chunk needs room for at least one event's three item writes")
    chunk: Chunk | None = None
    size = 0
    for record in records:
        if chunk is not None:
            extra = _new_keys(chunk, record)
            if size + extra > max_actions:
                yield chunk
                chunk = None
        if chunk is None:
            chunk, size = Chunk(first=record.offset, last=record.offset), 0
            extra = _new_keys(chunk, record)
        _fold(chunk, record)
        size += extra
    if chunk is not None:
        yield chunk


# ---- resolving a chunk against the stored state -------------------------------------------------------


@dataclass
class Resolution:
    """New states for every item a chunk touches (only those that actually change)."""

    history: dict[PairKey, HistoryState]
    movies: dict[str, MovieState]
    users: dict[int, UserState]


def resolve(
    chunk: Chunk,
    history: dict[PairKey, HistoryState],
    movies: dict[str, MovieState],
    users: dict[int, UserState],
) -> Resolution:
    """The new state of each touched item given its stored state (absent = never seen)."""
    changes: dict[PairKey, HistoryState] = {}
    new_movies: dict[str, MovieState] = {}
    new_users: dict[int, UserState] = {}
    for key, delta in chunk.pairs.items():
        user_id, movie_id = key
        old = history.get(key)
        before = old or HistoryState()
        added = frozenset(delta.minutes - before.minutes)
        rating, rated_at = before.rating, before.rated_at
        if delta.rated_at is not None and (rated_at is None or delta.rated_at >= rated_at):
            rating, rated_at = delta.rating, delta.rated_at
        state = HistoryState(
            minutes=before.minutes | added,
            max_minute=max([before.max_minute, *added]),
            rating=rating,
            rated_at=rated_at,
            first_seen=min(before.first_seen, delta.first_at),
            last_seen=max(before.last_seen, delta.last_at),
        )
        if state == before and old is not None:
            continue  # a re-delivered duplicate: nothing to write
        changes[key] = state

        movie = new_movies.get(movie_id) or movies.get(movie_id) or MovieState()
        new_movies[movie_id] = replace(
            movie,
            watchers=movie.watchers + (1 if added and not before.minutes else 0),
            watch_minutes=movie.watch_minutes + len(added),
            ratings_count=movie.ratings_count + (1 if rating is not None and before.rating is None else 0),
            ratings_sum=movie.ratings_sum + (rating or 0) - (before.rating or 0),
            first_seen=min(movie.first_seen, delta.first_at),
            last_activity=max(movie.last_activity, delta.last_at),
        )
        user = new_users.get(user_id) or users.get(user_id) or UserState()
        new_users[user_id] = replace(
            user,
            movies=user.movies + (1 if old is None else 0),
            ratings=user.ratings + (1 if rating is not None and before.rating is None else 0),
            first_seen=min(user.first_seen, delta.first_at),
            last_seen=max(user.last_seen, delta.last_at),
        )
    return Resolution(history=changes, movies=new_movies, users=new_users)


def count_rejections(records: Iterable[Record]) -> dict[str, int]:
    """Rejected records per reason (for the summary and metrics)."""
    out: dict[str, int] = {}
    for r in records:
        if isinstance(r.parsed, Rejection):
            out[r.parsed.reason.value] = out.get(r.parsed.reason.value, 0) + 1
    return out



def count_unkeyed(records: Iterable[Record]) -> int:
    """Accepted records whose Kafka key is not their event's user id.

    Partitions apply in parallel only because a user's events share a partition (the producer keys by
    user); a record keyed otherwise (or not at all: Kafka then picks any partition) breaks that, so it is
    counted, and alarmed on, rather than silently risking two writers of one user's items.
    """
    return sum(
        1
        for r in records
        if not isinstance(r.parsed, Rejection) and r.key != str(r.parsed.user_id).encode()
    )

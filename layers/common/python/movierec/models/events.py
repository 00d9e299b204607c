"""Typed stream events and the machine-readable reasons a stream line is rejected.

A stream line becomes exactly one of :class:`WatchEvent`, :class:`RateEvent`, :class:`RecommendationEvent`
or :class:`Rejection` (see :mod:`movierec.logic.parser`). Times are epoch seconds (UTC, float with
millisecond precision) because every table stores epoch seconds and comparisons are then plain numbers.
The rules behind each reason are in docs/ingest.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Union


class Reason(StrEnum):
    """Why a line was rejected; stored in the quarantine table and used as a metric name suffix."""

    NOT_UTF8 = "not_utf8"  #: the bytes are not valid UTF-8
    EMPTY = "empty"  #: nothing but whitespace
    MALFORMED = "malformed"  #: not ``<time>,<user>,<request>`` (too few fields, e.g. a truncated line)
    BAD_TIMESTAMP = "bad_timestamp"  #: not ``YYYY-MM-DDTHH:MM[:SS[.fff]]`` or not a real date/time
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"  #: a real time, but before 1995 or from 2100 on
    BAD_USER_ID = "bad_user_id"  #: not a non-negative decimal integer (``-25611``, ``24f162``)
    USER_ID_OUT_OF_RANGE = "user_id_out_of_range"  #: a number, but >= 1,000,000 (``5521777``)
    BAD_MOVIE_ID = "bad_movie_id"  #: empty, too long, or characters outside ``a-z0-9+-._*``
    BAD_MINUTE = "bad_minute"  #: the ``<minute>.mpg`` part is not an integer in 0..9999
    BAD_RATING = "bad_rating"  #: the ``=<rating>`` part is not an integer in 1..5
    BAD_RECOMMENDATION = "bad_recommendation"  #: a recommendation log line that does not follow its format
    UNKNOWN_REQUEST = "unknown_request"  #: the third field is none of the three known kinds


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """The user watched minute ``minute`` of a movie (the stream sends one line per minute watched)."""

    at: float
    user_id: int
    movie_id: str
    minute: int


@dataclass(frozen=True, slots=True)
class RateEvent:
    """The user rated a movie 1..5; a later rating of the same movie replaces an earlier one."""

    at: float
    user_id: int
    movie_id: str
    rating: int


@dataclass(frozen=True, slots=True)
class RecommendationEvent:
    """A recommendation a course server returned to the user, as the stream logged it."""

    at: float
    user_id: int
    server: str
    status: int
    movie_ids: tuple[str, ...]
    latency_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line that is not a valid event: the reason (machine-readable) and a short human detail."""

    reason: Reason
    detail: str


Event = Union[WatchEvent, RateEvent, RecommendationEvent]
Parsed = Union[WatchEvent, RateEvent, RecommendationEvent, Rejection]
#: One MovieLens rating, the source the replay turns into events: (epoch seconds, user, MovieLens movie id, 0.5..5).
MovieLensRating = tuple[int, int, int, float]

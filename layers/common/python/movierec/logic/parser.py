"""One stream line (bytes) -> a typed event or a :class:`~movierec.models.events.Rejection` with a reason.

Speed matters (the whole stream goes through here), so a valid line is recognised by ONE precompiled
regular expression per line kind that also enforces the value rules (user id at most six digits, rating
1..5, minute at most four digits, movie id charset); its timestamp becomes epoch seconds through a memo
of minute -> epoch (``_minute_epoch``) instead of ``datetime.strptime`` per line. Only a line that no fast pattern
accepts takes the slower diagnostic path, which finds the precise reason. The rules (and why these
bounds) are documented in docs/ingest.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache

from movierec.models.events import (
    Parsed,
    RateEvent,
    Reason,
    RecommendationEvent,
    Rejection,
    WatchEvent,
)
from movierec.models.movie import MAX_MOVIE_ID_LEN, MOVIE_ID_CHARS

#: User ids are below one million: the real course streams use ids up to ~614k (six digits); the course
#: injects 7-digit ids (``5521777``) as corruption.
MAX_USER_ID = 999_999
#: Accepted years: the web and MovieLens start in 1995/96; a year from 2100 on is a garbled timestamp.
MIN_YEAR, END_YEAR = 1995, 2100
MAX_MINUTE = 9_999

_TS = r"(\d{4}-\d\d-\d\dT\d\d:\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?"
_MOVIE = rf"({MOVIE_ID_CHARS}{{1,{MAX_MOVIE_ID_LEN}}})"
_WATCH = re.compile(rf"{_TS},(\d{{1,6}}),GET /data/m/{_MOVIE}/(\d{{1,4}})\.mpg")
_RATE = re.compile(rf"{_TS},(\d{{1,6}}),GET /rate/{_MOVIE}=([1-5])")
_RECO_BODY = r"recommendation request ([^,\s]+), status (\d{1,3}), result: (.*?),? (\d{1,9}) ?ms"
_RECO = re.compile(rf"{_TS},(\d{{1,6}}),{_RECO_BODY}")

_TS_ONLY = re.compile(_TS)
_MOVIE_ONLY = re.compile(_MOVIE)
_RECO_ONLY = re.compile(_RECO_BODY)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=200_000)
def _minute_epoch(minute: str) -> float | Rejection:
    """Epoch seconds of ``"YYYY-MM-DDTHH:MM"`` (UTC), or the Rejection for it.

    A pure memo of a pure function (same minute, same answer; both results are immutable): lines arrive
    in time order, so consecutive lines share the minute and the memo answers almost every line. Bounded,
    so a long run or garbage cannot grow it.
    """
    try:
        value: float | Rejection = (datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)
                                    - _EPOCH).total_seconds()
    except ValueError:
        return Rejection(Reason.BAD_TIMESTAMP, f"no such date/time {minute!r}")
    if not MIN_YEAR <= int(minute[:4]) < END_YEAR:
        return Rejection(Reason.TIMESTAMP_OUT_OF_RANGE, f"year {minute[:4]} outside {MIN_YEAR}..{END_YEAR - 1}")
    return value


def _epoch(minute: str, second: str | None, fraction: str | None) -> float | Rejection:
    """Epoch seconds of a timestamp given as its three regex groups."""
    at = _minute_epoch(minute)
    if second is None or isinstance(at, Rejection):
        return at
    s = int(second)
    if s > 59:
        return Rejection(Reason.BAD_TIMESTAMP, f"second {second} in {minute}:{second}")
    if fraction:
        return round(at + s + int(fraction) / 10 ** len(fraction), 3)
    return at + s


def parse_line(raw: bytes) -> Parsed:
    """Classify one Kafka message value. Never raises for any input bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(Reason.NOT_UTF8, f"invalid byte at position {exc.start}")
    return parse_text(text)


def parse_text(text: str) -> Parsed:
    """Classify one decoded line (surrounding whitespace ignored)."""
    text = text.strip()
    for pattern, build in _FAST:
        match = pattern.fullmatch(text)
        if match:
            g = match.groups()
            at = _epoch(g[0], g[1], g[2])
            return at if isinstance(at, Rejection) else build(at, g)
    return _diagnose(text)


def _recommendation(at: float, user_id: int, g: tuple[str, ...]) -> Parsed:
    server, status, result, latency = g
    ids = tuple(i for i in result.split(", ") if i) if result.strip() else ()
    if int(status) == 200:
        bad = next((i for i in ids if not _MOVIE_ONLY.fullmatch(i)), None)
        if bad is not None:
            return Rejection(Reason.BAD_RECOMMENDATION, f"result holds an invalid movie id {bad[:60]!r}")
    else:
        ids = ()  # an error answer carries a message, not movie ids
    return RecommendationEvent(at, user_id, server, int(status), ids, int(latency))


#: The fast patterns and how each builds its event from (time, regex groups); groups 0-2 are the timestamp.
_FAST: tuple[tuple[re.Pattern[str], Callable[[float, tuple[str, ...]], Parsed]], ...] = (
    (_WATCH, lambda at, g: WatchEvent(at, int(g[3]), g[4], int(g[5]))),
    (_RATE, lambda at, g: RateEvent(at, int(g[3]), g[4], int(g[5]))),
    (_RECO, lambda at, g: _recommendation(at, int(g[3]), g[4:])),
)


def _diagnose(text: str) -> Rejection:
    """The precise reason a line failed the fast patterns (the slow path: rejected lines only)."""
    if not text:
        return Rejection(Reason.EMPTY, "empty line")
    parts = text.split(",", 2)
    if len(parts) < 3:
        return Rejection(Reason.MALFORMED, f"{len(parts)} comma-separated field(s), need 3")
    ts, user, request = parts
    ts_match = _TS_ONLY.fullmatch(ts)
    if not ts_match:
        return Rejection(Reason.BAD_TIMESTAMP, f"not YYYY-MM-DDTHH:MM[:SS[.fff]]: {ts[:40]!r}")
    at = _epoch(*ts_match.groups())
    if isinstance(at, Rejection):
        return at
    if not user.isascii() or not user.isdigit():
        return Rejection(Reason.BAD_USER_ID, f"not a non-negative integer: {user[:40]!r}")
    if len(user) > len(str(MAX_USER_ID)) or int(user) > MAX_USER_ID:
        return Rejection(Reason.USER_ID_OUT_OF_RANGE, f"{user[:40]} > {MAX_USER_ID}")
    if request.startswith("GET /data/m/"):
        movie, _, minute = request[len("GET /data/m/"):].rpartition("/")
        if not _MOVIE_ONLY.fullmatch(movie):
            return Rejection(Reason.BAD_MOVIE_ID, f"movie id {movie[:60]!r}")
        return Rejection(Reason.BAD_MINUTE, f"not <0..{MAX_MINUTE}>.mpg: {minute[:40]!r}")
    if request.startswith("GET /rate/"):
        movie, eq, rating = request[len("GET /rate/"):].rpartition("=")
        if not eq or not _MOVIE_ONLY.fullmatch(movie):
            return Rejection(Reason.BAD_MOVIE_ID, f"movie id {movie[:60]!r}")
        return Rejection(Reason.BAD_RATING, f"not an integer 1..5: {rating[:40]!r}")
    if request.startswith("recommendation request"):
        return Rejection(Reason.BAD_RECOMMENDATION, f"not '<server>, status <n>, result: <ids>, <n> ms': "
                         f"{request[:80]!r}")
    return Rejection(Reason.UNKNOWN_REQUEST, f"unknown request {request[:60]!r}")

"""The course's availability measure (movierec.logic.availability) on lines the real parser reads."""

from __future__ import annotations

from movierec.logic.availability import COURSE_TIMEOUT_MS, availability, is_available, per_minute
from movierec.logic.parser import parse_line
from movierec.models.events import RecommendationEvent

LINES = [  # the format of the real course stream (mcgill_f22 sample), with failures the course logs too
    b"2022-10-28T04:23:23.097,44572,recommendation request s.example:8082, status 200, result: a+1994, b+2014, 56 ms",
    b"2022-10-28T04:23:40,3058,recommendation request s.example:8082, status 200, result: a+1994, 600 ms",
    b"2022-10-28T04:23:59,3059,recommendation request s.example:8082, status 200, result: a+1994, 601 ms",
    b"2022-10-28T04:24:01,3060,recommendation request s.example:8082, status 500, result: oops, 12 ms",
    b"2022-10-28T04:24:02,3061,recommendation request s.example:8082, status 0, result: , 5000 ms",
]


def _events() -> list[RecommendationEvent]:
    events = [parse_line(line) for line in LINES]
    assert all(isinstance(e, RecommendationEvent) for e in events), events
    return events  # type: ignore[return-value]


def test_a_200_counts_only_within_the_course_timeout() -> None:
    assert COURSE_TIMEOUT_MS == 600
    assert is_available(200, 600) and not is_available(200, 601)
    assert not is_available(500, 5) and not is_available(0, 0)


def test_availability_of_the_parsed_lines() -> None:
    got = availability((e.status, e.latency_ms) for e in _events())
    assert (got.answers, got.available) == (5, 2)
    assert got.share == 0.4
    # nearest-rank percentiles over every answer, failed ones included: [12, 56, 600, 601, 5000]
    assert (got.latency_p50_ms, got.latency_p99_ms, got.latency_max_ms) == (600.0, 5000.0, 5000.0)
    assert got.as_dict()["availability_pct"] == 40.0


def test_no_answers_is_no_measurement() -> None:
    empty = availability([])
    assert empty.answers == 0 and empty.share is None and empty.latency_p99_ms is None


def test_per_minute_buckets_by_the_lines_own_time() -> None:
    minutes = per_minute(_events())
    start = 1666931003 // 60 * 60  # 2022-10-28T04:23
    assert list(minutes) == [start, start + 60]
    assert (minutes[start].answers, minutes[start].available) == (3, 2)
    assert (minutes[start + 60].answers, minutes[start + 60].available) == (2, 0)

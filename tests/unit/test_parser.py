"""The stream parser: every real sample line classified (counts per reason asserted), rules, properties."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.replay import sample_lines
from movierec.logic.stream_format import format_line, stream_rating
from movierec.models.movie import course_style_id, matched_ids
from movierec.logic.parser import MAX_USER_ID, parse_line, parse_text
from movierec.models.events import RateEvent, Reason, RecommendationEvent, Rejection, WatchEvent


def _classify(lines: list[bytes]) -> collections.Counter:
    return collections.Counter(
        r.reason.value if isinstance(r, Rejection) else type(r).__name__ for r in map(parse_line, lines)
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cmu_f24_rate_lines.txt", {"RateEvent": 10_209, "bad_movie_id": 2}),  # riot+in+Ccell..., diaYries
        ("cmu_s25_rate_lines.txt", {"RateEvent": 15_000}),
        ("cmu_s25_watch_lines.txt", {"WatchEvent": 30_000}),
        ("mcgill_f22_kafka_dump_sample.csv", {"WatchEvent": 7, "RecommendationEvent": 2, "bad_timestamp": 2,
                                              "bad_user_id": 2, "user_id_out_of_range": 1}),
    ],
)
def test_every_real_sample_line_is_classified(data_dir: Path, name: str, expected: dict[str, int]) -> None:
    lines = list(sample_lines([data_dir / "stream" / name]))
    assert _classify(lines) == expected


def test_real_noise_gets_its_reason() -> None:
    cases = {
        b"2022-1k0-28T04:23:23,90586,GET /data/m/x+2001/155.mpg": Reason.BAD_TIMESTAMP,
        b"2022-10-28T 04:23:23,531789,GET /data/m/x+1994/85.mpg": Reason.BAD_TIMESTAMP,
        b"2022-02-30T04:23:23,1,GET /data/m/x+1994/85.mpg": Reason.BAD_TIMESTAMP,  # no such day
        b"2022-10-28T24:00:00,1,GET /data/m/x+1994/85.mpg": Reason.BAD_TIMESTAMP,
        b"1970-01-01T00:00:00,1,GET /data/m/x+1994/85.mpg": Reason.TIMESTAMP_OUT_OF_RANGE,
        b"2022-10-28T04:23:23,-25611,GET /data/m/x+1994/100.mpg": Reason.BAD_USER_ID,
        b"2022-10-28T04:23:24,24f162,GET /data/m/x+1994/2.mpg": Reason.BAD_USER_ID,
        b"2022-10-28T04:23:24,5521777,GET /data/m/x+1994/69.mpg": Reason.USER_ID_OUT_OF_RANGE,
        b"2024-10-14T15:30:42,1,GET /rate/riot+in+Ccell+block+11+1954=3": Reason.BAD_MOVIE_ID,
        b"2024-10-14T15:30:42,1,GET /rate/x+1999=6": Reason.BAD_RATING,
        b"2024-10-14T15:30:42,1,GET /rate/x+1999=3.5": Reason.BAD_RATING,
        b"2024-10-14T15:30:42,1,GET /data/m/x+1999/-3.mpg": Reason.BAD_MINUTE,
        b"2024-10-14T15:30:42,1,GET /data/m/x+1999/12345.mpg": Reason.BAD_MINUTE,
        b"2024-10-14T15:30:42,1,recommendation request s:8082, status 200, result: A, 5 ms": Reason.BAD_RECOMMENDATION,
        b"2024-10-14T15:30:42,1,recommendation request s:8082 status 200": Reason.BAD_RECOMMENDATION,
        b"2024-10-14T15:30:42,1,POST /login": Reason.UNKNOWN_REQUEST,
        b"   ": Reason.EMPTY,
        b"2024-10-14T15:30:42,4476": Reason.MALFORMED,
        b"2024-10-14T15:30:42,1,GET /rate/x\xff=3": Reason.NOT_UTF8,
    }
    for line, reason in cases.items():
        result = parse_line(line)
        assert isinstance(result, Rejection) and result.reason == reason, (line, result)


def test_valid_variants() -> None:
    assert parse_line(b"2024-10-14T15:22,7,GET /rate/heat+1995=4") == RateEvent(1728919320.0, 7, "heat+1995", 4)
    assert parse_line(b"2022-10-28T04:23:23.097,0,GET /data/m/m*a*s*h+1970/0.mpg\r\n") == WatchEvent(
        1666931003.097, 0, "m*a*s*h+1970", 0)
    reco = parse_line(b"2024-10-14T15:30:42,1,recommendation request s:8082, status 500, result: oops, 5 ms")
    assert isinstance(reco, RecommendationEvent) and reco.status == 500 and reco.movie_ids == ()


_movie = st.from_regex(r"[a-z0-9+\-._*]{1,60}", fullmatch=True)
_time = st.floats(min_value=788918400, max_value=4102444799, allow_nan=False).map(lambda t: round(t, 3))
_user = st.integers(0, MAX_USER_ID)
_events = st.one_of(
    st.builds(WatchEvent, _time, _user, _movie, st.integers(0, 9999)),
    st.builds(RateEvent, _time, _user, _movie, st.integers(1, 5)),
    st.builds(RecommendationEvent, _time, _user, st.from_regex(r"[a-z0-9.\-]{1,20}:[0-9]{2,5}", fullmatch=True),
              st.just(200), st.lists(_movie, min_size=1, max_size=20).map(tuple), st.integers(0, 10**6)),
)


@settings(max_examples=120, deadline=None)
@given(_events)
def test_every_valid_event_round_trips_through_its_line(event) -> None:
    assert parse_text(format_line(event)) == event


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_an_event_or_a_reason_never_an_exception(raw: bytes) -> None:
    result = parse_line(raw)
    assert isinstance(result, (WatchEvent, RateEvent, RecommendationEvent, Rejection))
    if isinstance(result, Rejection):
        assert isinstance(result.reason, Reason) and result.detail


@settings(max_examples=120, deadline=None)
@given(_events, st.integers(1, 80))
def test_truncated_lines_are_rejected_or_still_valid(event, cut: int) -> None:
    line = format_line(event).encode()
    result = parse_line(line[:-cut])
    assert isinstance(result, (Rejection, WatchEvent, RateEvent, RecommendationEvent))


def test_movielens_conversion_rules() -> None:
    assert course_style_id("American President, The (1995)") == "the+american+president+1995"
    assert course_style_id("Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)") == \
        "the+good_+the+bad+and+the+ugly+1966"
    assert course_style_id("M*A*S*H (1970)") == "m*a*s*h+1970"


def test_movielens_titles_find_the_course_ids_they_name() -> None:
    known = {"star+wars+1977", "the+empire+strikes+back+1980", "dumb+and+dumber+1994", "300+2006", "air+bud+1997",
             "oldboy+2003", "harry+potter+and+the+philosophers+stone+2001", "crash+1996", "crash+2004",
             "dr.+dolittle+1998", "dr+dolittle+1998"}  # fmt: skip
    titles = {
        1: "Star Wars: Episode IV - A New Hope (1977)",  # a part of the name
        2: "Star Wars: Episode V - The Empire Strikes Back (1980)",  # the part after " - "
        3: "Dumb & Dumber (Dumb and Dumber) (1994)",  # '&' read as "and"
        4: "300 (2007)",  # the year after
        5: "Air Bud: Golden Receiver (1998)",  # a part never at another year: not air+bud+1997
        6: "Old Boy (2003)",  # spaces do not count
        7: "Harry Potter and the Sorcerer's Stone (a.k.a. Harry Potter and the Philosopher's Stone) (2001)",
        8: "Crash (2005)",  # a year off, and the only known crash a year off
        9: "Dr. Dolittle (1998)",  # two known ids read the same: neither
        10: "Star Wars (1977)",  # names star+wars+1977 at an earlier step than title 1: it wins the id
        11: "Unknown Film (1990)",
    }
    assert matched_ids(titles, known) == {
        10: "star+wars+1977", 2: "the+empire+strikes+back+1980", 3: "dumb+and+dumber+1994", 4: "300+2006",
        6: "oldboy+2003", 7: "harry+potter+and+the+philosophers+stone+2001", 8: "crash+2004",
    }  # fmt: skip
    assert matched_ids(titles, ()) == {}
    assert [stream_rating(r) for r in (0.5, 1.0, 2.5, 3.5, 4.5, 5.0)] == [1, 1, 3, 4, 5, 5]

"""Replay: real sample files byte for byte, MovieLens converted in time order, pacing, keys by user."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from infra.replay import movielens_events, movielens_lines, produce, sample_lines
from movierec.config import Settings
from movierec.catalog.movielens_stream import movie_ids
from movierec.logic.parser import parse_line
from movierec.models.events import RateEvent, WatchEvent
from tests.fixtures.ingest import read_topic
def test_sample_files_are_replayed_as_they_are(data_dir: Path) -> None:
    dump = list(sample_lines([data_dir / "stream" / "mcgill_f22_kafka_dump_sample.csv"]))
    assert len(dump) == 14 and dump[1] == b"2022-10-28T 04:23:23,531789,GET /data/m/the+shawshank+redemption+1994/85.mpg"
    watch = list(itertools.islice(sample_lines([data_dir / "stream" / "cmu_s25_watch_lines.txt"]), 3))
    assert watch == (data_dir / "stream" / "cmu_s25_watch_lines.txt").read_bytes().splitlines()[:3]


def test_movielens_events_are_time_ordered_watch_then_rate(data_dir: Path) -> None:
    events = list(movielens_events(minutes_per_rating=3, limit=2000))
    assert len(events) == 2000 * 4
    assert all(a.at <= b.at for a, b in zip(events, events[1:]))
    rates = [e for e in events if isinstance(e, RateEvent)]
    watches = {(e.user_id, e.movie_id, e.minute, e.at) for e in events if isinstance(e, WatchEvent)}
    for rate in rates[:200]:  # each rating is preceded by minutes 0..2, one minute apart, ending a minute before
        for minute in range(3):
            assert (rate.user_id, rate.movie_id, minute, rate.at - 60 * (3 - minute)) in watches
    assert movie_ids()[6] == "heat+1995"  # from ml_to_course_ids.csv
    assert movie_ids()[1] == "toy+story+1995"


def test_replay_paces_by_line_time_and_keys_by_user(isolated: Settings) -> None:
    lines = [f"2025-02-12T05:00:{2 * i:02d},{i % 3},GET /data/m/heat+1995/{i}.mpg".encode() for i in range(6)]
    started = time.monotonic()
    assert produce(isolated, lines, speed=10.0, progress=False) == 6  # 10 s of stream time at 10x
    assert time.monotonic() - started >= 0.9
    records = read_topic(isolated, expected=len(lines))
    assert sorted(r.value for r in records) == sorted(lines)
    partitions = {}
    for r in records:
        partitions.setdefault(r.key, set()).add(r.partition)
    assert set(partitions) == {b"0", b"1", b"2"} and all(len(p) == 1 for p in partitions.values())


def test_movielens_lines_parse_back(data_dir: Path) -> None:
    lines = list(movielens_lines(minutes_per_rating=1, limit=500))
    parsed = [parse_line(line) for line in lines]
    assert all(isinstance(p, (WatchEvent, RateEvent)) for p in parsed)

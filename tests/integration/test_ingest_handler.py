"""The ingest handler against moto: both event shapes, every kind of noise, exactly-once on redelivery."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.data_classes import KafkaEvent

from infra import bootstrap
from infra.handlers import load_handler
from movierec.config import Settings, get_settings
from movierec.dal.intent_codec import encode
from movierec.dal.offsets import MAX_INTENT_BYTES
from movierec.ingest.writer import IngestWriter
from movierec.logic.aggregate import chunks
from movierec.metrics import LINES_UNKEYED
from movierec.models.ingest import Record
from movierec.logic.parser import parse_line
from movierec.dal.history import get_history, get_states
from movierec.dal.movie_stats import movie_totals
from movierec.models.state import MovieState
from movierec.dal.tables import Tables
from tests.fixtures.ingest import kafka_event, snapshot
RECO = (
    b"2022-10-28T04:23:23.097,44572,recommendation request fall2022-comp585-5.cs.mcgill.ca:8082, status 200, "
    b"result: the+shawshank+redemption+1994, interstellar+2014, inception+2010, 56 ms"
)
#: One line of every kind the real stream sends, valid and broken (from the real samples where possible).
NOISY = [
    b"2025-02-12T05:11:55,54831,GET /data/m/konga+1961/22.mpg",
    b"2025-02-12T05:12,54831,GET /data/m/konga+1961/23.mpg",  # minute-only timestamp: valid
    b"2025-02-12T05:12:01.250,54831,GET /rate/konga+1961=4",  # fractional seconds: valid
    RECO,
    b"2022-1k0-28T04:23:23,90586,GET /data/m/the+lord+of+the+rings+the+fellowship+of+the+ring+2001/155.mpg",
    b"2022-10-28T 04:23:23,531789,GET /data/m/the+shawshank+redemption+1994/85.mpg",
    b"2022-10-28T04:23:23,-25611,GET /data/m/the+shawshank+redemption+1994/100.mpg",
    b"2022-10-28T04:23:24,24f162,GET /data/m/the+shawshank+redemption+1994/2.mpg",
    b"2022-10-28T04:23:24,5521777,GET /data/m/the+shawshank+redemption+1994/69.mpg",
    b"2024-10-14T15:30:42,447681,GET /rate/riot+in+Ccell+block+11+1954=3",
    b"2024-10-14T15:30:42,447681,GET /rate/heat+1995=6",
    b"2024-10-14T15:30:42,447681,GET /rate/heat+1995=four",
    b"2024-10-14T15:30:42,447681,GET /data/m/heat+1995/-3.mpg",
    b"",
    b"2024-10-14T15:30:42,4476",  # truncated
    b"2024-10-14T15:30:42,447681,GET /data/m/heat+19\xff\xfe95/3.mpg",  # not UTF-8
    b"2024-10-14T15:30:42,447681,POST /login",
    b"2025-02-12T05:11:55,54831,GET /data/m/konga+1961/22.mpg",  # duplicated message
]
EXPECTED_REJECTED = {
    "bad_timestamp": 2, "bad_user_id": 2, "user_id_out_of_range": 1, "bad_movie_id": 1, "bad_rating": 2,
    "bad_minute": 1, "empty": 1, "malformed": 1, "not_utf8": 1, "unknown_request": 1,
}


handler = load_handler("ingest")
records_by_partition = load_handler("ingest", "records_by_partition")



@pytest.mark.parametrize("event_source", ["SelfManagedKafka", "aws:kafka"])
def test_noisy_batch_stores_valid_and_quarantines_invalid(isolated: Settings, event_source: str, tables: Tables) -> None:
    summary = handler(kafka_event(NOISY, event_source=event_source, first_offset=100), None)

    assert summary["accepted"] == 5
    assert summary["rejected"] == EXPECTED_REJECTED
    assert summary["records"] == len(NOISY) and summary["skipped"] == 0
    assert summary["next_offsets"] == {"movielog-0": 100 + len(NOISY)}
    assert summary["unkeyed"] == 0  # keyed by user, as the producer keys them

    [konga] = get_history(tables, 54831)
    assert (konga.movie_id, konga.max_minute, konga.watch_count, konga.rating) == ("konga+1961", 23, 2, 4.0)
    item = get_states(tables, 54831)["konga+1961"]
    assert item.first_seen == 1739337115 and item.last_seen == 1739337121.25  # 2025-02-12T05:11:55, 05:12:01.25
    movie = movie_totals(tables, "konga+1961")
    assert movie is not None and (movie.watchers, movie.watch_minutes, movie.ratings_count, movie.ratings_sum) == (1, 2, 1, 4)
    assert tables.users.get(54831).movies == 1
    [reco] = list(tables.recommendations.query(44572))
    assert reco.source == "stream:fall2022-comp585-5.cs.mcgill.ca:8082" and reco.latency_ms == 56
    assert reco.movie_ids == "the+shawshank+redemption+1994,interstellar+2014,inception+2010"

    quarantined = list(tables.quarantine.query("movielog-0"))
    assert len(quarantined) == sum(EXPECTED_REJECTED.values())
    by_offset = {q.offset: q for q in quarantined}
    assert by_offset[100 + 15].reason == "not_utf8"
    assert by_offset[100 + 15].raw == NOISY[15]
    assert by_offset[100 + 13].reason == "empty" and by_offset[100 + 13].raw is None
    assert by_offset[100 + 6].detail.startswith("not a non-negative integer")
    assert tables.offsets.get("movielog-0").next_offset == 100 + len(NOISY)


def test_lines_not_keyed_by_their_user_are_applied_and_counted(isolated: Settings, emf: list) -> None:
    """Parallel partitions rely on a user's events sharing a partition; records keyed otherwise (or not at
    all) are still applied, and counted for the ``ingest-unkeyed`` alarm (docs/ingest.md)."""
    summary = handler(kafka_event(NOISY, keyed=False), None)
    assert summary["accepted"] == 5 and summary["unkeyed"] == 5  # rejected lines need no key: not counted
    [document] = [d for d in emf if LINES_UNKEYED in d]
    assert document[LINES_UNKEYED] == [5.0]


def test_same_batch_twice_changes_nothing(isolated: Settings) -> None:
    event = kafka_event(NOISY, first_offset=0)
    handler(event, None)
    first = snapshot(isolated)
    again = handler(event, None)
    assert again["skipped"] == len(NOISY) and again["accepted"] == 0 and again["rejected"] == {}
    assert snapshot(isolated) == first


def test_overlapping_batches_count_once(isolated: Settings, tables: Tables) -> None:
    lines = [f"2025-02-12T05:{10 + i // 60:02d}:{i % 60:02d},7,GET /data/m/heat+1995/{i}.mpg".encode() for i in range(30)]
    lines.append(b"2025-02-12T05:11:00,7,GET /rate/heat+1995=5")
    whole = kafka_event(lines)
    handler(kafka_event(lines[:20]), None)
    overlap = handler(kafka_event(lines[10:], first_offset=10), None)
    assert overlap["skipped"] == 10 and overlap["accepted"] == 11
    after_overlap = snapshot(isolated)
    movie = movie_totals(tables, "heat+1995")
    assert movie is not None and (movie.watchers, movie.watch_minutes, movie.ratings_count, movie.ratings_sum) == (1, 30, 1, 5)
    assert tables.users.get(7).movies == 1
    # the whole range once more (a consumer reset to the start): everything skipped, nothing changes
    assert handler(whole, None)["skipped"] == len(lines)
    assert snapshot(isolated) == after_overlap


def test_an_intent_bigger_than_one_item_is_stored_in_slices(isolated: Settings, monkeypatch: pytest.MonkeyPatch, tables: Tables) -> None:
    """Even the smallest chunk may not fit one item (a user's whole history re-paged): it is sliced."""
    [records] = records_by_partition(KafkaEvent(kafka_event(NOISY))).values()
    writer = IngestWriter(tables)
    smallest = min(len(encode(writer.target_items("movielog-0", c))) for c in chunks(records, 3))
    assert smallest > 150  # so every chunk's intent below goes in slices
    sliced = writer.apply_partition("movielog-0", records, max_intent_bytes=150)
    assert sliced.accepted == 5 and sliced.next_offset == len(NOISY) and sliced.chunks >= 1
    in_slices = snapshot(isolated)
    assert [o["source"] for o in in_slices["offsets"]] == ["movielog-0"]  # no slice left behind

    monkeypatch.setenv("MOVIEREC_PREFIX", isolated.prefix + "-whole")
    get_settings.cache_clear()
    whole = get_settings()
    bootstrap.ensure_tables(whole)
    IngestWriter(Tables(whole)).apply_partition("movielog-0", records)
    assert snapshot(whole) == in_slices


def test_many_pairs_split_into_chunks(isolated: Settings, tables: Tables) -> None:
    # 300 users x 2 movies with a small chunk bound: many chunks, each committed on its own
    lines = [f"2025-02-12T06:00:00,{u},GET /data/m/movie+{u % 2}+2000/1.mpg".encode() for u in range(300)]
    lines += [f"2025-02-12T06:00:01,{u},GET /rate/movie+{u % 2}+2000={1 + u % 5}".encode() for u in range(300)]
    records = [Record(i, raw, parse_line(raw)) for i, raw in enumerate(lines)]
    result = IngestWriter(tables).apply_partition("movielog-0", records, max_items=50)
    assert result.accepted == 600 and result.chunks >= 12 and result.next_offset == 600
    m0, m1 = movie_totals(tables, "movie+0+2000"), movie_totals(tables, "movie+1+2000")
    assert m0 is not None and m1 is not None
    assert m0.watchers + m1.watchers == 300 and m0.ratings_count == m1.ratings_count == 150
    assert m0.ratings_sum + m1.ratings_sum == sum(1 + u % 5 for u in range(300))
    assert tables.users.count() == 300 and tables.history.count() == 300


@pytest.mark.parametrize("slice_bytes", [MAX_INTENT_BYTES, 300])
def test_crash_after_commit_point_is_redone_once(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch, slice_bytes: int, tables: Tables
) -> None:
    """A delivery that died after recording its intent (before writing items) is completed by the next,
    also when the intent was too big for one item and was stored in slices."""
    event = kafka_event(NOISY)
    [records] = records_by_partition(KafkaEvent(event)).values()
    chunk = next(chunks(records, 600))
    writer = IngestWriter(tables)
    blob = encode(writer.target_items("movielog-0", chunk))
    committed, more = writer.offsets.commit_intent("movielog-0", None, chunk.last, blob, slice_bytes)
    assert committed and (len(more) > 1) == (slice_bytes < MAX_INTENT_BYTES)
    assert tables.history.count() == 0  # the "crash": nothing but the intent was written

    summary = handler(event, None)
    assert summary["recovered"] == 1 and summary["skipped"] == len(NOISY) and summary["accepted"] == 0
    recovered = snapshot(isolated)
    assert recovered["history"] and not any("intent" in o for o in recovered["offsets"])
    assert [o["source"] for o in recovered["offsets"]] == ["movielog-0"]  # the slices are gone

    # the same batch without a crash, into a second set of tables: identical contents
    monkeypatch.setenv("MOVIEREC_PREFIX", isolated.prefix + "-clean")
    get_settings.cache_clear()
    clean = get_settings()
    bootstrap.ensure_tables(clean)
    handler(event, None)
    assert snapshot(clean) == recovered


def test_a_partition_redoes_only_its_own_intent_and_shards_keep_totals_exact(isolated: Settings, tables: Tables) -> None:
    """A crash left partition 1's intent; partition 0 applies in parallel without touching it (each writes
    only its own shard of the shared movie), and partition 1's redelivery redoes it: the movie's totals
    are exact whatever the order."""
    p1 = kafka_event([b"2025-02-12T06:00:00,1,GET /rate/heat+1995=4"], partition=1)
    [records] = records_by_partition(KafkaEvent(p1)).values()
    chunk = next(chunks(records, 600))
    writer = IngestWriter(tables)
    assert writer.offsets.commit_intent("movielog-1", None, chunk.last, encode(writer.target_items("movielog-1", chunk)))[0]

    summary = handler(kafka_event([b"2025-02-12T06:01:00,2,GET /rate/heat+1995=2"], partition=0), None)
    assert summary["recovered"] == 0 and summary["accepted"] == 1
    assert [o.source for o in tables.offsets.scan() if o.intent] == ["movielog-1"]  # still pending, untouched
    assert movie_totals(tables, "heat+1995") == MovieState(ratings_count=1, ratings_sum=2, first_seen=1739340060.0,
                                                           last_activity=1739340060.0)
    summary = handler(p1, None)
    assert summary["recovered"] == 1 and summary["skipped"] == 1  # the redelivery redoes its own chunk
    totals = movie_totals(tables, "heat+1995")
    assert totals is not None and (totals.ratings_count, totals.ratings_sum) == (2, 6)
    assert sorted(m.shard for m in tables.movies.query("heat+1995")) == ["movielog-0", "movielog-1"]
    assert not any(o.intent for o in tables.offsets.scan())


def test_profile_fields_of_a_known_user_are_kept(isolated: Settings, tables: Tables) -> None:
    """Ingest owns the activity counters of a user item, not the profile read from the user API."""
    tables.users(5, age=34, occupation="scientist", gender="F").save()
    handler(kafka_event([b"2025-02-12T06:00:00,5,GET /data/m/heat+1995/1.mpg"]), None)
    handler(kafka_event([b"2025-02-12T06:01:00,5,GET /rate/heat+1995=4"], first_offset=1), None)
    user = tables.users.get(5)
    assert (user.age, user.occupation, user.gender, user.movies, user.ratings) == (34, "scientist", "F", 1, 1)


def test_rerating_replaces_the_rating_in_the_movie_mean(isolated: Settings, tables: Tables) -> None:
    handler(kafka_event([b"2025-02-12T06:00:00,1,GET /rate/heat+1995=2", b"2025-02-12T06:00:00,2,GET /rate/heat+1995=4"]), None)
    handler(kafka_event([b"2025-02-12T07:00:00,1,GET /rate/heat+1995=5",
                         b"2025-02-12T05:00:00,2,GET /rate/heat+1995=1"], first_offset=2), None)  # older: ignored
    movie = movie_totals(tables, "heat+1995")
    assert movie is not None and (movie.ratings_count, movie.ratings_sum, movie.watchers) == (2, 9, 0)
    assert get_states(tables, 1)["heat+1995"].rating == 5 and get_states(tables, 2)["heat+1995"].rating == 4


def test_storage_failure_raises_and_retry_is_harmless(isolated: Settings, tables: Tables) -> None:
    from movierec import aws

    event = kafka_event(NOISY[:4])
    aws.client("dynamodb", isolated).delete_table(TableName=isolated.table("movies"))
    with pytest.raises(Exception):
        handler(event, None)
    assert tables.offsets.count() == 0  # failed while reading, before the commit point: nothing applied
    tables.movies.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    assert handler(event, None)["accepted"] == 4
    assert getattr(movie_totals(tables, "konga+1961"), "watch_minutes", None) == 2



def test_history_cli_prints_what_was_stored(isolated: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from infra.cli import main

    handler(kafka_event(NOISY), None)
    capsys.readouterr()  # the handler's metrics document
    assert main(["history", "54831"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"user_id": 54831, "movies": [{
        "movie_id": "konga+1961", "max_minute": 23, "watch_count": 2, "rating": 4,
        "first_seen": "2025-02-12T05:11:55Z", "last_seen": "2025-02-12T05:12:01Z"}]}
    assert main(["history", "999"]) == 0 and json.loads(capsys.readouterr().out)["movies"] == []

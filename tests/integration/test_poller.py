"""The local event-source poller against tansu and moto: batching, commit-after-success, retry, lambda shape."""

from __future__ import annotations

import base64
import dataclasses
import uuid

import pytest
from aws_lambda_powertools.utilities.data_classes import KafkaEvent
from kafka import KafkaConsumer, TopicPartition

from infra.poller import Poller, lambda_event
from infra.replay import movielens_lines
from movierec import aws
from movierec.config import Settings
from movierec.dal.history import get_history
from movierec.dal.tables import Tables
from tests.fixtures.ingest import caught_up, end_offsets, produce_lines, read_topic, wait_until
NOISE = [b"2022-1k0-28T04:23:23,90586,GET /data/m/heat+1995/155.mpg", b"", b"\xff\xfe,1,GET /rate/x=1",
         b"2022-10-28T04:23:24,24f162,GET /data/m/the+shawshank+redemption+1994/2.mpg"]


def _fast(settings: Settings, **kw) -> Settings:
    return dataclasses.replace(settings, batch_size=100, batch_window_s=0.2,
                               kafka_group=f"g-{uuid.uuid4().hex[:8]}", **kw)


def _committed(settings: Settings) -> int:
    """Sum over partitions of the group's committed offsets (what a restarted consumer resumes from)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.kafka_group,
                             enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(settings.kafka_topic) or set()
        return sum(consumer.committed(TopicPartition(settings.kafka_topic, p)) or 0 for p in parts)
    finally:
        consumer.close()


def test_lambda_event_shape_is_what_powertools_reads(isolated: Settings) -> None:
    produce_lines(isolated, [b"2025-02-12T05:11:55,54831,GET /data/m/konga+1961/22.mpg"])
    [record] = read_topic(isolated, expected=1)
    for source in ("SelfManagedKafka", "aws:kafka"):
        event = lambda_event([record], isolated.kafka_bootstrap, source)
        key = f"{isolated.kafka_topic}-{record.partition}"
        assert set(event["records"]) == {key}
        raw = event["records"][key][0]
        assert set(raw) == {"topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers"}
        assert base64.b64decode(raw["key"]) == b"54831"
        [parsed] = list(KafkaEvent(event).records)
        assert parsed.decoded_value == record.value and parsed.offset == record.offset
        assert ("eventSourceArn" in event) == (source == "aws:kafka")
    with pytest.raises(ValueError):
        lambda_event([record], isolated.kafka_bootstrap, "kinesis")


def test_poller_applies_everything_and_commits_after_success(isolated: Settings, tables: Tables) -> None:
    settings = _fast(isolated)
    lines = list(movielens_lines(minutes_per_rating=2, limit=300, settings=settings)) + NOISE
    produce_lines(settings, lines)
    ends = end_offsets(settings, len(lines))
    poller = Poller(settings)
    poller.start()
    try:
        assert wait_until(lambda: caught_up(settings, ends))
        assert wait_until(lambda: _committed(settings) == len(lines))
    finally:
        poller.stop()
    assert poller.stats.records == len(lines) and poller.stats.batches >= len(lines) // 100
    assert sum(1 for _ in tables.quarantine.scan()) == len(NOISE)
    history = get_history(tables, 429)  # MovieLens user 429 rated first (1996-03-29)
    assert history and all(h.watch_count == 2 and h.rating is not None for h in history)


def test_failed_batch_is_retried_without_commit(isolated: Settings, tables: Tables) -> None:
    settings = _fast(isolated)
    aws.client("dynamodb", settings).delete_table(TableName=settings.table("movies"))  # storage fails
    lines = list(movielens_lines(minutes_per_rating=1, limit=100, settings=settings))
    produce_lines(settings, lines)
    poller = Poller(settings, max_backoff_s=1.0)
    poller.start()
    try:
        assert wait_until(lambda: poller.stats.failures >= 2)
        assert _committed(settings) == 0 and poller.stats.records == 0
        tables.movies.create_table(billing_mode="PAY_PER_REQUEST", wait=True)  # storage is back
        ends = end_offsets(settings, len(lines))
        assert wait_until(lambda: caught_up(settings, ends))
        assert wait_until(lambda: _committed(settings) == len(lines))
    finally:
        poller.stop()
    assert sum(m.ratings_count for m in tables.movies.scan()) == 100

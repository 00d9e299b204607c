"""DynamoDB as a projection of the Kafka log: a lost log stops its partitions, lost tables are rebuilt.

Against real tansu and moto: a tansu restart on ``memory://`` storage (the broker loses its log while the
watermarks stay) must stop the partitions with a metric instead of skipping what the new log serves; a
dropped offsets table must be rebuilt from the earliest retained offsets although the consumer group's
committed offsets are at the end.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from infra.bootstrap import bootstrap, ensure_topic
from infra.poller import Poller
from infra.replay import movielens_lines
from infra.stack import LOCAL_CREDENTIALS, Stack, free_port
from movierec import aws
from movierec.metrics import PARTITIONS_STOPPED
from movierec.config import Settings, get_settings
from movierec.observability import emf_output
from tests.fixtures.ingest import applied_offsets, caught_up, end_offsets, produce_lines, snapshot, wait_until
from tests.fixtures.timeouts import TEST_TIMEOUT_S


def _group(settings: Settings) -> Settings:
    return dataclasses.replace(settings, batch_size=200, batch_window_s=0.2, kafka_group=f"g-{uuid.uuid4().hex[:8]}")


def _exists(dynamodb, table: str) -> bool:
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


def test_a_broker_that_lost_its_log_stops_the_partitions_instead_of_skipping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_port, kafka_port = free_port(), free_port()
    env = {
        "MOVIEREC_MOTO_PORT": str(moto_port),
        "MOVIEREC_KAFKA_PORT": str(kafka_port),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "MOVIEREC_RUN_DIR": str(tmp_path / "run"),
        "MOVIEREC_PREFIX": f"lost-{uuid.uuid4().hex[:6]}",
        "MOVIEREC_TOPIC": "movielog",
        "MOVIEREC_TANSU_STORAGE": "memory://tansu/",  # the default: a restart loses the log
        **LOCAL_CREDENTIALS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = _group(get_settings())
    stack = Stack(settings)
    documents: list[dict] = []
    previous_sink = emf_output().attach(documents.append)
    stack.up()
    poller: Poller | None = None
    try:
        bootstrap(settings)
        lines = list(movielens_lines(minutes_per_rating=2, limit=300, settings=settings))
        produce_lines(settings, lines)
        ends = end_offsets(settings)
        poller = Poller(settings, max_backoff_s=1.0, lag_every_s=0.5)
        poller.start()
        assert wait_until(lambda: caught_up(settings, ends), TEST_TIMEOUT_S)
        applied = applied_offsets(settings, ends)

        assert stack.down(only=["tansu"]) == ["tansu"]
        assert stack.up() == ["tansu"]
        ensure_topic(settings)  # the topic comes back empty, its offsets restart at 0
        later = lines[:40]  # far fewer than were applied on any partition: the new log is shorter
        produce_lines(settings, later)
        new_ends = end_offsets(settings)
        assert all(new_ends[p] < applied[p] for p in new_ends if new_ends[p])
        expected = {p for p, watermark in applied.items() if watermark > new_ends.get(p, 0)}
        assert expected == set(new_ends) and any(new_ends.values())  # every partition; some got new records
        assert wait_until(lambda: poller.stats.stopped == expected, TEST_TIMEOUT_S), poller.stats
        wait_until(lambda: False, 1.0)  # time for a wrong skip to show, had there been one

        assert applied_offsets(settings, ends) == applied  # nothing applied, nothing skipped past
        assert poller.stats.last_summary.get("skipped", 0) == 0
        stopped = [v for doc in documents for v in doc.get(PARTITIONS_STOPPED, [])]  # EMF values are lists
        assert stopped and max(stopped) == len(expected)
    finally:
        if poller is not None:
            poller.stop()
        emf_output().attach(previous_sink)
        stack.down()
        get_settings.cache_clear()


def test_a_dropped_offsets_table_is_rebuilt_from_the_earliest_offsets(isolated: Settings) -> None:
    settings = _group(isolated)
    lines = list(movielens_lines(minutes_per_rating=1, limit=200, settings=settings))
    produce_lines(settings, lines)
    ends = end_offsets(settings)
    first = Poller(settings)
    first.start()
    try:
        assert wait_until(lambda: caught_up(settings, ends), TEST_TIMEOUT_S)
    finally:
        first.stop()
    before = snapshot(settings)

    dynamodb = aws.client("dynamodb", settings)
    dynamodb.delete_table(TableName=settings.table("offsets"))
    second = Poller(settings, lag_every_s=0.5)  # same group: its committed offsets are at the end
    second.start()
    try:
        assert wait_until(lambda: _exists(dynamodb, settings.table("offsets")), TEST_TIMEOUT_S)  # by the poller
        assert wait_until(lambda: caught_up(settings, ends), TEST_TIMEOUT_S), second.stats
    finally:
        second.stop()
    assert second.stats.rebuilds == sum(1 for end in ends.values() if end)
    assert second.stats.records == len(lines)  # every record was re-read from the earliest offset
    assert snapshot(settings) == before

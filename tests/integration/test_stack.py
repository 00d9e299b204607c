"""The walking skeleton against the real services: stack life cycle, bootstrap, Kafka, S3, DynamoDB."""

from __future__ import annotations

import dataclasses
import socket
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from movierec import aws
from movierec.config import Settings
from movierec.dal.tables import Tables
from infra.bootstrap import bootstrap
from infra.stack import Stack, StackError, free_port
from tests.fixtures.timeouts import TEST_TIMEOUT_S
def _own_stack(tmp_path: Path) -> Stack:
    settings = dataclasses.replace(
        Settings(), moto_port=free_port(), kafka_port=free_port(), run_dir=tmp_path / "run"
    )
    return Stack(settings, start_timeout_s=TEST_TIMEOUT_S)


def test_stack_up_status_down_leaves_nothing(tmp_path: Path) -> None:
    stack = _own_stack(tmp_path)
    assert stack.up() == ["moto", "tansu"]
    try:
        rows = stack.status()
        assert [(name, ok) for name, _, _, ok in rows] == [("moto", True), ("tansu", True)]
        pids = [pid for _, _, pid, _ in rows]
        assert all(pids)
        assert (tmp_path / "run" / "logs" / "moto.log").exists()
        assert stack.up() == []  # already running and answering: nothing new started
    finally:
        assert stack.down() == ["tansu", "moto"]
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    assert [ok for *_, ok in stack.status()] == [False, False]
    assert not list((tmp_path / "run").glob("*.pid"))


def test_taken_port_is_named_not_hung(tmp_path: Path) -> None:
    stack = _own_stack(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", stack.settings.kafka_port))
        blocker.listen()
        started = time.monotonic()
        with pytest.raises(StackError, match=f"port {stack.settings.kafka_port} .*tansu"):
            stack.up()
        assert time.monotonic() - started < TEST_TIMEOUT_S  # a hang would wait out tansu's start timeout
    # moto had started before tansu failed: it was stopped again, nothing is left running.
    assert [pid for _, _, pid, _ in stack.status()] == [None, None]


def test_bootstrap_is_idempotent(isolated: Settings) -> None:
    first = bootstrap(isolated)  # the fixture already ran it once
    second = bootstrap(isolated)
    assert first == second
    assert not any(o.created for o in second)
    kinds = {(o.kind, o.name) for o in second}
    assert ("bucket", isolated.bucket) in kinds
    assert ("topic", isolated.kafka_topic) in kinds
    assert ("table", isolated.table("history")) in kinds


def test_kafka_round_trip_with_consumer_group(isolated: Settings) -> None:
    producer = KafkaProducer(bootstrap_servers=isolated.kafka_bootstrap, compression_type="gzip")
    lines = [f"2025-02-01T00:00:{i:02d},{i},GET /data/m/heat+1995/{i}.mpg".encode() for i in range(20)]
    for line in lines:
        producer.send(isolated.kafka_topic, line)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        isolated.kafka_topic,
        bootstrap_servers=isolated.kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    got: list[bytes] = []
    deadline = time.monotonic() + TEST_TIMEOUT_S
    try:
        while len(got) < len(lines) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
        consumer.commit()
        assert sorted(got) == sorted(lines)
        partitions = consumer.assignment()
        assert len(partitions) == isolated.kafka_partitions
        assert sum(consumer.committed(tp) or 0 for tp in partitions) == len(lines)
    finally:
        consumer.close()


def test_s3_and_dynamodb_round_trip(isolated: Settings, tables: Tables) -> None:
    s3 = aws.client("s3", isolated)
    s3.put_object(Bucket=isolated.bucket, Key="hello.txt", Body=b"hi")
    assert s3.get_object(Bucket=isolated.bucket, Key="hello.txt")["Body"].read() == b"hi"
    tables.recommendations(1, "k1", at=10, source="api", status=200, movie_ids="heat+1995").save()
    [item] = list(tables.recommendations.query(1))
    assert (item.request_key, item.at, item.movie_ids) == ("k1", 10, "heat+1995")


def test_query_reads_one_partition_with_moto_semantics(isolated: Settings, tables: Tables) -> None:
    """The stack's moto launcher narrows Query to the partition; results, order, paging, conditions hold."""
    with tables.recommendations.batch_write() as batch:
        for user in (1, 2, 3):
            for m in range(12):
                batch.save(tables.recommendations(user, f"m{m:02d}", at=m, source="api", status=200, movie_ids=""))
    expected = [f"m{m:02d}" for m in range(12)]
    keys = lambda items: [i.request_key for i in items]  # noqa: E731
    assert keys(tables.recommendations.query(2)) == expected
    assert keys(tables.recommendations.query(2, page_size=5)) == expected  # three pages
    assert keys(tables.recommendations.query(2, scan_index_forward=False)) == expected[::-1]
    assert keys(tables.recommendations.query(2, tables.recommendations.request_key.startswith("m1"))) == ["m10", "m11"]
    assert [i.at for i in tables.recommendations.query(3, filter_condition=tables.recommendations.at > 9)] == [10, 11]
    assert list(tables.recommendations.query(99)) == []

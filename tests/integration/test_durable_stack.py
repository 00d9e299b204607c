"""The embedded stack keeps its state across a SIGKILL of either service (moto's journal, tansu on s3://)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from movierec.alarms import ALARMS
from movierec.config import Settings
from infra.bootstrap import bootstrap, ensure_bucket
from infra.stack import LOCAL_CREDENTIALS, Stack, free_port
from tests.fixtures.timeouts import TEST_TIMEOUT_S


@pytest.fixture
def own_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto and tansu of this test's own, on free ports, state under ``tmp_path``; started, and stopped after."""
    for key, value in LOCAL_CREDENTIALS.items():  # pynamodb (bootstrap) signs with the environment's credentials
        monkeypatch.setenv(key, value)
    moto_port, kafka_port = free_port(), free_port()
    settings = dataclasses.replace(
        Settings(), moto_port=moto_port, kafka_port=kafka_port, kafka_bootstrap=f"127.0.0.1:{kafka_port}", run_dir=tmp_path / "run", prefix="durable",
        aws_endpoint_url=f"http://127.0.0.1:{moto_port}", kafka_topic="movielog-durable",
    )  # fmt: skip
    stack = Stack(settings)
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


def _kill(stack: Stack, name: str) -> None:
    """SIGKILL a service (no chance to save anything), then wait until it is gone."""
    [svc] = [s for s in stack.services if s.name == name]
    pid = stack.pid(svc)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + TEST_TIMEOUT_S
    while stack.pid(svc) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.pid(svc) is None


def _clients(settings: Settings) -> tuple[object, object, object]:
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=settings.region,
    )
    return tuple(session.client(s, endpoint_url=settings.aws_endpoint_url) for s in ("s3", "dynamodb", "cloudwatch"))


def test_moto_sigkill_keeps_tables_bucket_pointer_alarms(own_stack: Stack) -> None:
    stack = own_stack
    settings = stack.settings
    bootstrap(settings)
    s3, dynamodb, cloudwatch = _clients(settings)
    s3.put_object(Bucket=settings.bucket, Key="index/CURRENT", Body=b'{"version": "v-durable"}')
    table = settings.table("history")
    dynamodb.put_item(TableName=table, Item={"user_id": {"N": "7"}, "page": {"N": "0"}, "x": {"S": "kept"}})
    before_tables = sorted(dynamodb.list_tables()["TableNames"])
    alarm_names = [spec.alarm_name(settings.prefix) for spec in ALARMS]

    _kill(stack, "moto")
    assert stack.up() == ["moto"]  # only the dead service is started again

    s3, dynamodb, cloudwatch = _clients(settings)
    assert sorted(dynamodb.list_tables()["TableNames"]) == before_tables
    assert s3.get_object(Bucket=settings.bucket, Key="index/CURRENT")["Body"].read() == b'{"version": "v-durable"}'
    item = dynamodb.get_item(TableName=table, Key={"user_id": {"N": "7"}, "page": {"N": "0"}})["Item"]
    assert item["x"] == {"S": "kept"}
    got = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]}
    assert got == set(alarm_names)
    assert "writes replayed" in (settings.run_dir / "logs" / "moto.log").read_text()


def test_a_multipart_upload_survives_restarts(own_stack: Stack) -> None:
    """boto3 uploads a file above 8 MB in parts (an index version's data file: 37 MB for the course catalog),
    and each part names the upload id moto made up for it, anew on every start. The journal's replay maps
    them, also for a journal written before it recorded the ids; before that, the first restart after any
    such upload failed (moto raised on an upload it did not know, and exited)."""
    stack = own_stack
    settings = stack.settings
    ensure_bucket(settings)
    s3, _, _ = _clients(settings)
    body = os.urandom(11 * 2**20)
    parts = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
    s3.upload_fileobj(io.BytesIO(body), settings.bucket, "index/v1/movies.lance", Config=parts)
    journal = settings.run_dir / "state" / "moto" / "journal.jsonl"
    created = [json.loads(line) for line in journal.read_text().splitlines() if '"upload_id"' in line]
    assert len(created) == 1 and created[0]["method"] == "POST"

    _kill(stack, "moto")
    assert stack.up() == ["moto"]
    s3, _, _ = _clients(settings)
    assert s3.get_object(Bucket=settings.bucket, Key="index/v1/movies.lance")["Body"].read() == body

    # The same journal as an older server wrote it (no recorded ids): mapped by key.
    _kill(stack, "moto")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    journal.write_text("".join(json.dumps({k: v for k, v in e.items() if k != "upload_id"}) + "\n" for e in lines))
    assert stack.up() == ["moto"]
    s3, _, _ = _clients(settings)
    assert s3.get_object(Bucket=settings.bucket, Key="index/v1/movies.lance")["Body"].read() == body
    replays = [line for line in (settings.run_dir / "logs" / "moto.log").read_text().splitlines()
               if line.startswith("journal: ") and "writes replayed" in line]  # fmt: skip
    assert len(replays) == 3 and all("(0 refused)" in line for line in replays[1:]), replays  # the first start, then 2


def test_tansu_sigkill_keeps_messages_and_offsets(own_stack: Stack) -> None:
    stack = own_stack
    settings = stack.settings
    bootstrap(settings)
    lines = [f"2025-02-01T00:00:{i:02d},{i},GET /data/m/heat+1995/{i}.mpg".encode() for i in range(40)]
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for line in lines:
        producer.send(settings.kafka_topic, line)
    producer.flush()
    producer.close()
    group = f"g-{uuid.uuid4().hex[:8]}"
    got = _consume(settings, group, len(lines), commit=True)
    assert sorted(got) == sorted(lines)
    partitions = [TopicPartition(settings.kafka_topic, p) for p in range(settings.kafka_partitions)]
    ends_before = _end_offsets(settings, partitions)
    committed_before = _committed(settings, group, partitions)
    assert sum(committed_before.values()) == len(lines)

    _kill(stack, "tansu")
    assert stack.up() == ["tansu"]

    assert _end_offsets(settings, partitions) == ends_before
    assert sorted(_consume(settings, f"g-{uuid.uuid4().hex[:8]}", len(lines), commit=False)) == sorted(lines)
    assert _committed(settings, group, partitions) == committed_before


def _end_offsets(settings: Settings, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def _committed(settings: Settings, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {tp: consumer.committed(tp) or 0 for tp in partitions}
    finally:
        consumer.close()


def _consume(settings: Settings, group: str, expected: int, commit: bool) -> list[bytes]:
    consumer = KafkaConsumer(
        settings.kafka_topic, bootstrap_servers=settings.kafka_bootstrap, group_id=group,
        auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )  # fmt: skip
    got: list[bytes] = []
    deadline = time.monotonic() + TEST_TIMEOUT_S
    try:
        while len(got) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
        if commit:
            consumer.commit()
    finally:
        consumer.close()
    return got


def test_status_says_what_serving_lacks(isolated: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """A storage server that answers but holds nothing is not 'healthy': status names what is missing."""
    from infra.bootstrap import serving_problems
    from movierec import aws

    problems = serving_problems(isolated)
    assert problems == [f"no index published (s3://{isolated.bucket}/index/CURRENT; `movierec index build`)"]
    aws.client("s3", isolated).put_object(Bucket=isolated.bucket, Key="index/CURRENT", Body=b'{"version": "v"}')
    assert serving_problems(isolated) == []
    table = isolated.table("history")
    aws.client("dynamodb", isolated).delete_table(TableName=table)
    [problem] = serving_problems(isolated)
    assert problem.startswith("tables missing: ") and table in problem


def test_status_command_prints_what_is_missing(isolated: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """`movierec status` on a stack whose storage answers but has no index: not healthy, and says why."""
    from infra.commands.stack import _status

    assert _status(None) == 1  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "moto" in out and "answers" in out
    assert f"serving: no index published (s3://{isolated.bucket}/index/CURRENT" in out


def test_status_finds_tables_past_the_first_hundred(isolated: Settings) -> None:
    """ListTables answers 100 names a page (moto: the first 100 created): status called the tables created
    after the account's 100th missing (found when the suite's shared moto grew past 100 tables)."""
    from infra.bootstrap import ensure_tables, serving_problems
    from movierec import aws

    dynamodb = aws.client("dynamodb", isolated)
    for i in range(101):
        dynamodb.create_table(TableName=f"{isolated.prefix}-filler-{i:03d}", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])  # fmt: skip
    late = dataclasses.replace(isolated, prefix=f"{isolated.prefix}-late")
    ensure_tables(late)
    assert not [p for p in serving_problems(late) if p.startswith("tables missing")]

"""Helpers for the ingest tests: Lambda Kafka events built by hand, and table snapshots to compare."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any, Iterable

from movierec import aws
from movierec.config import Settings
from movierec.dal import tables

#: Attributes left out of snapshots (none today: every stored value is deterministic).
VOLATILE: set[str] = set()


def kafka_event(
    values: Iterable[bytes],
    topic: str = "movielog",
    partition: int = 0,
    first_offset: int = 0,
    event_source: str = "SelfManagedKafka",
) -> dict[str, Any]:
    """A Lambda Kafka event as documented by AWS (MSK ``aws:kafka`` or ``SelfManagedKafka``)."""
    records = [
        {
            "topic": topic,
            "partition": partition,
            "offset": first_offset + i,
            "timestamp": 1_700_000_000_000 + i,
            "timestampType": "CREATE_TIME",
            "key": base64.b64encode(b"k").decode(),
            "value": base64.b64encode(v).decode(),
            "headers": [{"source": [116, 101, 115, 116]}],
        }
        for i, v in enumerate(values)
    ]
    event: dict[str, Any] = {
        "eventSource": event_source,
        "bootstrapServers": "b-1.local:9092,b-2.local:9092",
        "records": {f"{topic}-{partition}": records},
    }
    if event_source == "aws:kafka":
        event["eventSourceArn"] = "arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/751d2973-a626-431c-9d4e-d7975eb44dd7-2"
    return event


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value"):  # boto3 Binary
        return bytes(value.value)
    return value


def snapshot(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table (minus write counters), sorted: equal snapshots = equal contents."""
    import boto3.dynamodb.types as t

    deser = t.TypeDeserializer()
    client = aws.client("dynamodb", settings)
    out: dict[str, list[dict[str, Any]]] = {}
    for model in tables.ALL_MODELS:
        name = settings.table(model.Meta.logical)
        items = []
        for page in client.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            for raw in page["Items"]:
                item = {k: _plain(deser.deserialize(v)) for k, v in raw.items() if k not in VOLATILE}
                items.append(item)
        out[model.Meta.logical] = sorted(items, key=repr)
    return out


def produce_lines(settings: Settings, lines: list[bytes]) -> None:
    """Send lines to the settings' topic keyed by user, as the replay does."""
    from infra.replay import produce

    assert produce(settings, lines, progress=False) == len(lines)


def end_offsets(settings: Settings) -> dict[int, int]:
    """Partition -> offset after the last record of the topic, found by reading the topic through.

    Not ``KafkaConsumer.end_offsets``: tansu 0.6 answers ListOffsets(latest) with less than the true end
    (about the base offset of the last record batch), so a test trusting it would stop early.
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(settings.kafka_topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)
    ends = {p: 0 for p in consumer.partitions_for_topic(settings.kafka_topic) or ()}
    try:
        for record in consumer:
            ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    finally:
        consumer.close()
    return ends


def applied_offsets(settings: Settings, partitions: Iterable[int]) -> dict[int, int]:
    """Partition -> the ingest watermark (0 when nothing was applied)."""
    from movierec.dal.offsets import read_watermark, source_of

    db = tables.Tables(settings)
    return {p: read_watermark(db, source_of(settings.kafka_topic, p)) or 0 for p in partitions}


def wait_until(predicate, timeout_s: float, every_s: float = 0.3) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def caught_up(settings: Settings, ends: dict[int, int]) -> bool:
    """True when ingest applied every record up to ``ends`` on every partition."""
    have = applied_offsets(settings, ends)
    return all(have[p] >= end for p, end in ends.items() if end > 0)


def run_poller_to_end(settings: Settings, timeout_s: float = 90) -> None:
    """Run an in-process poller (its own group) until it applied the whole topic, then stop it."""
    from infra.poller import Poller

    ends = end_offsets(settings)
    poller = Poller(settings)
    poller.start()
    try:
        assert wait_until(lambda: caught_up(settings, ends), timeout_s), "poller did not catch up in time"
    finally:
        poller.stop()

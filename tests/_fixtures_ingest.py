"""Helpers for the ingest tests: Lambda Kafka events built by hand, and table snapshots to compare."""

from __future__ import annotations

import base64
import time
from decimal import Decimal
from typing import Any, Iterable

from movierec import aws
from movierec.config import Settings
from movierec.dal import tables
from tests.timeouts import QUIET_S, SHORT_S, TEST_TIMEOUT_S

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


def read_topic(settings: Settings, expected: int | None = None) -> list[Any]:
    """Every record of the settings' topic, from the start.

    The read ends once no record came for ``QUIET_S``, or, when the caller says how many records the
    topic should hold (``expected``), for ``SHORT_S`` after that many arrived (a surplus is still seen);
    never later than ``TEST_TIMEOUT_S``. A fixed short idle timeout alone would end the read early on a
    loaded machine, where a consumer's first fetch can take seconds, and the test would wait for the
    wrong end.
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(settings.kafka_topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    records: list[Any] = []
    deadline = time.monotonic() + TEST_TIMEOUT_S
    last_arrival = time.monotonic()

    def done() -> bool:
        if expected is not None and len(records) < expected:
            return False
        return time.monotonic() - last_arrival >= (QUIET_S if expected is None else SHORT_S)

    try:
        while not done() and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
                last_arrival = time.monotonic()
    finally:
        consumer.close()
    return records


def end_offsets(settings: Settings, expected: int | None = None) -> dict[int, int]:
    """Partition -> offset after the last record of the topic, found by reading the topic through.

    Not ``KafkaConsumer.end_offsets``: tansu 0.6 answers ListOffsets(latest) with less than the true end
    (about the base offset of the last record batch), so a test trusting it would stop early.
    ``expected``: the number of records the topic holds, when the test knows it (see :func:`read_topic`).
    """
    from kafka import KafkaConsumer

    probe = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        ends = {p: 0 for p in probe.partitions_for_topic(settings.kafka_topic) or ()}
    finally:
        probe.close()
    for record in read_topic(settings, expected):
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


def applied_offsets(settings: Settings, partitions: Iterable[int]) -> dict[int, int]:
    """Partition -> the ingest watermark (0 when nothing was applied)."""
    from movierec.dal.offsets import read_watermark, source_of

    db = tables.Tables(settings)
    return {p: read_watermark(db, source_of(settings.kafka_topic, p)) or 0 for p in partitions}


def wait_until(predicate, timeout_s: float = TEST_TIMEOUT_S, every_s: float = 0.3) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passed; its last answer."""
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


def run_poller_to_end(settings: Settings, expected: int | None = None, timeout_s: float = TEST_TIMEOUT_S) -> None:
    """Run an in-process poller (its own group) until it applied the whole topic (``expected`` records
    when known, see :func:`read_topic`), then stop it."""
    from infra.poller import Poller

    ends = end_offsets(settings, expected)
    poller = Poller(settings)
    poller.start()
    try:
        assert wait_until(lambda: caught_up(settings, ends), timeout_s), "poller did not catch up in time"
    finally:
        poller.stop()

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

"""The sample events of ``events/``: one or more per function of ``template.yaml``, built from real data.

- ``ingest-msk.json`` / ``ingest-self-managed.json``: real course stream lines (the first
  :data:`LINES_PER_FILE` of each sample file, as ``movierec replay samples`` sends them), keyed and
  partitioned as our producer does (key = the line's user field, kafka-python's murmur2 partitioner over
  ``MOVIEREC_PARTITIONS``), offsets from 0 per partition, wrapped by :func:`infra.poller.lambda_event`,
  the same code that builds the event the local poller hands the ingest handler.
- ``recommend-api.json``: an API Gateway (REST, proxy) event for ``GET /recommend/{user_id}``, for the
  user of the first valid line above.
- ``train-schedule.json`` / ``gauges-schedule.json``: EventBridge "Scheduled Event"s of their rules.

Everything is deterministic (no clock, no random id), so ``python -m infra.events --check`` (and
``tests/test_events.py``) can tell whether the committed files are what this code produces.

    python -m infra.events            # rewrite events/
    python -m infra.events --check    # exit 1 when events/ differs
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord
from kafka.partitioner.default import murmur2

from movierec.config import REPO_ROOT, Settings
from movierec.logic.parser import parse_line
from movierec.models.events import Rejection
from infra.poller import lambda_event
from infra.replay import default_sample_paths, key_of, sample_lines

EVENTS_DIR = REPO_ROOT / "events"
LINES_PER_FILE = 4
ACCOUNT_ID = "123456789012"
#: The sample events of each function of template.yaml (the first is the one the IAM test invokes it with).
SAMPLES = {
    "IngestFunction": ("ingest-msk.json", "ingest-self-managed.json"),
    "RecommendFunction": ("recommend-api.json",),
    "GaugesFunction": ("gauges-schedule.json",),
    "TrainFunction": ("train-schedule.json",),
    "AuditFunction": ("audit-schedule.json",),
    "GuardFunction": ("guard-schedule.json",),
}
_NAMESPACE = uuid.UUID("6f1f0c1e-2b7c-4c55-9a51-6d6f76696572")  # fixed: ids derived from it never change


def stream_records(settings: Settings, lines_per_file: int = LINES_PER_FILE) -> list[ConsumerRecord]:
    """The first lines of every course sample file as the Kafka records our producer would make of them."""
    offsets: dict[int, int] = {}
    records: list[ConsumerRecord] = []
    timestamp_ms = 0
    for path in default_sample_paths(settings):
        for n, raw in enumerate(sample_lines([path])):
            if n == lines_per_file:
                break
            key = key_of(raw)
            partition = (murmur2(key) & 0x7FFFFFFF) % settings.kafka_partitions if key else 0
            parsed = parse_line(raw)
            if not isinstance(parsed, Rejection):  # a line's own time, as the producer's create time
                timestamp_ms = int(parsed.at * 1000)
            offset = offsets.get(partition, 0)
            offsets[partition] = offset + 1
            records.append(ConsumerRecord(
                topic=settings.kafka_topic, partition=partition, leader_epoch=0, offset=offset,
                timestamp=timestamp_ms, timestamp_type=0, key=key, value=raw, headers=[], checksum=None,
                serialized_key_size=len(key or b""), serialized_value_size=len(raw), serialized_header_size=-1,
            ))  # fmt: skip
    return records


def first_user(records: list[ConsumerRecord]) -> int:
    """The user of the first record that parses (the one the API sample asks for)."""
    for r in records:
        parsed = parse_line(r.value)
        if not isinstance(parsed, Rejection):
            return parsed.user_id
    raise ValueError("no valid line among the sample records")


def api_event(user_id: int, stage: str) -> dict[str, Any]:
    """API Gateway's REST proxy event for ``GET /recommend/{user_id}`` (what Chalice routes on)."""
    request_id = str(uuid.uuid5(_NAMESPACE, f"recommend-{user_id}"))
    path = f"/recommend/{user_id}"
    headers = {"Accept": "text/plain", "Host": "example.execute-api.us-east-1.amazonaws.com",
               "User-Agent": "movierec-sample", "X-Forwarded-Proto": "https"}  # fmt: skip
    return {
        "resource": "/recommend/{user_id}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"user_id": str(user_id)},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "sample", "resourcePath": "/recommend/{user_id}", "httpMethod": "GET",
            "path": f"/{stage}{path}", "stage": stage, "requestId": request_id, "accountId": ACCOUNT_ID,
            "apiId": "example", "protocol": "HTTP/1.1", "identity": {"sourceIp": "127.0.0.1", "userAgent": "movierec-sample"},
            "requestTimeEpoch": 1739336700000, "domainName": "example.execute-api.us-east-1.amazonaws.com",
        },  # fmt: skip
        "body": None,
        "isBase64Encoded": False,
    }


def schedule_event(rule: str, region: str) -> dict[str, Any]:
    """The EventBridge event a ``Type: Schedule`` rule sends."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(_NAMESPACE, rule)),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2025-02-12T05:15:00Z",
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


def render(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    """Every sample event by file name, for the default settings (the names a deployment starts with)."""
    s = settings or Settings(data_dir=Settings.from_env().data_dir)
    records = stream_records(s)
    return {
        "ingest-msk.json": lambda_event(records, s.kafka_bootstrap, "aws:kafka"),
        "ingest-self-managed.json": lambda_event(records, s.kafka_bootstrap, "SelfManagedKafka"),
        "recommend-api.json": api_event(first_user(records), "prod"),
        "train-schedule.json": schedule_event(f"{s.prefix}-train-schedule", s.region),
        "gauges-schedule.json": schedule_event(f"{s.prefix}-gauges-schedule", s.region),
        "audit-schedule.json": schedule_event(f"{s.prefix}-audit-schedule", s.region),
        "guard-schedule.json": schedule_event(f"{s.prefix}-guard-schedule", s.region),
    }


def text(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when events/ is stale")
    args = parser.parse_args(argv)
    stale = [name for name, event in render().items()
             if not (EVENTS_DIR / name).exists() or (EVENTS_DIR / name).read_text() != text(event)]  # fmt: skip
    if args.check:
        print("events/: " + (f"stale: {', '.join(stale)}; run `python -m infra.events`" if stale else "up to date"))
        return 1 if stale else 0
    EVENTS_DIR.mkdir(exist_ok=True)
    for name, event in render().items():
        (EVENTS_DIR / name).write_text(text(event))
    print(f"events/: wrote {len(render())} files ({', '.join(stale) or 'no change'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ingest Lambda: a Kafka event-source-mapping batch -> validated events -> DynamoDB, exactly once in effect.

Thin on purpose: Powertools decodes the event (``aws:kafka`` and ``SelfManagedKafka`` alike, grouped by
``<topic>-<partition>`` with base64 values), this file turns it into parsed records per partition (the one
place that knows the AWS event type), and the shared package folds and writes (see docs/ingest.md). Bad lines are quarantined and counted, never
raised; a storage failure raises, so Lambda (or the local poller) retries the batch, harmlessly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import KafkaEvent, event_source

from movierec.config import Settings, get_settings
from movierec.dal.offsets import source_of
from movierec.dal.tables import Tables
from movierec.ingest.writer import IngestWriter
from movierec.logic.availability import availability
from movierec.logic.parser import parse_line
from movierec.metrics import (
    LINES_ACCEPTED, LINES_REJECTED, LINES_UNKEYED, STREAM_ANSWERS, STREAM_ANSWERS_AVAILABLE, STREAM_LATENCY,
    lines_rejected,
)  # fmt: skip
from movierec.models.ingest import Record, Summary
from movierec.observability import MetricUnit, make_logger, make_metrics

logger = make_logger("ingest")
metrics = make_metrics("ingest")


@lru_cache(maxsize=1)
def writer_for(settings: Settings) -> IngestWriter:
    """The container's writer (tables, item cache), built on first use and kept while the settings are.

    Lambda reads its environment once, so this is built once per container; a test that points the
    environment elsewhere gets a writer of its own.
    """
    return IngestWriter(Tables(settings))


def records_by_partition(event: KafkaEvent) -> dict[tuple[str, int], list[Record]]:
    """Every record of the event, parsed, grouped by (topic, partition), in offset order.

    Each partition is applied on its own (its own watermark), so the grouping is the unit of work.
    """
    out: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for rec in event.records:
        raw = rec.decoded_value
        out[(rec.topic, int(rec.partition))].append(
            Record(offset=int(rec.offset), raw=raw, parsed=parse_line(raw), timestamp_ms=rec.get("timestamp"),
                   key=rec.decoded_key)
        )
    for records in out.values():
        records.sort(key=lambda r: r.offset)
    return dict(out)


def emit_stream_availability(answers: list[tuple[int, int]]) -> None:
    """The course's availability figures of the ``recommendation request`` lines this batch applied.

    Counted only when the batch held such lines (a batch of watch lines is no minute without answers:
    no traffic is no measurement, so the alarm's ratio has no datapoint rather than a false 0 %). The
    metrics carry the time they are emitted, i.e. the minute the lines arrived; on a live stream that is
    the minute the course's clients asked (replayed history lands in the minute it is replayed).
    """
    if not answers:
        return
    figures = availability(answers)
    metrics.add_metric(name=STREAM_ANSWERS, unit=MetricUnit.Count, value=figures.answers)
    metrics.add_metric(name=STREAM_ANSWERS_AVAILABLE, unit=MetricUnit.Count, value=figures.available)
    for _, latency_ms in answers:
        metrics.add_metric(name=STREAM_LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)


@metrics.log_metrics
@event_source(data_class=KafkaEvent)
def handler(event: KafkaEvent, context: Any) -> dict:
    """Apply every topic-partition of the batch; return the summary (accepted, rejected by reason, ...)."""
    started = time.perf_counter()
    writer = writer_for(get_settings())
    summary = Summary()
    groups = records_by_partition(event)
    summary.seconds["parse"] = time.perf_counter() - started
    for (topic, partition), records in groups.items():
        summary.add(writer.apply_partition(source_of(topic, partition), records))
    metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=summary.records)
    metrics.add_metric(name=LINES_ACCEPTED, unit=MetricUnit.Count, value=summary.accepted)
    metrics.add_metric(name=LINES_REJECTED, unit=MetricUnit.Count, value=summary.rejected_total)
    for reason, n in summary.rejected.items():
        metrics.add_metric(name=lines_rejected(reason), unit=MetricUnit.Count, value=n)
    metrics.add_metric(name=LINES_UNKEYED, unit=MetricUnit.Count, value=summary.unkeyed)
    metrics.add_metric(name="LinesSkipped", unit=MetricUnit.Count, value=summary.skipped)
    metrics.add_metric(name="WriteConflicts", unit=MetricUnit.Count, value=summary.conflicts)
    metrics.add_metric(name="IntentsRecovered", unit=MetricUnit.Count, value=summary.recovered)
    emit_stream_availability(summary.stream_answers)
    for phase, seconds in summary.seconds.items():
        metrics.add_metric(name=f"Duration_{phase}", unit=MetricUnit.Milliseconds, value=round(seconds * 1000, 1))
    metrics.add_metric(name="HandlerDuration", unit=MetricUnit.Milliseconds,
                       value=round((time.perf_counter() - started) * 1000, 1))
    out = summary.as_dict()
    logger.debug("batch applied", extra={"summary": out})
    return out

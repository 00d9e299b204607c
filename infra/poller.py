"""The local event-source poller: what Lambda's Kafka event source mapping does, in one process.

A kafka-python consumer group reads the stream topic and builds batches of at most ``batch_size``
records, waiting at most ``batch_window_s`` after the first record (like BatchSize and
MaximumBatchingWindowInSeconds). Each batch is wrapped in the exact Lambda Kafka event shape
(:func:`lambda_event`) and handed to the real ingest handler in-process. Offsets are committed only after
the handler succeeded; on failure the poller seeks back to the batch start and retries with exponential
backoff, committing nothing. Broker outages are ridden out (kafka-python reconnects; a consumer that
fails outright is rebuilt), and redelivery is harmless because the handler is idempotent (the offsets
watermark in DynamoDB), which is also why a crash between "handler succeeded" and "commit" loses nothing
and doubles nothing.

DynamoDB is a projection of the log, so the poller positions itself from the projection, not only from
the group's committed offsets (:meth:`Poller._reconcile`, before every batch and every lag report):

- a partition with no watermark (the offsets table is new, empty or was lost: it is recreated from the
  models) whose position is past the earliest retained offset is **rebuilt** from that offset;
- a watermark ahead of the partition's end offset means the broker lost its log (tansu restarted on
  ``memory://``): every record it now serves would be skipped as "already applied". That partition is
  **stopped** (paused, its records never handed over), logged as an error and counted
  (``PartitionsStopped``, alarm ``ingest-partition-stopped``) until the poller is restarted after the
  log or the tables were repaired. The check sees the end offset of the last fetch, so it catches a lost
  log once records arrive, as long as the new log is still shorter than what was applied.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata
from pynamodb.exceptions import GetError

from infra.bootstrap import ensure_tables
from infra.handlers import load_handler
from infra.lambda_runtime import LambdaContext
from movierec.config import Settings
from movierec.dal.offsets import read_watermark, source_of
from movierec.dal.tables import Tables
from movierec.metrics import CONSUMER_LAG, HANDLER_FAILURES, PARTITIONS_STOPPED, PROJECTION_REBUILDS
from movierec.observability import MetricUnit, make_metrics

log = logging.getLogger("movierec.poller")

Handler = Callable[[dict, Any], dict]
EVENT_SOURCES = ("SelfManagedKafka", "aws:kafka")


def lambda_event(
    records: Iterable[ConsumerRecord], bootstrap: str, event_source: str = "SelfManagedKafka"
) -> dict[str, Any]:
    """The event Lambda passes for these records: grouped by ``topic-partition``, key/value base64."""
    if event_source not in EVENT_SOURCES:
        raise ValueError(f"event_source must be one of {EVENT_SOURCES}, got {event_source!r}")
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        entry: dict[str, Any] = {
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "timestamp": r.timestamp,
            "timestampType": "LOG_APPEND_TIME" if r.timestamp_type == 1 else "CREATE_TIME",
            "value": base64.b64encode(r.value or b"").decode("ascii"),
            "headers": [{k: list(v or b"")} for k, v in (r.headers or [])],
        }
        if r.key is not None:
            entry["key"] = base64.b64encode(r.key).decode("ascii")
        grouped[f"{r.topic}-{r.partition}"].append(entry)
    event: dict[str, Any] = {"eventSource": event_source, "bootstrapServers": bootstrap, "records": dict(grouped)}
    if event_source == "aws:kafka":
        event["eventSourceArn"] = "arn:aws:kafka:us-east-1:000000000000:cluster/movierec-local/local"
    return event


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    failures: int = 0
    last_summary: dict = field(default_factory=dict)
    #: Items the handler wrote, per table, over every batch (the store's per-item cost bounds throughput).
    item_writes: dict[str, int] = field(default_factory=dict)
    lag: int | None = None
    #: Partitions rebuilt from their earliest offset because the tables had no watermark for them.
    rebuilds: int = 0
    #: Partitions stopped because their watermark is ahead of the log's end (the broker lost its log).
    stopped: set[int] = field(default_factory=set)


class Poller:
    """Consumer group -> batches -> ingest handler -> commit; a ``Component`` of ``make up``."""

    name = "ingest-poller"

    def __init__(
        self,
        settings: Settings,
        handler: Handler | None = None,
        event_source: str = "SelfManagedKafka",
        max_backoff_s: float = 30.0,
        lag_every_s: float = 5.0,
        partitions: Sequence[int] | None = None,
    ) -> None:
        """``partitions``: apply only these partitions of the topic (assigned, not balanced by the group),
        as one of several pollers side by side (:mod:`infra.ingest_workers`); None = the whole topic,
        through the consumer group."""
        self.settings = settings
        self.partitions = None if partitions is None else sorted(partitions)
        self.handler = handler or load_handler("ingest")
        self.event_source = event_source
        self.max_backoff_s = max_backoff_s
        self.lag_every_s = lag_every_s
        self.stats = PollerStats()
        self.metrics = make_metrics("ingest-poller")
        #: Where the projection stands (watermarks), read before handing records over.
        self.tables = Tables(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- Component interface ------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # -- the loop -----------------------------------------------------------------------------------
    def _consumer(self) -> KafkaConsumer:
        s = self.settings
        topics = () if self.partitions is not None else (s.kafka_topic,)
        suffix = "" if self.partitions is None else "-p" + "-".join(map(str, self.partitions))
        consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=s.kafka_bootstrap,
            group_id=s.kafka_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            max_poll_records=s.batch_size,
            reconnect_backoff_max_ms=2000,
            client_id=f"{s.kafka_group}-poller{suffix}",
        )
        if self.partitions is not None:
            self._assign(consumer, self.partitions)
        return consumer

    def _assign(self, consumer: KafkaConsumer, partitions: Sequence[int]) -> None:
        """Take ``partitions`` and start each at its watermark: the projection, not the group's commits,
        says what was applied (an assigned consumer is no group member; its commits are informational)."""
        tps = [TopicPartition(self.settings.kafka_topic, p) for p in partitions]
        consumer.assign(tps)
        for tp in tps:
            watermark = self._watermark(tp)
            if watermark is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, watermark)

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll and apply until ``stop`` (or :meth:`stop`) is set; never raises for a broker outage."""
        stop = stop or self._stop
        consumer: KafkaConsumer | None = None
        failures = 0
        last_lag = 0.0
        try:
            while not stop.is_set():
                try:
                    if consumer is None:
                        consumer = self._consumer()
                    batch = self._collect(consumer, stop)
                    if batch:
                        batch = self._reconcile(consumer, batch)
                    if batch:
                        if self._apply(consumer, batch):
                            failures = 0
                        else:
                            failures += 1
                            stop.wait(min(self.max_backoff_s, 0.5 * 2 ** min(failures, 10)))
                    if time.monotonic() - last_lag > self.lag_every_s:
                        last_lag = time.monotonic()
                        self._report_lag(consumer)
                except Exception as exc:  # the consumer itself failed (broker gone too long): rebuild it
                    failures += 1
                    log.warning("consumer failed (%s); rebuilding it after backoff", exc)
                    if consumer is not None:
                        _close_quietly(consumer)
                        consumer = None
                    stop.wait(min(self.max_backoff_s, 0.5 * 2 ** min(failures, 10)))
        finally:
            if consumer is not None:
                _close_quietly(consumer)

    def _collect(self, consumer: KafkaConsumer, stop: threading.Event) -> list[ConsumerRecord]:
        """Up to ``batch_size`` records; waits at most ``batch_window_s`` once the first one arrived."""
        size = self.settings.batch_size
        batch: list[ConsumerRecord] = []
        deadline: float | None = None
        while len(batch) < size and not stop.is_set():
            remaining = 0.5 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                break
            polled = consumer.poll(timeout_ms=int(remaining * 1000), max_records=size - len(batch))
            for tp, records in polled.items():
                if tp.partition not in self.stats.stopped:
                    batch.extend(records)
            if batch and deadline is None:
                deadline = time.monotonic() + self.settings.batch_window_s
            if not batch and deadline is None and not polled:
                break  # idle: let the caller report lag and check stop
        return batch

    def _apply(self, consumer: KafkaConsumer, batch: list[ConsumerRecord]) -> bool:
        """Invoke the handler; commit on success, seek back on failure. True when applied."""
        event = lambda_event(batch, self.settings.kafka_bootstrap, self.event_source)
        first: dict[TopicPartition, int] = {}
        last: dict[TopicPartition, int] = {}
        for r in batch:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
            last[tp] = max(last.get(tp, r.offset), r.offset)
        try:
            summary = self.handler(event, LambdaContext())
        except Exception as exc:
            self.stats.failures += 1
            log.warning("ingest handler failed on %d records (%s); will retry without committing", len(batch), exc)
            self.metrics.add_metric(name=HANDLER_FAILURES, unit=MetricUnit.Count, value=1)
            self.metrics.flush_metrics()
            assigned = consumer.assignment()
            for tp, offset in first.items():
                if tp in assigned:
                    consumer.seek(tp, offset)
            return False
        self.stats.batches += 1
        self.stats.records += len(batch)
        self.stats.last_summary = summary
        for table, n in summary.get("writes", {}).items():
            self.stats.item_writes[table] = self.stats.item_writes.get(table, 0) + n
        try:
            consumer.commit({tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in last.items()})
        except Exception as exc:  # rebalance or broker outage: the watermark makes redelivery harmless
            log.warning("offset commit failed (%s); the records may be redelivered and will be skipped", exc)
        return True

    def _watermark(self, tp: TopicPartition) -> int | None:
        """The partition's watermark; a missing offsets table is recreated (empty: a rebuild follows)."""
        try:
            return read_watermark(self.tables, source_of(tp.topic, tp.partition))
        except GetError as exc:
            if exc.cause_response_code != "ResourceNotFoundException":
                raise
            log.warning("the offsets table is missing: recreating the tables to rebuild them from the log")
            ensure_tables(self.settings)
            return None

    def _reconcile(self, consumer: KafkaConsumer, batch: list[ConsumerRecord] | None = None) -> list[ConsumerRecord]:
        """Position each partition from the projection (see the module docstring); the records to apply.

        ``batch`` None checks every assigned partition at its position (the idle case: nothing arrives
        for a group whose committed offsets are at the end although the tables were lost).
        """
        firsts: dict[TopicPartition, int] = {}
        for r in batch or ():
            tp = TopicPartition(r.topic, r.partition)
            firsts[tp] = min(firsts.get(tp, r.offset), r.offset)
        if batch is None:
            running = [tp for tp in consumer.assignment() if tp.partition not in self.stats.stopped]
            firsts = {tp: consumer.position(tp) for tp in running}
        drop: set[TopicPartition] = set()
        for tp, first in firsts.items():
            watermark = self._watermark(tp)
            if watermark is None:
                earliest = consumer.beginning_offsets([tp])[tp]
                if first is not None and first > earliest:
                    log.warning("%s-%d has no watermark: rebuilding it from its earliest offset %d (was at %d)",
                                tp.topic, tp.partition, earliest, first)  # fmt: skip
                    consumer.seek(tp, earliest)
                    self.stats.rebuilds += 1
                    self.metrics.add_metric(name=PROJECTION_REBUILDS, unit=MetricUnit.Count, value=1)
                    drop.add(tp)
                continue
            end = consumer.highwater(tp)
            if end is not None and watermark > end:
                log.error("%s-%d: the applied watermark %d is ahead of the log's end %d: the broker lost its "
                          "log; this partition is stopped (nothing of it is applied or skipped) until the "
                          "log or the tables are repaired", tp.topic, tp.partition, watermark, end)  # fmt: skip
                self.stats.stopped.add(tp.partition)
                consumer.pause(tp)
                drop.add(tp)
        if drop:
            self.metrics.flush_metrics()
        return [r for r in batch or () if TopicPartition(r.topic, r.partition) not in drop]

    def _report_lag(self, consumer: KafkaConsumer) -> None:
        """Records in the topic not yet consumed by this group (as a metric and in ``stats``)."""
        assigned = list(consumer.assignment())
        if not assigned:
            return
        stopped = [tp for tp in assigned if tp.partition in self.stats.stopped]
        if stopped:
            consumer.pause(*stopped)  # a rebuilt consumer must not resume them
        self._reconcile(consumer)
        self.metrics.add_metric(name=PARTITIONS_STOPPED, unit=MetricUnit.Count, value=len(self.stats.stopped))
        # The high watermark of the last fetch response; tansu answers ListOffsets(latest) with less than
        # the true end, so end_offsets() is only the fallback before the first fetch.
        ends = {tp: consumer.highwater(tp) for tp in assigned}
        if any(end is None for end in ends.values()):
            ends = consumer.end_offsets(assigned)
        lag = sum(max(0, ends[tp] - consumer.position(tp)) for tp in assigned)
        self.stats.lag = lag
        self.metrics.add_metric(name=CONSUMER_LAG, unit=MetricUnit.Count, value=lag)
        self.metrics.flush_metrics()


def _close_quietly(consumer: KafkaConsumer) -> None:
    try:
        consumer.close(autocommit=False)
    except Exception as exc:  # closing a consumer whose broker is gone may fail; nothing to save
        log.debug("closing consumer: %s", exc)

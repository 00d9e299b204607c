"""The local stand-in for CloudWatch's EMF extraction: collect EMF documents, publish them with PutMetricData.

On AWS, CloudWatch Logs turns every Embedded Metric Format document a function prints into metrics. Locally
nothing does, so both local runners hand their function's documents to ONE :class:`MetricsPublisher`:

- in-process (the ingest poller): :meth:`MetricsPublisher.start` installs itself as the process's EMF sink
  (:meth:`movierec.observability.EmfOutput.attach`), so every ``flush_metrics`` lands here, not on stdout;
- from a child process (``chalice local`` serving the recommend app): the child's stdout goes to its log
  file under the run folder (``infra/api_server.py``); :meth:`MetricsPublisher.follow` tails that file and
  takes its EMF lines, as CloudWatch Logs does with a function's log stream.

The same publisher runs wherever the functions run locally, on whatever endpoint is configured (moto or
LocalStack, which does not extract EMF either): ``make up``, ``movierec ingest``, ``movierec invoke`` (the
invoked process's log) and ``movierec metrics --follow FILE`` (log files of runners started by hand).

Collecting costs a queue append on the caller's thread; parsing, aggregation (equal values become
``Values``/``Counts`` pairs) and the PutMetricData calls happen on the publisher's own thread every
``interval_s`` seconds, off the request path. Timing values (unit Milliseconds) are also kept in a
:class:`~infra.percentiles.PercentileStore`, because moto answers no percentile statistics.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from movierec import aws, observability
from movierec.config import Settings
from infra.percentiles import PercentileStore, series_key
from infra.ticker import Ticker

log = logging.getLogger(__name__)

#: PutMetricData limits: metric data per request (we stay well below 1,000 and the 1 MB payload),
#: distinct values per datum.
DATA_PER_CALL = 500
VALUES_PER_DATUM = 150
#: Data kept for a retry while the local CloudWatch does not answer; older data beyond this is dropped.
MAX_PENDING = 100_000
TIMING_UNIT = "Milliseconds"


@dataclass(frozen=True)
class Sample:
    """One metric value set from one EMF document, for one dimension set."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str
    timestamp_s: float
    values: tuple[float, ...]


def parse_document(doc: dict[str, Any]) -> list[Sample]:
    """The metric samples of one EMF document, per the EMF specification; raises ValueError if malformed."""
    try:
        meta = doc["_aws"]
        timestamp_s = float(meta["Timestamp"]) / 1000.0
        directives = meta["CloudWatchMetrics"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an EMF document: {exc!r}") from exc
    samples = []
    for directive in directives:
        namespace = directive["Namespace"]
        for dim_names in directive.get("Dimensions", [[]]):
            dims = tuple((d, str(doc[d])) for d in dim_names)
            for metric in directive["Metrics"]:
                raw = doc[metric["Name"]]
                values = tuple(float(v) for v in (raw if isinstance(raw, list) else [raw]))
                samples.append(
                    Sample(namespace, metric["Name"], dims, metric.get("Unit", "None"), timestamp_s, values)
                )
    return samples


def emf_of_line(line: str) -> dict[str, Any] | None:
    """The EMF document a line of a function's output holds, or None for any other line."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and "_aws" in doc else None


class LogTail:
    """Reads the lines appended to a log file since the last read, like CloudWatch Logs reading a stream.

    It starts at the file's end as of its creation (earlier runs' lines are not metrics of this run) and
    starts over when the file is truncated or replaced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def new_lines(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self._offset:
            self._offset, self._partial = 0, b""
        if size == self._offset:
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read(size - self._offset)
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete]


def to_metric_data(samples: Iterable[Sample]) -> dict[str, list[dict[str, Any]]]:
    """PutMetricData ``MetricData`` per namespace: same series and second merged into Values/Counts."""
    merged: dict[tuple, Counter[float]] = defaultdict(Counter)
    for s in samples:
        merged[(s.namespace, s.name, s.dimensions, s.unit, int(s.timestamp_s))].update(s.values)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (namespace, name, dims, unit, second), counts in merged.items():
        items = sorted(counts.items())
        for i in range(0, len(items), VALUES_PER_DATUM):
            chunk = items[i : i + VALUES_PER_DATUM]
            out[namespace].append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    "Timestamp": dt.datetime.fromtimestamp(second, dt.timezone.utc),
                    "Values": [v for v, _ in chunk],
                    "Counts": [float(c) for _, c in chunk],
                    "Unit": unit,
                }
            )
    return out


@dataclass
class PublisherStats:
    documents: int = 0
    malformed: int = 0
    data_published: int = 0
    put_calls: int = 0
    put_failures: int = 0
    dropped: int = 0
    last_error: str = ""
    by_metric: Counter[str] = field(default_factory=Counter)


class MetricsPublisher(Ticker):
    """The ``metrics`` component of ``make up``: EMF documents in, batched PutMetricData out."""

    name = "metrics"

    def __init__(self, settings: Settings, interval_s: float = 5.0, output: observability.EmfOutput | None = None) -> None:
        """``output``: the EMF output to collect from while started (this process's unless told otherwise)."""
        super().__init__(interval_s)
        self.settings = settings
        self.output = output if output is not None else observability.emf_output()
        self.percentiles = PercentileStore.in_run_dir(settings.run_dir)
        self.stats = PublisherStats()
        self._inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pending: list[Sample] = []
        self._previous_sink: observability.EmfSink | None = None
        self._tails: list[LogTail] = []
        self._flush_lock = threading.Lock()

    def accept(self, document: dict[str, Any]) -> None:
        """Take one EMF document (any thread, never blocks, never raises)."""
        self._inbox.put(document)

    def follow(self, log_file: Path) -> None:
        """Also collect the EMF lines a child process writes to ``log_file`` (its stdout), from now on."""
        self._tails.append(LogTail(log_file))

    def start(self) -> None:
        self._previous_sink = self.output.attach(self.accept)
        super().start()

    def stop(self) -> None:
        """Stop the thread, publish what is left, give stdout back to the process's EMF output."""
        super().stop()
        self.output.attach(self._previous_sink)
        self.flush()

    def tick(self) -> int:
        return self.flush()

    def flush(self) -> int:
        """Publish everything collected so far; returns how many metric data were sent."""
        with self._flush_lock:
            self._drain()
            if not self._pending:
                return 0
            samples, self._pending = self._pending, []
            sent = 0
            cloudwatch = aws.client("cloudwatch", self.settings)
            for namespace, data in to_metric_data(samples).items():
                for i in range(0, len(data), DATA_PER_CALL):
                    batch = data[i : i + DATA_PER_CALL]
                    try:
                        cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
                    except Exception as exc:  # the local CloudWatch is down or restarting: keep for a retry
                        self.stats.put_failures += 1
                        self.stats.last_error = repr(exc)
                        log.warning("PutMetricData failed (%s); keeping %d data for the next flush", exc, len(batch))
                        self._keep_for_retry(namespace, batch)
                        continue
                    self.stats.put_calls += 1
                    sent += len(batch)
            self.stats.data_published += sent
            self.percentiles.prune(time.time())
            self.percentiles.save()
            return sent

    def _drain(self) -> None:
        for tail in self._tails:
            for line in tail.new_lines():
                doc = emf_of_line(line)
                if doc is not None:
                    self.accept(doc)
        while True:
            try:
                doc = self._inbox.get_nowait()
            except queue.Empty:
                return
            self.stats.documents += 1
            try:
                samples = parse_document(doc)
            except (KeyError, TypeError, ValueError) as exc:
                self.stats.malformed += 1
                log.warning("ignoring a malformed EMF document (%s): %.200s", exc, doc)
                continue
            for s in samples:
                self.stats.by_metric[s.name] += len(s.values)
                if s.unit == TIMING_UNIT:
                    key = series_key(s.namespace, s.name, dict(s.dimensions))
                    for v in s.values:
                        self.percentiles.add(key, s.timestamp_s, v)
            self._pending.extend(samples)

    def _keep_for_retry(self, namespace: str, data: list[dict[str, Any]]) -> None:
        for d in data:
            dims = tuple((x["Name"], x["Value"]) for x in d["Dimensions"])
            values = tuple(v for v, c in zip(d["Values"], d["Counts"]) for _ in range(int(c)))
            ts = d["Timestamp"].timestamp()
            self._pending.append(Sample(namespace, d["MetricName"], dims, d["Unit"], ts, values))
        overflow = len(self._pending) - MAX_PENDING
        if overflow > 0:
            self.stats.dropped += overflow
            del self._pending[:overflow]


def emit_now(settings: Settings, function: str, values: dict[str, float]) -> None:
    """``values`` as Count metrics of ``function``, published before returning: what a report command's
    ``--emit`` does (a command ends at once, so the EMF document must not wait for a publisher's tick)."""
    publisher = MetricsPublisher(settings)
    publisher.start()
    try:
        metrics = observability.make_metrics(function)
        for name, value in values.items():
            metrics.add_metric(name=name, unit=observability.MetricUnit.Count, value=value)
        metrics.flush_metrics()
    finally:
        publisher.stop()

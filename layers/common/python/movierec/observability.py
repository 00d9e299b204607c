"""Logging and metrics, set up in one place for every function and job.

Metrics use Powertools' CloudWatch Embedded Metric Format (EMF) in namespace ``movierec`` with the
dimensions ``function`` and ``stage``. On AWS, CloudWatch extracts EMF from the function's log; locally,
our runners collect the same documents and publish them to the local CloudWatch (see docs/observability.md).

Each metrics object gets its OWN Powertools provider: Powertools' ``Metrics`` otherwise shares its metric
and dimension sets across every instance in the process, so an ingest and a recommend collector living in
one process (tests, local tools) would overwrite each other's ``function`` dimension. Every flushed
document also carries the process's resident memory (:data:`RSS_METRIC`), so the "memory growing" alarm
watches exactly the processes that serve, on AWS as locally.

Where the documents go is one :class:`EmfOutput` per process (:func:`emf_output`, built once like the
settings), handed to every metrics object when it is made: stdout by default, a local collector while one
is attached. There is no module-level sink to swap: a provider writes to the output it was given.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from typing import Any, Callable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.constants import MAX_METRICS
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from movierec.config import get_settings
from movierec.metrics import COLD_START_METRIC, RSS_METRIC

NAMESPACE = "movierec"
#: The dimensions every movierec metric carries (alarms and dashboards select on exactly these).
DIMENSIONS = ("function", "stage")

__all__ = [
    "COLD_START_METRIC",
    "DIMENSIONS",
    "NAMESPACE",
    "RSS_METRIC",
    "EmfOutput",
    "EmfSink",
    "MetricUnit",
    "emf_output",
    "make_logger",
    "make_metrics",
    "process_rss_mb",
]

EmfSink = Callable[[dict[str, Any]], None]


class EmfOutput:
    """Where a process's EMF documents go: one JSON line on stdout (what Lambda logs), or an attached sink.

    A local runner that invokes a function in-process (the ingest poller, ``make up``'s schedules) attaches
    its collector here; it plays the part CloudWatch Logs plays on AWS. Tests attach a list to see what
    they emitted. One object per process (:func:`emf_output`) because stdout is one per process.
    """

    def __init__(self) -> None:
        self._sink: EmfSink | None = None
        self._lock = threading.Lock()

    def attach(self, sink: EmfSink | None) -> EmfSink | None:
        """Send the documents to ``sink`` instead of stdout from now on; returns the previous sink.

        ``None`` restores printing; give the returned sink back to undo an attach.
        """
        with self._lock:
            previous, self._sink = self._sink, sink
        return previous

    def emit(self, document: dict[str, Any]) -> None:
        """Hand one EMF document to the attached sink, or print it as one line."""
        sink = self._sink
        if sink is not None:
            sink(document)
        else:
            print(json.dumps(document, separators=(",", ":")), flush=True)


@functools.cache
def emf_output() -> EmfOutput:
    """This process's EMF output, built on first use and the same object afterwards."""
    return EmfOutput()


def process_rss_mb() -> float:
    """Resident memory of this process in MB, from /proc (Linux, as on Lambda); 0.0 where unavailable."""
    try:
        with open("/proc/self/statm", "rb") as f:
            resident_pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class _Provider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider with private state, our cold-start metric and one output path (its :class:`EmfOutput`)."""

    def __init__(self, output: EmfOutput, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output = output

    def add_metric(self, name: str, unit: MetricUnit | str, value: float, resolution: int = 60) -> None:
        # Powertools prints by itself when a document reaches 100 metrics or 100 values; flush through our
        # path first so that no document bypasses the output.
        values = self.metric_set.get(name, {}).get("Value", [])
        if len(values) >= MAX_METRICS - 1 or (name not in self.metric_set and len(self.metric_set) >= MAX_METRICS - 2):
            self.flush_metrics()
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set or is_metrics_disabled():
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)  # warns or raises as Powertools does
            return
        super().add_metric(name=RSS_METRIC, unit=MetricUnit.Megabytes, value=round(process_rss_mb(), 1))
        self.output.emit(dict(self.serialize_metric_set()))
        self.clear_metrics()

    def add_cold_start_metric(self, context: Any) -> None:
        self.add_metric(name=COLD_START_METRIC, unit=MetricUnit.Count, value=1)


def make_logger(function: str) -> Logger:
    """A structured JSON logger whose records name the function."""
    return Logger(service=function)


def make_metrics(function: str, output: EmfOutput | None = None) -> Metrics:
    """An EMF metrics collector with the ``function`` and ``stage`` dimensions set, writing to ``output``
    (this process's :func:`emf_output` unless told otherwise)."""
    # No Powertools ``service``: it would add a third dimension that alarms and dashboards do not select on.
    provider = _Provider(
        output if output is not None else emf_output(),
        namespace=NAMESPACE,
        service=None,
        metric_set={},
        dimension_set={},
        metadata_set={},
        default_dimensions={"function": function, "stage": get_settings().stage},
    )
    return Metrics(namespace=NAMESPACE, service=function, provider=provider)

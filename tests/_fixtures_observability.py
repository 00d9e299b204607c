"""Fixtures and helpers of the observability tests: an own stage per test, a started metrics publisher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Metrics

from movierec import aws
from movierec.metrics import LATENCY, REQUESTS, REQUESTS_5XX
from movierec.config import Settings, get_settings
from movierec.observability import NAMESPACE, MetricUnit
from infra.emf import MetricsPublisher


@pytest.fixture
def isolated(isolated: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Also a stage of its own: metrics are told apart by their dimensions (function, stage), not by prefix."""
    monkeypatch.setenv("MOVIEREC_STAGE", isolated.prefix)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def publisher(isolated: Settings) -> Iterator[MetricsPublisher]:
    """A started publisher (the process's EMF sink) with a long interval: tests flush explicitly."""
    pub = MetricsPublisher(isolated, interval_s=3600)
    pub.start()
    yield pub
    pub.stop()


def stats(settings: Settings, metric: str, function: str, stat: str, minutes: int = 10) -> float | None:
    now = dt.datetime.now(dt.timezone.utc)
    points = aws.client("cloudwatch", settings).get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "function", "Value": function}, {"Name": "stage", "Value": settings.stage}],
        StartTime=now - dt.timedelta(minutes=minutes),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60 * (minutes + 1),
        Statistics=[stat],
    )["Datapoints"]
    return points[0][stat] if points else None


def serve(metrics: Metrics, status: int, latency_ms: float) -> None:
    """What the recommend function records per request (names from movierec.metrics)."""
    metrics.add_metric(name=REQUESTS, unit=MetricUnit.Count, value=1)
    if status >= 500:
        metrics.add_metric(name=REQUESTS_5XX, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.flush_metrics()

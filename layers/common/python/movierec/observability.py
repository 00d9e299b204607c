"""Logging and metrics, set up in one place for every function and job.

Metrics use Powertools' CloudWatch Embedded Metric Format (EMF) in namespace ``movierec`` with the
dimensions ``function`` and ``stage``. On AWS, CloudWatch extracts EMF from the function's log; locally,
our runners collect the same documents and publish them to the local CloudWatch (see docs/observability.md).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from movierec.config import get_settings

NAMESPACE = "movierec"

__all__ = ["NAMESPACE", "MetricUnit", "make_logger", "make_metrics"]


def make_logger(function: str) -> Logger:
    """A structured JSON logger whose records name the function."""
    return Logger(service=function)


def make_metrics(function: str) -> Metrics:
    """An EMF metrics collector with the ``function`` and ``stage`` dimensions set."""
    metrics = Metrics(namespace=NAMESPACE, service=function)
    metrics.set_default_dimensions(function=function, stage=get_settings().stage)
    return metrics

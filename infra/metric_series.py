"""Time series of movierec metrics, read from the local CloudWatch, for the alarm evaluator and the monitor.

A series is a list of per-period values over a rolling window that ends now (``None`` = no data in that
period). Basic statistics come from CloudWatch ``GetMetricStatistics``; percentiles come from CloudWatch
``ExtendedStatistics`` where it has them (LocalStack, AWS) and otherwise from the raw values the local
metrics publisher kept (:class:`~infra.percentiles.PercentileStore`), because moto has none.
Metric-math expressions are computed here with the few functions our alarms and panels use
(see :class:`movierec.alarms.AlarmSpec`).
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from movierec import aws
from movierec.alarms import Query
from movierec.config import Settings
from movierec.observability import NAMESPACE
from infra.percentiles import PercentileStore, series_key

Series = list[float | None]


@dataclass(frozen=True)
class Window:
    """``periods`` consecutive periods of ``period_s`` seconds ending at ``end`` (epoch seconds)."""

    end: float
    period_s: int
    periods: int

    @classmethod
    def ending_now(cls, period_s: int, periods: int, now: float | None = None) -> "Window":
        """A window whose last period includes the current second (CloudWatch compares ``< EndTime``
        on whole seconds, and data are stamped with whole seconds)."""
        return cls(end=math.floor(time.time() if now is None else now) + 1, period_s=period_s, periods=periods)

    @property
    def start(self) -> float:
        return self.end - self.period_s * self.periods

    def bounds(self, i: int) -> tuple[float, float]:
        lo = self.start + i * self.period_s
        return lo, lo + self.period_s


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def fetch(settings: Settings, query: Query, window: Window, store: PercentileStore | None = None) -> Series:
    """The values of ``query`` (stage of ``settings``) in each period of ``window``."""
    dims = {"function": query.function, "stage": settings.stage}
    if query.is_percentile and store is not None and store.has_data():
        key = series_key(NAMESPACE, query.metric, dims)
        q = float(query.stat[1:])
        out: Series = []
        for i in range(window.periods):
            got = store.percentile(key, q, *window.bounds(i))
            out.append(None if got is None else got[0])
        return out
    if query.is_percentile:
        return _per_period(settings, query, dims, window)
    return _by_seconds(settings, query, dims, window)


def _request(query: Query, dims: dict[str, str], lo: float, hi: float, period_s: int, stats: dict) -> dict:
    return dict(
        Namespace=NAMESPACE,
        MetricName=query.metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=_utc(lo),
        EndTime=_utc(hi),
        Period=period_s,
        **stats,
    )


def _by_seconds(settings: Settings, query: Query, dims: dict[str, str], window: Window) -> Series:
    """One call with 1-second buckets, summed up into our periods.

    moto starts its buckets at the first datapoint, not at StartTime, so buckets of a whole period could
    not be placed on our periods; data carry whole-second timestamps, so 1-second buckets always can.
    """
    answer = aws.client("cloudwatch", settings).get_metric_statistics(
        **_request(query, dims, window.start, window.end, 1, {"Statistics": ["Sum", "SampleCount", "Maximum", "Minimum"]})
    )
    acc: list[list[dict[str, float]]] = [[] for _ in range(window.periods)]
    for point in answer.get("Datapoints", []):
        i = int((point["Timestamp"].timestamp() - window.start) // window.period_s)
        if 0 <= i < window.periods:
            acc[i].append(point)
    out: Series = []
    for points in acc:
        if not points:
            out.append(None)
            continue
        total, count = sum(p["Sum"] for p in points), sum(p["SampleCount"] for p in points)
        out.append(
            {
                "Sum": total,
                "SampleCount": count,
                "Average": total / count if count else None,
                "Maximum": max(p["Maximum"] for p in points),
                "Minimum": min(p["Minimum"] for p in points),
            }[query.stat]
        )
    return out


def _per_period(settings: Settings, query: Query, dims: dict[str, str], window: Window) -> Series:
    """Percentiles from CloudWatch's ExtendedStatistics (LocalStack, AWS), one call per period."""
    cloudwatch = aws.client("cloudwatch", settings)
    out: Series = []
    for i in range(window.periods):
        lo, hi = window.bounds(i)
        points = cloudwatch.get_metric_statistics(
            **_request(query, dims, lo, hi, window.period_s, {"ExtendedStatistics": [query.stat]})
        ).get("Datapoints", [])
        value = points[0].get("ExtendedStatistics", {}).get(query.stat) if points else None
        out.append(None if value is None else float(value))
    return out


_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _fill(series: Series, value: float | Series) -> Series:
    if isinstance(value, list):
        raise ValueError("FILL takes a constant as its second argument")
    return [value if v is None else v for v in series]


def _diff(series: Series) -> Series:
    return [None] + [b - a if a is not None and b is not None else None for a, b in zip(series, series[1:])]


def evaluate(expression: str, series: dict[str, Series], periods: int) -> Series:
    """Metric math over equally long series: ``+ - * /``, numbers, series ids, ``FILL(x, v)``, ``DIFF(x)``.

    Like CloudWatch, an operation with a missing operand (or a division by zero) gives a missing value.
    """

    def ev(node: ast.AST) -> float | Series:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in series:
                raise ValueError(f"unknown id {node.id!r} in {expression!r}")
            return series[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _apply(operator.mul, -1.0, ev(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _apply(_BINARY[type(node.op)], ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [ev(a) for a in node.args]
            if node.func.id == "FILL" and len(args) == 2 and isinstance(args[0], list):
                return _fill(args[0], args[1])
            if node.func.id == "DIFF" and len(args) == 1 and isinstance(args[0], list):
                return _diff(args[0])
        raise ValueError(f"unsupported metric math in {expression!r}: {ast.dump(node)[:80]}")

    def _apply(op: Callable[[float, float], float], a: float | Series, b: float | Series) -> Series:
        left = a if isinstance(a, list) else [a] * periods
        right = b if isinstance(b, list) else [b] * periods
        out: Series = []
        for x, y in zip(left, right):
            try:
                out.append(None if x is None or y is None else op(x, y))
            except ZeroDivisionError:
                out.append(None)
        return out

    result = ev(ast.parse(expression, mode="eval"))
    return result if isinstance(result, list) else [result] * periods


def compute(
    settings: Settings,
    queries: Sequence[Query],
    expression: str | None,
    window: Window,
    store: PercentileStore | None = None,
) -> Series:
    """The series an alarm or panel line shows: one query, or an expression over several."""
    fetched = {q.id: fetch(settings, q, window, store) for q in queries}
    if expression is None:
        [only] = fetched.values()
        return only
    return evaluate(expression, fetched, window.periods)

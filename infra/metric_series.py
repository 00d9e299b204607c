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
import logging
import math
import operator
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from botocore.exceptions import ClientError

from movierec import aws
from movierec.alarms import Query
from movierec.config import Settings
from movierec.observability import NAMESPACE
from infra.percentiles import PercentileStore, series_key

Series = list[float | None]
log = logging.getLogger(__name__)


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

    @classmethod
    def aligned(cls, period_s: int, periods: int, now: float | None = None, step_s: int | None = None) -> "Window":
        """A window that ends on the next whole ``step_s`` (default: the period) after ``now``.

        CloudWatch (AWS) rounds GetMetricData's ``StartTime`` down to whole minutes and places its
        buckets there; moto places them on ``StartTime``. A window on whole minutes is the same on both.
        """
        step = step_s or period_s
        at = time.time() if now is None else now
        return cls(end=math.floor(at / step) * step + step, period_s=period_s, periods=periods)

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


#: GetMetricData takes at most this many queries per call.
_MAX_QUERIES = 500


def compute_lines(
    settings: Settings,
    lines: Sequence[tuple[Sequence[Query], str | None]],
    window: Window,
    store: PercentileStore | None = None,
) -> list[Series]:
    """The series of many lines (queries, expression) with one ``GetMetricData`` call, for the dashboard.

    A page redraws every few seconds and shows a dozen panels: one call for all their basic statistics
    instead of one ``GetMetricStatistics`` per query. ``GetMetricData`` places its buckets on
    ``StartTime`` (moto as well), so a window aligned on its period lines up everywhere. Percentiles come
    from the local store when it has data (moto answers none), else from ``GetMetricData`` itself (AWS,
    LocalStack); expressions are computed here with the alarms' own :func:`evaluate`.
    """
    fetched: dict[Query, Series] = {}
    remote = []
    for queries, _ in lines:
        for q in queries:
            key = _plain(q)
            if key in fetched or key in remote:
                continue
            if q.is_percentile and store is not None and store.has_data():
                fetched[key] = fetch(settings, key, window, store)
            else:
                remote.append(key)
    basic = [q for q in remote if not q.is_percentile]
    for start in range(0, len(basic), _MAX_QUERIES):
        fetched.update(_get_metric_data(settings, basic[start : start + _MAX_QUERIES], window))
    percentiles = [q for q in remote if q.is_percentile]
    try:  # apart: moto answers a percentile with a 500, which must not blank the other lines
        fetched.update(_get_metric_data(settings, percentiles, window) if percentiles else {})
    except ClientError as exc:
        log.warning("no percentiles from CloudWatch (%s) and no local store: those lines stay empty", exc)
        fetched.update({q: [None] * window.periods for q in percentiles})
    out: list[Series] = []
    for queries, expression in lines:
        by_id = {q.id: fetched[_plain(q)] for q in queries}
        out.append(by_id[queries[0].id] if expression is None else evaluate(expression, by_id, window.periods))
    return out


def _plain(query: Query) -> Query:
    """The query without its expression id: two lines reading the same metric share one answer."""
    return Query("m", query.metric, query.function, query.stat)


def _get_metric_data(settings: Settings, queries: Sequence[Query], window: Window) -> dict[Query, Series]:
    requests = [
        {"Id": f"q{i}", "MetricStat": q.metric_stat(settings.stage, window.period_s, None), "ReturnData": True}
        for i, q in enumerate(queries)
    ]
    out: dict[Query, Series] = {q: [None] * window.periods for q in queries}
    pages = aws.client("cloudwatch", settings).get_paginator("get_metric_data").paginate(
        MetricDataQueries=requests, StartTime=_utc(window.start), EndTime=_utc(window.end)
    )
    for page in pages:
        for result in page["MetricDataResults"]:
            series = out[queries[int(result["Id"][1:])]]
            for stamp, value in zip(result["Timestamps"], result["Values"]):
                i = int((stamp.timestamp() - window.start) // window.period_s)
                if 0 <= i < window.periods and value is not None:
                    series[i] = float(value)
    return out

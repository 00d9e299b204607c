"""The dashboard of movierec, defined once: the PNG of ``movierec monitor --png``, the live page of
``movierec dashboard`` and the CloudWatch dashboard in ``template.yaml`` are all drawn from :data:`PANELS`.

A panel is a titled chart of lines; a line is one metric query or a metric-math expression over queries
(the same :class:`~movierec.alarms.Query` the alarms use, so a panel and an alarm read identical data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from movierec.alarms import POLLER, Query, alarm
from movierec.metrics import (
    CONSUMER_LAG, DRIFT_NEW_USERS, DRIFT_RATING_PSI, DRIFT_RECO_COVERAGE, DRIFT_RECO_POPULARITY_KS, DRIFT_UNSEEN,
    DRIFT_WATCH_KS, EXPERIMENT_CONVERSION_CONTROL, EXPERIMENT_CONVERSION_TREATMENT, EXPERIMENT_ROLLBACK, LATENCY,
    LINES_ACCEPTED, LINES_REJECTED, ONLINE_CONVERSION, ONLINE_CONVERSION_CURRENT, ONLINE_CONVERSION_PREVIOUS,
    REQUESTS, REQUESTS_4XX, REQUESTS_5XX, RSS_METRIC, STREAM_LATENCY,
)  # fmt: skip
from movierec.observability import NAMESPACE


@dataclass(frozen=True)
class Line:
    label: str
    queries: tuple[Query, ...]
    expression: str | None = None

    @property
    def is_count(self) -> bool:
        """A plain sum of events: a period without data counted nothing (drawn as 0, not as a gap)."""
        return self.expression is None and all(q.stat == "Sum" for q in self.queries)


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    lines: tuple[Line, ...]
    period_s: int = 60
    #: A horizontal line for the alarm threshold drawn on this panel, if any (alarm logical name).
    alarm: str | None = None


def _one(label: str, metric: str, function: str, stat: str) -> Line:
    return Line(label, (Query("m", metric, function, stat),))


_availability = alarm("recommend-availability")
_stream_availability = alarm("stream-availability")

PANELS: tuple[Panel, ...] = (
    Panel(
        "Recommend requests per minute",
        "requests",
        (
            _one("all", REQUESTS, "recommend", "Sum"),
            _one("4xx", REQUESTS_4XX, "recommend", "Sum"),
            _one("5xx", REQUESTS_5XX, "recommend", "Sum"),
        ),
    ),
    Panel(
        "Recommend success ratio",
        "%",
        (Line("non-5xx share", _availability.queries, _availability.expression),),
        alarm=_availability.name,
    ),
    Panel(
        "Recommend latency",
        "ms",
        tuple(_one(p, LATENCY, "recommend", p) for p in ("p50", "p90", "p99")),
        alarm="recommend-latency-p99",
    ),
    Panel(
        # The course's measure beside ours: the stream's recommendation lines vs the API's own non-5xx share.
        "Availability: course (stream) vs API",
        "%",
        (
            Line("stream: 200 within 600 ms", _stream_availability.queries, _stream_availability.expression),
            Line("API: non-5xx", _availability.queries, _availability.expression),
        ),
        alarm=_stream_availability.name,
    ),
    Panel(
        "Latency as the course's clients saw it (stream)",
        "ms",
        tuple(_one(p, STREAM_LATENCY, "ingest", p) for p in ("p50", "p99")),
    ),
    Panel(
        "Ingest lines per minute",
        "lines",
        (
            _one("accepted", LINES_ACCEPTED, "ingest", "Sum"),
            _one("rejected", LINES_REJECTED, "ingest", "Sum"),
        ),
    ),
    Panel("Ingest consumer lag", "records", (_one("lag", CONSUMER_LAG, POLLER, "Maximum"),)),
    Panel(
        "Process memory (RSS)",
        "MB",
        (
            _one("recommend", RSS_METRIC, "recommend", "Maximum"),
            _one("ingest", RSS_METRIC, "ingest", "Maximum"),
        ),
    ),
    Panel(
        # Emitted by each `movierec drift --emit` (a point per run, not per minute); PSI > 0.25 alarms.
        "Drift scores",
        "score",
        (
            _one("rating PSI", DRIFT_RATING_PSI, "drift", "Maximum"),
            _one("watch minutes KS", DRIFT_WATCH_KS, "drift", "Maximum"),
            _one("new-user share", DRIFT_NEW_USERS, "drift", "Maximum"),
            _one("unseen-movie share", DRIFT_UNSEEN, "drift", "Maximum"),
            _one("recommended popularity KS", DRIFT_RECO_POPULARITY_KS, "drift", "Maximum"),
            _one("recommendation coverage", DRIFT_RECO_COVERAGE, "drift", "Maximum"),
        ),
        alarm="drift-ratings",
    ),
    Panel(
        # Emitted by each `movierec eval online --emit` (overall, current and previous index version) and
        # `movierec experiment report --emit` (the arms): a point per report, not per minute.
        "Online conversion per index version and experiment arm",
        "share",
        (
            _one("all answers", ONLINE_CONVERSION, "online", "Maximum"),
            _one("current version", ONLINE_CONVERSION_CURRENT, "online", "Maximum"),
            _one("previous version", ONLINE_CONVERSION_PREVIOUS, "online", "Maximum"),
            _one("experiment control", EXPERIMENT_CONVERSION_CONTROL, "experiment", "Maximum"),
            _one("experiment treatment", EXPERIMENT_CONVERSION_TREATMENT, "experiment", "Maximum"),
        ),
    ),
    Panel("Canary rollbacks", "rollbacks", (_one("rollbacks", EXPERIMENT_ROLLBACK, "experiment", "Sum"),)),
)


def cloudwatch_body(stage: str, region: str) -> str:
    """The CloudWatch dashboard body (JSON) for one stage: the same panels as the PNG, two per row.

    In the template, ``stage`` and ``region`` are ``${Stage}`` / ``${AWS::Region}`` inside ``Fn::Sub``.
    """
    widgets: list[dict[str, Any]] = []
    for n, panel in enumerate(PANELS):
        metrics: list[list[Any]] = []
        for i, line in enumerate(panel.lines):
            for q in line.queries:
                # A plain line is its query (id m<i>); an expression's queries keep the ids it names.
                if line.expression is None:
                    options: dict[str, Any] = {"stat": q.stat, "id": f"m{i}", "label": line.label}
                else:
                    options = {"stat": q.stat, "id": q.id, "visible": False}
                metrics.append([NAMESPACE, q.metric, "function", q.function, "stage", stage, options])
            if line.expression is not None:
                metrics.append([{"expression": line.expression, "label": line.label, "id": f"e{i}"}])
        properties: dict[str, Any] = {
            "title": panel.title,
            "region": region,
            "period": panel.period_s,
            "view": "timeSeries",
            "metrics": metrics,
            "yAxis": {"left": {"label": panel.unit, "showUnits": False}},
        }
        if panel.alarm:
            threshold = alarm(panel.alarm).threshold
            properties["annotations"] = {"horizontal": [{"label": "alarm", "value": threshold}]}
        widgets.append(
            {"type": "metric", "x": 12 * (n % 2), "y": 6 * (n // 2), "width": 12, "height": 6, "properties": properties}
        )
    return json.dumps({"widgets": widgets}, separators=(",", ":"))

"""The alarms of movierec, defined once as data.

The same :data:`ALARMS` are created by the local bootstrap (``put_metric_alarm`` on moto or LocalStack),
evaluated locally by ``infra/alarm_evaluator.py`` (moto never evaluates alarms), and written into
``template.yaml`` by ``python -m infra.template_alarms`` (a test proves the template equals the render).

:meth:`AlarmSpec.properties` yields exactly the parameters of CloudWatch ``PutMetricAlarm``, which are
also the property names of ``AWS::CloudWatch::Alarm``; only the prefix, the stage and the Lambda
function names differ between the two targets, so they are passed in (plain strings locally,
CloudFormation intrinsics in the template).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from movierec.metrics import (
    CONSUMER_LAG, DEGRADED, DRIFT_RATING_PSI, DRIFT_RECO_POPULARITY_KS, DRIFT_UNSEEN, EXPERIMENT_ROLLBACK,
    HANDLER_FAILURES, HOT_USERS, LATENCY, LINES_ACCEPTED, LINES_REJECTED, LINES_UNKEYED, PARTITIONS_STOPPED, REQUESTS, REQUESTS_5XX, RSS_METRIC, SCRAPING_CALLERS,
    SHILLING_SUSPECTS, STREAM_ANSWERS, STREAM_ANSWERS_AVAILABLE,
)  # fmt: skip
from movierec.observability import NAMESPACE

#: Statistics GetMetricStatistics answers; anything else must be a percentile like ``p99``.
BASIC_STATS = ("Sum", "SampleCount", "Average", "Maximum", "Minimum")


@dataclass(frozen=True)
class LambdaMetric:
    """An ``AWS/Lambda`` metric of one of our functions (``ingest``/``recommend``)."""

    function: str
    metric: str


@dataclass(frozen=True)
class Query:
    """One metric an alarm or a dashboard panel reads: a movierec metric of one function, one statistic.

    ``aws_lambda`` is the ``AWS/Lambda`` metric that stands for this one on AWS, where the platform
    measures it and our code cannot: the Kafka event-source mapping's ``OffsetLag`` and the ingest
    function's ``Errors``. Locally the poller plays the event-source mapping and emits them itself as
    function ``ingest-poller``.
    """

    id: str
    metric: str
    function: str
    stat: str
    aws_lambda: LambdaMetric | None = None

    @property
    def is_percentile(self) -> bool:
        return self.stat not in BASIC_STATS

    def dimensions(self, stage: Any) -> list[dict[str, Any]]:
        return [{"Name": "function", "Value": self.function}, {"Name": "stage", "Value": stage}]

    def metric_stat(self, stage: Any, period_s: int, function_names: dict[str, Any] | None) -> dict[str, Any]:
        """The ``MetricStat`` of a metric-math alarm: movierec locally, ``AWS/Lambda`` where it stands in."""
        if function_names is not None and self.aws_lambda:
            metric = {
                "Namespace": "AWS/Lambda",
                "MetricName": self.aws_lambda.metric,
                "Dimensions": [{"Name": "FunctionName", "Value": function_names[self.aws_lambda.function]}],
            }
        else:
            metric = {"Namespace": NAMESPACE, "MetricName": self.metric, "Dimensions": self.dimensions(stage)}
        return {"Metric": metric, "Period": period_s, "Stat": self.stat}


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch alarm: either one metric (``expression`` None) or metric math over ``queries``.

    Expressions use only what :mod:`infra.alarm_evaluator` can compute as well as CloudWatch:
    ``+ - * /``, numbers, query ids, ``FILL(x, v)`` and ``DIFF(x)``.
    """

    name: str
    description: str
    queries: tuple[Query, ...]
    expression: str | None
    comparison: str
    threshold: float
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str = "notBreaching"

    def alarm_name(self, prefix: Any) -> Any:
        """``<prefix>-<name>`` (a plain string, or ``Fn::Sub`` when ``prefix`` is the template's parameter)."""
        if isinstance(prefix, str):
            return f"{prefix}-{self.name}"
        return {"Fn::Sub": "${Prefix}-" + self.name}

    def properties(self, prefix: Any, stage: Any, function_names: dict[str, Any] | None = None) -> dict[str, Any]:
        """PutMetricAlarm parameters (= ``AWS::CloudWatch::Alarm`` properties) for one deployment.

        ``function_names`` is given only for AWS (the template): it maps ``ingest``/``recommend`` to the
        deployed Lambda names so that :attr:`Query.aws_lambda` metrics can be selected.
        """
        props: dict[str, Any] = {
            "AlarmName": self.alarm_name(prefix),
            "AlarmDescription": self.description,
            "ComparisonOperator": self.comparison,
            "Threshold": self.threshold,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "TreatMissingData": self.treat_missing_data,
        }
        if self.expression is None:
            [q] = self.queries
            stat = q.metric_stat(stage, self.period_s, function_names)
            props.update(stat["Metric"], Period=self.period_s)
            props["ExtendedStatistic" if q.is_percentile else "Statistic"] = q.stat
            return props
        props["Metrics"] = [
            {"Id": q.id, "MetricStat": q.metric_stat(stage, self.period_s, function_names), "ReturnData": False}
            for q in self.queries
        ] + [{"Id": "result", "Expression": self.expression, "Label": self.name, "ReturnData": True}]
        return props


# Metric names come from movierec.metrics (one definition shared with the emitters).
POLLER = "ingest-poller"  # the function dimension of the local event-source mapping (infra/poller.py)

ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        name="recommend-availability",
        description="Success ratio (non-5xx answers) of GET /recommend below 99% over 5 minutes",
        queries=(
            Query("total", REQUESTS, "recommend", "Sum"),
            Query("errors", REQUESTS_5XX, "recommend", "Sum"),
        ),
        expression="100 * (1 - FILL(errors, 0) / total)",
        comparison="LessThanThreshold",
        threshold=99.0,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        # The course's own measure (movierec.logic.availability), from the stream's recommendation lines:
        # it sees what our API cannot (network, gateway, answers slower than the client waits).
        name="stream-availability",
        description="Availability as the course measures it (stream recommendation lines: status 200 within "
        "600 ms) below 99% in 3 of the last 5 minutes",
        queries=(
            Query("answers", STREAM_ANSWERS, "ingest", "Sum"),
            Query("available", STREAM_ANSWERS_AVAILABLE, "ingest", "Sum"),
        ),
        expression="100 * FILL(available, 0) / answers",
        comparison="LessThanThreshold",
        threshold=99.0,
        period_s=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    ),
    AlarmSpec(
        # Degraded answers are 200s, so the availability alarm cannot see a storage outage: this one does.
        name="recommend-degraded",
        description="Share of GET /recommend answered with the degraded popular list (storage or ranking "
        "failing or over the time budget) above 1% over 5 minutes",
        queries=(
            Query("total", REQUESTS, "recommend", "Sum"),
            Query("degraded", DEGRADED, "recommend", "Sum"),
        ),
        expression="100 * FILL(degraded, 0) / total",
        comparison="GreaterThanThreshold",
        threshold=1.0,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="recommend-latency-p99",
        description="p99 latency of GET /recommend above 800 ms in 3 of the last 5 minutes",
        queries=(Query("p99", LATENCY, "recommend", "p99"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=800.0,
        period_s=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    ),
    AlarmSpec(
        name="ingest-errors",
        description="The ingest function failed on a batch (it will be retried; look at its log)",
        queries=(Query("errors", HANDLER_FAILURES, POLLER, "Sum", aws_lambda=LambdaMetric("ingest", "Errors")),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="ingest-lag-growing",
        description="Kafka consumer lag of ingest grew in each of the last 10 minutes",
        queries=(Query("lag", CONSUMER_LAG, POLLER, "Maximum", aws_lambda=LambdaMetric("ingest", "OffsetLag")),),
        expression="DIFF(lag)",
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=60,
        evaluation_periods=10,
        datapoints_to_alarm=10,
    ),
    AlarmSpec(
        name="ingest-partition-stopped",
        description="A partition's applied watermark is ahead of the log's end (the broker lost its log): "
        "ingest stopped that partition instead of skipping what the broker now serves",
        queries=(Query("stopped", PARTITIONS_STOPPED, POLLER, "Maximum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="ingest-unkeyed",
        description="Stream lines arrive not keyed by their user id: partitions applied in parallel may then "
        "both write one user's items; key the producer by user, or apply with one writer (AWS: "
        "IngestMaxConcurrency=1; locally MOVIEREC_INGEST_WORKERS=1, the default); docs/ingest.md",
        queries=(Query("unkeyed", LINES_UNKEYED, "ingest", "Sum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="recommend-memory-growing",
        description="Resident memory of the recommend process grew by more than 1 MB in each of 6 periods of 5 min",
        queries=(Query("rss", RSS_METRIC, "recommend", "Maximum"),),
        expression="DIFF(rss)",
        comparison="GreaterThanThreshold",
        threshold=1.0,
        period_s=300,
        evaluation_periods=6,
        datapoints_to_alarm=6,
    ),
    AlarmSpec(
        name="drift-ratings",
        description="Strong drift of the rating distribution (PSI > 0.25) against the reference window",
        queries=(Query("psi", DRIFT_RATING_PSI, "drift", "Maximum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.25,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="drift-unseen-movies",
        description="More than 20% of the window's watches are of movies the index does not hold",
        queries=(Query("unseen", DRIFT_UNSEEN, "drift", "Maximum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.2,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="drift-recommendations",
        description="What we recommend drifted: the popularity percentiles of the recommended movies differ "
        "strongly (KS > 0.3) from the reference window's (a feedback loop or a broken ranker)",
        queries=(Query("ks", DRIFT_RECO_POPULARITY_KS, "drift", "Maximum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.3,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="experiment-rollback",
        description="A canary experiment breached its guardrails and was rolled back to control",
        queries=(Query("rollbacks", EXPERIMENT_ROLLBACK, "experiment", "Sum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
)


# --- security audit (docs/audits.md): the audit function's live signals and the ingest reject rate ------
AUDIT = "audit"  # the audit function (functions/audit/app.py)

AUDIT_ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        name="audit-shilling",
        description="A movie got a burst of high ratings from many new or low-activity accounts (rating spam)",
        queries=(Query("suspects", SHILLING_SUSPECTS, AUDIT, "Maximum"),),
        expression=None,
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="audit-scraping",
        description="A caller enumerated many users' recommendations, or one user was polled far above normal",
        queries=(Query("callers", SCRAPING_CALLERS, AUDIT, "Maximum"), Query("hot", HOT_USERS, AUDIT, "Maximum")),
        expression="FILL(callers, 0) + FILL(hot, 0)",
        comparison="GreaterThanThreshold",
        threshold=0.0,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    AlarmSpec(
        name="ingest-reject-rate",
        description="More than 5% of the stream lines of 5 minutes were rejected (injected or corrupted lines)",
        queries=(Query("accepted", LINES_ACCEPTED, "ingest", "Sum"), Query("rejected", LINES_REJECTED, "ingest", "Sum")),
        expression="100 * FILL(rejected, 0) / (FILL(accepted, 0) + FILL(rejected, 0))",
        comparison="GreaterThanThreshold",
        threshold=5.0,
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
)
ALARMS = ALARMS + AUDIT_ALARMS


def alarm(name: str) -> AlarmSpec:
    """The alarm called ``name`` (logical name, without prefix)."""
    for spec in ALARMS:
        if spec.name == name:
            return spec
    raise KeyError(f"no alarm {name!r}; known: {', '.join(a.name for a in ALARMS)}")

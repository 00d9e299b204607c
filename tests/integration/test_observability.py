"""Metrics and alarms against the real moto server: EMF -> PutMetricData, percentiles, alarm evaluation.

Metrics are emitted through ``make_metrics`` exactly as the functions emit them; the publisher, the
evaluator and the CloudWatch they talk to are the real ones (moto server over HTTP).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from movierec import aws, observability
from movierec.alarms import ALARMS, alarm
from movierec.metrics import LATENCY, REQUESTS, REQUESTS_5XX, RSS_METRIC
from movierec.config import Settings
from movierec.observability import NAMESPACE, MetricUnit, make_metrics
from infra.alarm_evaluator import AlarmEvaluator, decide, read_history
from infra.bootstrap import ensure_alarms
from infra.emf import MetricsPublisher, emf_of_line
from infra.metric_series import evaluate
from infra.percentiles import series_key
from tests.fixtures.observability import serve, stats
def test_emf_from_make_metrics_arrives_in_cloudwatch_with_right_values(
    observed: Settings, publisher: MetricsPublisher
) -> None:
    metrics = make_metrics("recommend")
    for i in range(100):
        serve(metrics, 500 if i % 10 == 0 else 200, latency_ms=float(i + 1))
    assert publisher.flush() > 0
    assert stats(observed, REQUESTS, "recommend", "Sum") == 100
    assert stats(observed, REQUESTS_5XX, "recommend", "Sum") == 10
    assert stats(observed, LATENCY, "recommend", "SampleCount") == 100
    assert stats(observed, LATENCY, "recommend", "Maximum") == 100
    assert stats(observed, LATENCY, "recommend", "Average") == pytest.approx(50.5)
    rss = stats(observed, RSS_METRIC, "recommend", "Maximum")
    assert rss is not None and 10 < rss < 24 * 1024
    # Percentiles come from the raw values the publisher kept (moto has none): exact at this size.
    key = series_key(NAMESPACE, LATENCY, {"function": "recommend", "stage": observed.stage})
    now = time.time()
    assert publisher.percentiles.percentile(key, 50, now - 600, now + 60) == (50.0, 100)
    assert publisher.percentiles.percentile(key, 99, now - 600, now + 60) == (99.0, 100)
    assert publisher.stats.documents == 100 and publisher.stats.malformed == 0


def test_child_log_file_is_followed_like_a_log_stream(
    observed: Settings, publisher: MetricsPublisher, tmp_path: Path
) -> None:
    """The API's path under ``make up``: the child's stdout is its log file; only new lines count."""
    log_file = tmp_path / "api.log"
    log_file.write_text('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "from": "an earlier run"}\n')
    publisher.follow(log_file)
    program = (
        "from movierec.observability import make_metrics, MetricUnit\n"
        "m = make_metrics('recommend')\n"
        "for i in range(4):\n"
        "    print('request', i)\n"
        "    m.add_metric(name='Requests', unit=MetricUnit.Count, value=1); m.flush_metrics()\n"
    )
    with log_file.open("ab") as out:
        subprocess.run([sys.executable, "-c", program], stdout=out, stderr=subprocess.STDOUT, check=True)
    lines = log_file.read_text().splitlines()
    assert [emf_of_line(line) is not None for line in lines[1:4]] == [False, True, False]  # logs stay logs
    assert emf_of_line('{"_aws": broken json') is None
    publisher.flush()
    assert publisher.stats.documents == 4
    assert stats(observed, REQUESTS, "recommend", "Sum") == 4


def test_malformed_document_is_counted_not_fatal(observed: Settings, publisher: MetricsPublisher) -> None:
    observability.emf_output().emit({"_aws": {"Timestamp": "soon"}})
    metrics = make_metrics("ingest")
    metrics.add_metric(name="LinesAccepted", unit=MetricUnit.Count, value=7)
    metrics.flush_metrics()
    publisher.flush()
    assert publisher.stats.malformed == 1
    assert stats(observed, "LinesAccepted", "ingest", "Sum") == 7


def test_two_functions_in_one_process_keep_their_own_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    """Powertools shares metric state across Metrics objects; ours must not mix ingest with recommend."""
    ingest, recommend = make_metrics("ingest"), make_metrics("recommend")
    ingest.add_metric(name="LinesAccepted", unit=MetricUnit.Count, value=2)
    recommend.add_metric(name=REQUESTS, unit=MetricUnit.Count, value=1)
    ingest.flush_metrics()
    recommend.flush_metrics()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    docs = [json.loads(line) for line in lines]
    assert [(d["function"], "LinesAccepted" in d, REQUESTS in d) for d in docs] == [
        ("ingest", True, False),
        ("recommend", False, True),
    ]
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function", "stage"]] for d in docs)


def test_metric_math_like_cloudwatch() -> None:
    series = {"total": [10.0, None, 4.0, 0.0], "errors": [None, 1.0, 2.0, None]}
    assert evaluate("100 * (1 - FILL(errors, 0) / total)", series, 4) == [100.0, None, 50.0, None]
    assert evaluate("DIFF(total)", series, 4) == [None, None, None, -4.0]
    with pytest.raises(ValueError, match="unsupported"):
        evaluate("__import__('os')", series, 4)


def test_decide_follows_datapoints_to_alarm_and_missing_data() -> None:
    lag = alarm("ingest-lag-growing")
    growing = [None] + [5.0] * 10
    assert decide(lag, growing).state == "ALARM"
    assert decide(lag, growing[:-1] + [0.0]).state == "OK"  # one flat minute: not "growing for 10 minutes"
    assert decide(lag, [None] * 11).state == "OK"  # no data: notBreaching


def test_bootstrap_creates_the_alarms_once(observed: Settings) -> None:
    first = ensure_alarms(observed)  # the fixture's bootstrap created them already
    assert [o.created for o in first] == [False] * len(ALARMS)
    described = aws.client("cloudwatch", observed).describe_alarms(AlarmNamePrefix=f"{observed.prefix}-")
    by_name = {a["AlarmName"]: a for a in described["MetricAlarms"]}
    avail = by_name[f"{observed.prefix}-recommend-availability"]
    assert avail["Threshold"] == 99.0 and avail["ComparisonOperator"] == "LessThanThreshold"
    assert {m["Id"] for m in avail["Metrics"]} == {"total", "errors", "result"}
    assert by_name[f"{observed.prefix}-recommend-latency-p99"]["ExtendedStatistic"] == "p99"


def _state(settings: Settings, name: str) -> str:
    full = f"{settings.prefix}-{name}"
    [a] = aws.client("cloudwatch", settings).describe_alarms(AlarmNames=[full])["MetricAlarms"]
    return a["StateValue"]


def test_evaluator_sets_availability_and_latency_alarms_and_clears_them(
    observed: Settings, publisher: MetricsPublisher
) -> None:
    evaluator = AlarmEvaluator(observed, store=publisher.percentiles)
    metrics = make_metrics("recommend")
    for i in range(20):
        serve(metrics, 503 if i < 2 else 200, latency_ms=900.0 if i < 5 else 20.0)
    publisher.flush()
    verdicts = {v.alarm: v for v in evaluator.evaluate_once()}
    assert verdicts["recommend-availability"].values[-1] == pytest.approx(90.0)
    assert _state(observed, "recommend-availability") == "ALARM"
    assert _state(observed, "recommend-latency-p99") == "OK"  # one bad minute of the 3 needed
    # Enough good answers bring the 5-minute success ratio back above 99%.
    for _ in range(230):
        serve(metrics, 200, latency_ms=20.0)
    publisher.flush()
    verdicts = {v.alarm: v for v in evaluator.evaluate_once()}
    assert verdicts["recommend-availability"].values[-1] == pytest.approx(100 * (1 - 2 / 250))
    assert _state(observed, "recommend-availability") == "OK"
    name = f"{observed.prefix}-recommend-availability"
    changes = [(h["from"], h["state"]) for h in read_history(observed.run_dir) if h["alarm"] == name]
    assert changes == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]  # a new alarm starts as on AWS

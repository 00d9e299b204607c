"""``movierec monitor``: the terminal view and the PNG dashboard, from metrics emitted with make_metrics.

Half an hour of history is emitted through the real path (``make_metrics`` -> publisher -> moto
CloudWatch) with Powertools' ``set_timestamp``, so the charts have something to draw.
"""

from __future__ import annotations

import time
from pathlib import Path

from aws_lambda_powertools import Metrics

from movierec.config import Settings
from movierec.observability import MetricUnit, make_metrics
from infra.alarm_evaluator import AlarmEvaluator
from infra.cli import main as cli_main
from infra.emf import MetricsPublisher
from infra.monitor import current_figures, draw_png, render_text
from tests.fixtures.observability import serve
MINUTES = 30


def _history(now: float) -> None:
    """30 minutes: steady traffic, a burst of 5xx 10 minutes ago, ingest with some rejects, growing lag."""
    recommend, ingest, poller = make_metrics("recommend"), make_metrics("ingest"), make_metrics("ingest-poller")
    for minute in range(MINUTES):
        at_ms = int((now - (MINUTES - minute) * 60 + 30) * 1000)  # mid-minute: clear of window edges
        for i in range(20):
            _stamp(recommend, at_ms)
            serve(recommend, 500 if minute == MINUTES - 10 and i < 6 else 200, latency_ms=10.0 + i + minute)
        _stamp(ingest, at_ms)
        ingest.add_metric(name="LinesAccepted", unit=MetricUnit.Count, value=400 + 10 * minute)
        ingest.add_metric(name="LinesRejected", unit=MetricUnit.Count, value=3)
        ingest.add_metric(name="LinesRejected_bad_user_id", unit=MetricUnit.Count, value=2)
        ingest.add_metric(name="LinesRejected_empty", unit=MetricUnit.Count, value=1)
        ingest.add_metric(name="HandlerDuration", unit=MetricUnit.Milliseconds, value=120.0)
        ingest.flush_metrics()
        _stamp(poller, at_ms)
        poller.add_metric(name="ConsumerLag", unit=MetricUnit.Count, value=50 * minute)
        poller.flush_metrics()


def _stamp(metrics: Metrics, at_ms: int) -> None:
    metrics.set_timestamp(at_ms)


def test_terminal_view_shows_current_figures_rejects_and_alarms(
    observed: Settings, publisher: MetricsPublisher
) -> None:
    now = time.time()
    _history(now)
    publisher.flush()
    AlarmEvaluator(observed, store=publisher.percentiles).evaluate_once(now)
    figures = {(f.section, f.label): f.value for f in current_figures(observed, publisher.percentiles, now)}
    # the last 5 minutes hold 5 x 20 requests, no errors, latencies 10+i+minute for minutes 25..29
    assert figures[("Recommend requests per minute", "all")] == 20
    assert figures[("Recommend requests per minute", "5xx")] is None
    assert figures[("Recommend success ratio", "non-5xx share")] == 100.0
    last_five = sorted(10.0 + i + m for m in range(MINUTES - 5, MINUTES) for i in range(20))
    assert figures[("Recommend latency", "p99")] == last_five[98]  # the 99th of 100 values
    assert figures[("Ingest lines per minute", "accepted")] == sum(400 + 10 * m for m in range(25, 30)) / 5
    assert figures[("Ingest consumer lag", "lag")] == 50 * 29
    assert figures[("Process memory (RSS)", "recommend")] > 10
    text = render_text(observed, publisher.percentiles, now)
    assert "bad_user_id" in text and "empty" in text
    assert f"{observed.prefix}-ingest-lag-growing" in text
    lag_line = next(line for line in text.splitlines() if "ingest-lag-growing" in line)
    assert "ALARM" in lag_line  # lag grew in each of the last 10 minutes
    avail_line = next(line for line in text.splitlines() if "recommend-availability" in line)
    assert " OK " in avail_line  # the 5xx burst is 10 minutes old: outside the 5-minute window


def test_png_dashboard_is_drawn(observed: Settings, publisher: MetricsPublisher, tmp_path: Path) -> None:
    now = time.time()
    _history(now)
    publisher.flush()
    png = draw_png(observed, publisher.percentiles, tmp_path / "dash.png", minutes=40, now=now)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000


def test_cli_monitor_runs(observed: Settings, publisher: MetricsPublisher, tmp_path: Path, capsys) -> None:
    serve(make_metrics("recommend"), 200, 5.0)
    publisher.flush()
    assert cli_main(["monitor"]) == 0
    out = capsys.readouterr().out
    assert "Recommend requests per minute" in out and "Alarms" in out
    assert cli_main(["monitor", "--png", str(tmp_path / "m.png"), "--minutes", "10"]) == 0
    assert (tmp_path / "m.png").exists()

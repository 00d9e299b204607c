"""``movierec dashboard`` in a real headless Chromium (the OS package, driven by chromium-driver).

Known figures go into the moto CloudWatch of the test stack (counts with PutMetricData; request
latencies through the metrics publisher, which also keeps the percentiles moto cannot compute); the
dashboard server runs on a free port; the browser loads the page and waits until it has drawn. Then the
page must show the figures the metrics hold, both as the numbers it prints and as the data of its
plotly.js charts, must redraw on its own when a new datapoint arrives, and its console must stay clean.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from movierec import aws
from movierec.config import Settings
from movierec.dashboard import PANELS
from movierec.metrics import (
    CONSUMER_LAG, DRIFT_RATING_PSI, LATENCY, LINES_ACCEPTED, LINES_REJECTED, REQUESTS, REQUESTS_5XX,
)  # fmt: skip
from movierec.observability import NAMESPACE, MetricUnit, make_metrics
from infra.alarm_evaluator import AlarmEvaluator
from infra.dashboard_server import DashboardServer, PageOptions
from infra.emf import MetricsPublisher
from infra.stack import free_port
from tests.fixtures.ingest import wait_until
from tests.fixtures.timeouts import SHORT_S, TEST_TIMEOUT_S

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _minute(now: float, ago: int) -> float:
    """The start of the whole minute ``ago`` minutes before the one holding ``now``."""
    return math.floor(now / 60) * 60 - 60 * ago


def _put(settings: Settings, metric: str, function: str, at: float, value: float, unit: str = "Count") -> None:
    aws.client("cloudwatch", settings).put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "function", "Value": function}, {"Name": "stage", "Value": settings.stage}],
                "Timestamp": dt.datetime.fromtimestamp(at, dt.timezone.utc),
                "Value": value,
                "Unit": unit,
            }
        ],
    )


def _stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "chromium and chromium-driver are not installed (make chromium installs them, as root)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # the given driver: no download
    driver.set_page_load_timeout(TEST_TIMEOUT_S)
    driver.set_script_timeout(TEST_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def dashboard(observed: Settings) -> Iterator[DashboardServer]:
    server = DashboardServer(observed, "127.0.0.1", 0, PageOptions(refresh_s=SHORT_S, minutes=30))
    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TEST_TIMEOUT_S)


def _figures(driver: Any) -> dict[tuple[str, str], float | None]:
    """(panel title, line label) -> the number the page prints for it (its data-value)."""
    found = driver.execute_script(
        """return [...document.querySelectorAll('#panels section')].flatMap(card =>
             [...card.querySelectorAll('.figure')].map(f => [card.dataset.title, f.dataset.line, f.dataset.value]));"""
    )
    return {(title, line): (float(value) if value != "" else None) for title, line, value in found}


def _chart(driver: Any, title: str) -> dict[str, dict[str, float | None]]:
    """line label -> {time: value} of the plotly.js traces drawn in the panel ``title``."""
    traces = driver.execute_script(
        """const card = [...document.querySelectorAll('#panels section')].find(c => c.dataset.title === arguments[0]);
           return card.querySelector('.chart').data.map(t => [t.name, t.x, t.y]);""",
        title,
    )
    return {name: dict(zip(xs, ys)) for name, xs, ys in traces}


def test_dashboard_page_shows_the_metrics_in_headless_chromium(
    observed: Settings, dashboard: DashboardServer, browser: Any
) -> None:
    now = time.time()
    k1, k2, k3 = (_minute(now, k) for k in (1, 2, 3))  # three whole minutes just past
    for at, total, errors in ((k3, 20, 0), (k2, 30, 3), (k1, 40, 4)):
        _put(observed, REQUESTS, "recommend", at + 30, total)
        if errors:
            _put(observed, REQUESTS_5XX, "recommend", at + 30, errors)
    _put(observed, LINES_ACCEPTED, "ingest", k1 + 30, 500)
    _put(observed, LINES_REJECTED, "ingest", k1 + 30, 7)
    _put(observed, "LinesRejected_bad_user_id", "ingest", k1 + 30, 5)
    _put(observed, "LinesRejected_empty", "ingest", k1 + 30, 2)
    _put(observed, CONSUMER_LAG, "ingest-poller", k1 + 30, 1234)
    _put(observed, DRIFT_RATING_PSI, "drift", k1 + 30, 0.31)  # strong drift: above the alarm's 0.25
    # Latencies 1..100 ms take the real local path (EMF -> publisher -> PutMetricData + percentile store).
    publisher = MetricsPublisher(observed, interval_s=3600)
    publisher.start()
    try:
        recommend = make_metrics("recommend")
        for ms in range(1, 101):
            recommend.set_timestamp(int((k1 + 20) * 1000))
            recommend.add_metric(name=LATENCY, unit=MetricUnit.Milliseconds, value=float(ms))
            recommend.flush_metrics()
        publisher.flush()
        AlarmEvaluator(observed, store=publisher.percentiles).evaluate_once(time.time())
    finally:
        publisher.stop()

    browser.get(dashboard.url)
    assert wait_until(lambda: browser.execute_script("return window.dashboard.updates") >= 1), "page never drew"

    assert len(browser.find_elements("css selector", "#panels section")) == len(PANELS)
    figures = _figures(browser)
    assert figures[("Recommend requests per minute", "all")] == 40
    assert figures[("Recommend requests per minute", "5xx")] == 4
    assert figures[("Recommend success ratio", "non-5xx share")] == pytest.approx(90.0)
    assert figures[("Recommend latency", "p50")] == 50 and figures[("Recommend latency", "p99")] == 99
    assert figures[("Ingest lines per minute", "accepted")] == 500
    assert figures[("Ingest lines per minute", "rejected")] == 7
    assert figures[("Ingest consumer lag", "lag")] == 1234
    assert figures[("Drift scores", "rating PSI")] == pytest.approx(0.31)
    assert figures[("Canary rollbacks", "rollbacks")] is None  # nothing rolled back: no data

    requests = _chart(browser, "Recommend requests per minute")
    assert {t: requests["all"][_stamp(t)] for t in (k3, k2, k1)} == {k3: 20, k2: 30, k1: 40}
    assert requests["5xx"][_stamp(k3)] == 0  # a count without data counted nothing
    success = _chart(browser, "Recommend success ratio")["non-5xx share"]
    assert [success[_stamp(t)] for t in (k3, k2, k1)] == pytest.approx([100.0, 90.0, 90.0])
    # every panel drew one SVG trace per line
    for i, panel in enumerate(PANELS):
        drawn = browser.execute_script(f"return document.querySelectorAll('#panel-{i} .scatterlayer .trace').length")
        assert drawn == len(panel.lines), panel.title

    drift_badge = browser.find_element("css selector", "section[data-title='Drift scores'] h2 .state").text
    assert drift_badge == "ALARM"
    row = browser.find_element("css selector", f"tr[data-alarm='{observed.prefix}-drift-ratings']")
    assert row.get_attribute("data-state") == "ALARM"
    rejects = browser.execute_script("const t = document.getElementById('rejects').data[0]; return [t.y, t.x];")
    assert dict(zip(*rejects)) == {"bad_user_id": 5, "empty": 2}

    # The page redraws by itself: a new datapoint shows up without a reload.
    _put(observed, CONSUMER_LAG, "ingest-poller", time.time(), 4321)
    assert wait_until(lambda: _figures(browser)[("Ingest consumer lag", "lag")] == 4321), "the page did not refresh"

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=TEST_TIMEOUT_S) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_series_endpoint_refuses_bad_spans_and_hides_cloudwatch_failures(observed: Settings, dashboard: DashboardServer) -> None:
    assert _get(dashboard.url + "api/series?minutes=0")[0] == 400
    assert _get(dashboard.url + "api/series?minutes=x")[0] == 400
    assert _get(dashboard.url + "nothing-here") == (404, {"error": "not found"})
    status, body = _get(dashboard.url + "api/series?minutes=5")
    assert status == 200 and [p["title"] for p in body["panels"]] == [p.title for p in PANELS]
    assert all(len(p["times"]) == 5 for p in body["panels"])
    # CloudWatch unreachable: a 503 that names neither the endpoint nor the exception.
    dead = f"http://127.0.0.1:{free_port()}"
    down = DashboardServer(replace(observed, aws_endpoint_url=dead), "127.0.0.1", 0, PageOptions(minutes=5))
    thread = threading.Thread(target=down.serve_forever, daemon=True)
    thread.start()
    try:
        status, body = _get(down.url + "api/series")
    finally:
        down.shutdown()
        down.server_close()
    assert status == 503 and body == {"error": "CloudWatch did not answer; the page retries"}

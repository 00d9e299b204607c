"""End to end on the real local stack: stream -> poller -> ingest handler, HTTP -> ``chalice local`` ->
recommend app; their EMF reaches moto's CloudWatch through the components ``make up`` runs
(``infra.up.components``), and the availability alarm goes to ALARM under an injected storage failure
and back to OK once good answers dominate again.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from movierec import aws
from movierec.alarms import alarm
from movierec.config import Settings
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from movierec.observability import NAMESPACE
from infra.alarm_evaluator import AlarmEvaluator, read_history
from infra.api_server import ApiServer
from infra.bootstrap import bootstrap
from infra.emf import MetricsPublisher, emf_of_line
from infra.scheduled import GaugeSampler
from infra.percentiles import series_key
from infra.poller import Poller
from infra.stack import free_port
from infra.up import components
from tests.fixtures.ingest import produce_lines, wait_until
from tests.fixtures.observability import stats
from tests.fixtures.timeouts import TEST_TIMEOUT_S
NOISE = [  # one line per rejection reason: bad timestamp, empty, not UTF-8, bad user id
    b"2022-1k0-28T04:23:23,90586,GET /data/m/heat+1995/155.mpg",
    b"",
    b"\xff\xfe,1,GET /rate/x=1",
    b"2022-10-28T04:23:24,24f162,GET /data/m/heat+1995/2.mpg",
]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TEST_TIMEOUT_S) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _state(settings: Settings, name: str) -> str:
    [a] = aws.client("cloudwatch", settings).describe_alarms(AlarmNames=[f"{settings.prefix}-{name}"])["MetricAlarms"]
    return a["StateValue"]


@pytest.mark.slow
def test_traffic_with_failures_reaches_cloudwatch_and_drives_the_availability_alarm(
    observed: Settings, published: BuildResult, settings: Settings, tmp_path: Path
) -> None:
    s = dataclasses.replace(
        settings, api_port=free_port(), run_dir=tmp_path / "run", batch_window_s=0.2,
        kafka_group=f"g-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    metrics, evaluator, gauges = components(s)[:3]
    assert isinstance(metrics, MetricsPublisher) and isinstance(evaluator, AlarmEvaluator)
    assert isinstance(gauges, GaugeSampler)
    api, poller = ApiServer(s, start_timeout_s=TEST_TIMEOUT_S), Poller(s)
    running = []
    try:
        for part in (metrics, evaluator, gauges, api, poller):  # the order of `make up`
            part.start()
            running.append(part)

        # --- ingest: 30 valid lines of 10 users, 4 noisy ones -------------------------------------
        movies = load_index(published.folder).ids[:3]
        valid = [f"2025-02-12T05:11:{u:02d},{u},GET /data/m/{m}/{k}.mpg".encode()
                 for u in range(1, 11) for k, m in enumerate(movies)]  # fmt: skip
        produce_lines(s, valid + NOISE)
        assert wait_until(lambda: poller.stats.records >= len(valid) + len(NOISE)), poller.stats
        gauged = gauges.tick()  # what the schedule does every minute
        assert gauged["QuarantineSize"] == len(NOISE) and 0 <= gauged["IndexAgeSeconds"] < 3600

        # --- recommend: 30 good answers, 3 bad requests, then 2 degraded ones (history table gone) ----
        base = f"{s.api_url}/recommend"
        statuses = [_status(f"{base}/{u}") for u in range(1, 11) for _ in range(3)]
        statuses += [_status(f"{base}/{bad}") for bad in ("abc", "-1", "12345678901")]
        aws.client("dynamodb", s).delete_table(TableName=s.table("history"))
        statuses += [_status(f"{base}/{u}") for u in (1, 2)]
        assert statuses == [200] * 30 + [400] * 3 + [200] * 2  # degraded, not failed: the popular list

        metrics.flush()
        verdicts = {v.alarm: v for v in evaluator.evaluate_once()}
        assert verdicts["recommend-degraded"].values[-1] == pytest.approx(100 * 2 / 35)
        assert _state(s, "recommend-degraded") == "ALARM"
        assert verdicts["recommend-availability"].values[-1] == pytest.approx(100.0)
        assert _state(s, "recommend-availability") == "OK"

        # The figures in CloudWatch are exactly the traffic we drove.
        assert stats(s, "Requests", "recommend", "Sum") == 35
        assert stats(s, "Requests2xx", "recommend", "Sum") == 32
        assert stats(s, "Requests4xx", "recommend", "Sum") == 3
        assert stats(s, "Degraded", "recommend", "Sum") == 2
        assert stats(s, "LinesAccepted", "ingest", "Sum") == len(valid)
        assert stats(s, "LinesRejected", "ingest", "Sum") == len(NOISE)
        assert stats(s, "ColdStart", "recommend", "Sum") == 1
        assert stats(s, "QuarantineSize", "gauges", "Maximum") == len(NOISE)
        assert stats(s, "IndexAgeSeconds", "gauges", "Maximum") == pytest.approx(gauged["IndexAgeSeconds"])
        # ...with the latencies the serving process logged (Maximum from CloudWatch, p99 from our store).
        logged = [
            v
            for line in (s.run_dir / "logs" / "api.log").read_text().splitlines()
            if (doc := emf_of_line(line)) is not None and "Latency" in doc
            for v in doc["Latency"]
        ]
        assert len(logged) == 35
        assert stats(s, "Latency", "recommend", "Maximum") == pytest.approx(max(logged))
        key = series_key(NAMESPACE, "Latency", {"function": "recommend", "stage": s.stage})
        p99, count = metrics.percentiles.percentile(key, 99, time.time() - 600, time.time() + 60)
        assert count == 35 and p99 == sorted(logged)[-1]  # 35 values: the 99th percentile is the largest
        # the serving process's memory, as measured inside chalice local (lancedb + pyarrow loaded)
        assert stats(s, "ProcessRSS", "recommend", "Maximum") > 100

        # --- recovery: storage back, good answers bring the 5-minute ratio back over 99% ------------
        bootstrap(s)
        recovered = [_status(f"{base}/{u % 10 + 1}") for u in range(180)]
        assert recovered == [200] * 180
        metrics.flush()
        verdict = {v.alarm: v for v in evaluator.evaluate_once()}["recommend-degraded"]
        assert verdict.values[-1] == pytest.approx(100 * 2 / 215)
        assert verdict.values[-1] <= alarm("recommend-degraded").threshold
        assert _state(s, "recommend-degraded") == "OK"
        name = f"{s.prefix}-recommend-degraded"
        # every change (each alarm's first evaluation is one too, so the default last 20 would cut)
        changes = [(h["from"], h["state"]) for h in read_history(s.run_dir, last=10_000) if h["alarm"] == name]
        # A new alarm starts as on AWS (INSUFFICIENT_DATA). The evaluator's own 15 s tick may judge it OK
        # before the failures are sent (a slow, loaded run); after that the history is the failures'.
        if changes[:1] == [("INSUFFICIENT_DATA", "OK")]:
            changes = changes[1:]
            assert changes[:1] == [("OK", "ALARM")], changes
        else:
            assert changes[:1] == [("INSUFFICIENT_DATA", "ALARM")], changes
        assert changes[1:] == [("ALARM", "OK")], changes
    finally:
        for part in reversed(running):
            part.stop()
    assert json.loads((s.run_dir / "metrics" / "percentiles.json").read_text())  # the monitor's input saved

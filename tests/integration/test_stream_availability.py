"""Availability as the course measures it, end to end: stream lines -> ingest handler -> CloudWatch -> alarm.

The real ingest handler applies a Kafka batch holding the course's ``recommendation request`` lines; its
EMF goes through the real publisher into the moto server; the local evaluator judges the
``stream-availability`` alarm on what moto holds, and ``movierec monitor`` shows the figure beside the
API's own one. Two earlier minutes are emitted by the handler's own emitting function with Powertools'
``set_timestamp`` (the alarm needs 3 bad minutes of 5, and a test cannot wait three minutes).
"""

from __future__ import annotations

import time

import pytest

from movierec import aws
from movierec.alarms import Query, alarm
from movierec.config import Settings
from movierec.metrics import STREAM_ANSWERS, STREAM_ANSWERS_AVAILABLE, STREAM_LATENCY
from infra.alarm_evaluator import AlarmEvaluator
from infra.emf import MetricsPublisher
from infra.handlers import load_handler
from infra.metric_series import Window, compute
from infra.monitor import current_figures
from infra.percentiles import series_key
from movierec.observability import NAMESPACE
from tests.fixtures.ingest import kafka_event

SERVER = "fall2022-comp585-5.cs.mcgill.ca:8082"


def _reco(user: int, status: int, ms: int, second: int = 0) -> bytes:
    result = "the+shawshank+redemption+1994, interstellar+2014" if status == 200 else "error"
    return f"2022-10-28T04:23:{second:02d}.097,{user},recommendation request {SERVER}, status {status}, result: {result}, {ms} ms".encode()


#: 10 answers: 6 in time, 2 slow 200s (over the course's 600 ms), a 500 and a request with no answer (0);
#: plus a duplicated message (same line twice, counted once) and lines of other kinds around them.
BATCH = [
    b"2022-10-28T04:23:01,7,GET /data/m/heat+1995/3.mpg",
    *[_reco(100 + i, 200, 40 + i, i) for i in range(6)],
    _reco(106, 200, 700, 6),
    _reco(107, 200, 1200, 7),
    _reco(108, 500, 15, 8),
    _reco(109, 0, 5000, 9),
    _reco(100, 200, 40, 0),  # the first answer delivered twice
    b"2022-10-28T04:23:02,7,GET /rate/heat+1995=4",
    b"2022-10-28T04:23:02,-7,GET /rate/heat+1995=4",  # a rejected line: no answer
]


def _since(settings: Settings, metric: str, since: float) -> float | None:
    """The metric's Sum from ``since`` (minus 30 s: the handler flushed just before) to this second."""
    span = int(time.time() - since) + 31
    [value] = compute(settings, (Query("m", metric, "ingest", "Sum"),), None, Window.ending_now(span, 1))
    return value


def _state(settings: Settings, name: str) -> str:
    [a] = aws.client("cloudwatch", settings).describe_alarms(AlarmNames=[f"{settings.prefix}-{name}"])["MetricAlarms"]
    return a["StateValue"]


def test_stream_answers_become_the_course_availability_metric_and_alarm(
    observed: Settings, publisher: MetricsPublisher
) -> None:
    emit = load_handler("ingest", "emit_stream_availability")
    handler_metrics = emit.__globals__["metrics"]
    handler = emit.__globals__["handler"]
    summary = handler(kafka_event(BATCH, topic=observed.kafka_topic, first_offset=10), None)
    now = time.time()  # the handler's metrics carry the time it flushed them: just before now
    assert summary["accepted"] == 13 and summary["rejected"] == {"bad_user_id": 1}
    for seconds_ago in (150, 90):  # two earlier bad minutes (mid-period): 8 of 10 available
        handler_metrics.set_timestamp(int((now - seconds_ago) * 1000))
        emit([(200, 50)] * 8 + [(500, 10), (200, 900)])
        handler_metrics.flush_metrics()
    publisher.flush()

    assert _since(observed, STREAM_ANSWERS, now) == 10
    assert _since(observed, STREAM_ANSWERS_AVAILABLE, now) == 6
    key = series_key(NAMESPACE, STREAM_LATENCY, {"function": "ingest", "stage": observed.stage})
    assert publisher.percentiles.percentile(key, 99, now - 30, now + 1)[0] == 5000.0

    verdicts = {v.alarm: v for v in AlarmEvaluator(observed, store=publisher.percentiles).evaluate_once(now)}
    spec = alarm("stream-availability")
    assert verdicts[spec.name].values[-3:] == pytest.approx([80.0, 80.0, 60.0])
    assert _state(observed, spec.name) == "ALARM"

    # `movierec monitor`: the course's figure over the last 5 minutes (22 of 30) beside the API's (no traffic).
    figures = {(f.section, f.label): f.value for f in current_figures(observed, publisher.percentiles, now)}
    panel = "Availability: course (stream) vs API"
    assert figures[(panel, "stream: 200 within 600 ms")] == pytest.approx(100 * 22 / 30)
    assert figures[(panel, "API: non-5xx")] is None

    # The same batch delivered again is skipped by ingest and counts nothing twice.
    again = handler(kafka_event(BATCH, topic=observed.kafka_topic, first_offset=10), None)
    assert again["skipped"] == len(BATCH) and again["accepted"] == 0
    publisher.flush()
    assert _since(observed, STREAM_ANSWERS, now) == 10

"""Alarm state changes reach a person: the local evaluator posts each one to a webhook, once.

The receiver is a real HTTP server (``http.server``) on a free port, the evaluator the real one against
the moto server, its alarms driven into ALARM and back to OK by metrics emitted like the recommend
function emits them (the same traffic as test_observability's availability test).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from movierec.alarms import alarm
from movierec.config import Settings, get_settings
from movierec.observability import make_metrics
from infra.alarm_evaluator import AlarmEvaluator, read_history
from infra.alerts import WebhookNotifier
from infra.emf import MetricsPublisher
from infra.stack import free_port
from tests.fixtures.observability import serve


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every JSON body; answers ``status`` (200 = accept)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append({"content_type": self.headers["Content-Type"], **json.loads(body)})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/movierec"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def alerted(observed: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The observed stage with MOVIEREC_ALERT_WEBHOOK_URL pointing at the receiver."""
    monkeypatch.setenv("MOVIEREC_ALERT_WEBHOOK_URL", receiver.url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_each_state_change_posts_exactly_one_slack_message(
    alerted: Settings, receiver: Receiver, publisher: MetricsPublisher
) -> None:
    assert alerted.alert_webhook_url == receiver.url and "hooks" not in str(alerted.describe())
    evaluator = AlarmEvaluator(alerted, store=publisher.percentiles)  # the webhook comes from the settings
    name = f"{alerted.prefix}-recommend-availability"
    metrics = make_metrics("recommend")
    for i in range(20):
        serve(metrics, 503 if i < 2 else 200, latency_ms=20.0)
    publisher.flush()
    evaluator.evaluate_once()
    evaluator.evaluate_once()  # no change the second time: no second message
    mine = [b for b in receiver.bodies if b["alarm"] == name]
    assert len(mine) == 1, receiver.bodies
    [to_alarm] = mine
    assert (to_alarm["state"], to_alarm["previous_state"]) == ("ALARM", "INSUFFICIENT_DATA")
    assert to_alarm["content_type"] == "application/json"
    assert name in to_alarm["text"] and "is ALARM" in to_alarm["text"]
    assert to_alarm["description"] == alarm("recommend-availability").description
    assert to_alarm["stage"] == alerted.stage and "values [90]" in to_alarm["reason"]

    for _ in range(230):  # back above 99% over the 5-minute period
        serve(metrics, 200, latency_ms=20.0)
    publisher.flush()
    evaluator.evaluate_once()
    states = [(b["previous_state"], b["state"]) for b in receiver.bodies if b["alarm"] == name]
    assert states == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    # Every change the receiver got is one change of the history, marked delivered; and the reverse.
    history = [(h["alarm"], h["from"], h["state"], h["notified"]) for h in read_history(alerted.run_dir, last=1000)
               if h["alarm"].startswith(f"{alerted.prefix}-")]
    assert sorted(history) == sorted((b["alarm"], b["previous_state"], b["state"], True) for b in receiver.bodies)
    assert evaluator.notifier is not None and evaluator.notifier.stats.failed == 0


def test_a_failing_webhook_is_retried_counted_and_does_not_stop_the_evaluator(
    observed: Settings, receiver: Receiver, publisher: MetricsPublisher
) -> None:
    receiver.status = 500
    notifier = WebhookNotifier(receiver.url, timeout_s=30.0, backoff_s=0.01)
    evaluator = AlarmEvaluator(observed, store=publisher.percentiles, notifier=notifier)
    name = f"{observed.prefix}-recommend-availability"
    metrics = make_metrics("recommend")
    for i in range(10):
        serve(metrics, 503 if i < 5 else 200, latency_ms=20.0)
    publisher.flush()
    verdicts = {v.alarm: v for v in evaluator.evaluate_once()}
    assert verdicts["recommend-availability"].state == "ALARM"
    mine = [b for b in receiver.bodies if b["alarm"] == name]
    assert len(mine) == 3  # three attempts, each answered 500
    changes = [h for h in read_history(observed.run_dir, last=1000) if h["alarm"] == name]
    assert [(h["from"], h["state"], h["notified"]) for h in changes] == [("INSUFFICIENT_DATA", "ALARM", False)]
    assert notifier.stats.failed >= 1 and notifier.stats.last_failure == "HTTP 500"

    # A receiver that is gone (connection refused) fails the same way; the state was still set.
    receiver.__exit__()
    gone = WebhookNotifier(receiver.url, timeout_s=30.0, backoff_s=0.01)
    evaluator = AlarmEvaluator(observed, store=publisher.percentiles, notifier=gone)
    for _ in range(500):
        serve(metrics, 200, latency_ms=20.0)
    publisher.flush()
    verdicts = {v.alarm: v for v in evaluator.evaluate_once()}
    assert verdicts["recommend-availability"].state == "OK"
    assert gone.stats.failed >= 1 and gone.stats.attempts == 3 * gone.stats.failed
    assert gone.stats.last_failure == "ConnectionRefusedError"

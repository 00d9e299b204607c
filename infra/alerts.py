"""Alarm state changes to a person, locally: one Slack-compatible webhook message per change.

On AWS every alarm notifies the SNS topic of ``template.yaml`` on ALARM and on OK (its subscriber is a
parameter). Locally nothing notifies anyone (moto stores alarm actions but never runs them), so the local
alarm evaluator (:mod:`infra.alarm_evaluator`) hands each state change it sets to :class:`WebhookNotifier`,
which posts it to ``MOVIEREC_ALERT_WEBHOOK_URL``: a Slack incoming webhook, or anything that takes JSON
(Mattermost and Rocket.Chat accept the same ``{"text": ...}``; the extra fields are for machines and are
ignored by Slack).

Delivery must never stop the evaluator: an attempt that fails (connection refused, timeout, 5xx, 429) is
retried twice with a growing pause, a message still not delivered is logged and counted
(:attr:`WebhookNotifier.stats`) and the evaluator goes on; a 4xx other than 429 (a revoked or mistyped
webhook) is not retried. The log names the alarm and the failure's kind, never the URL (it is the
webhook's credential).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from movierec.alarms import AlarmSpec
from movierec.config import Settings

log = logging.getLogger(__name__)

#: Attempts per message and the pause before the second one (doubled before each further one).
ATTEMPTS = 3
BACKOFF_S = 0.5
_ICON = {"ALARM": ":red_circle:", "OK": ":large_green_circle:", "INSUFFICIENT_DATA": ":white_circle:"}


@dataclass(frozen=True)
class StateChange:
    """One alarm state change the evaluator set (the content of one message and one history line)."""

    alarm: str  #: the full alarm name, ``<prefix>-<name>``
    previous: str
    state: str
    reason: str
    at: float
    stage: str
    spec: AlarmSpec


def message(change: StateChange) -> dict[str, Any]:
    """The webhook body: Slack's ``text`` (what a person reads) plus the same facts as fields."""
    when = dt.datetime.fromtimestamp(change.at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = (
        f"{_ICON.get(change.state, '')} *{change.alarm}* is {change.state} (was {change.previous}), stage "
        f"{change.stage}, {when}\n{change.spec.description}\n{change.reason}"
    )
    return {
        "text": text,
        "alarm": change.alarm,
        "state": change.state,
        "previous_state": change.previous,
        "reason": change.reason,
        "description": change.spec.description,
        "threshold": change.spec.threshold,
        "comparison": change.spec.comparison,
        "stage": change.stage,
        "at": dt.datetime.fromtimestamp(change.at, dt.timezone.utc).isoformat(),
        "source": "movierec local alarm evaluator",
    }


@dataclass
class AlertStats:
    """What the notifier did since it started (``attempts`` counts retries too)."""

    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    last_failure: str = ""


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    return True  # refused, reset, timed out: the receiver may be back in a moment


def _kind(exc: Exception) -> str:
    """The failure without its text (which may quote the URL)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, Exception):
        return type(exc.reason).__name__
    return type(exc).__name__


class WebhookNotifier:
    """Posts each state change to one webhook URL; never raises."""

    def __init__(
        self, url: str, timeout_s: float, attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self.url = url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._sleep = sleep
        self.stats = AlertStats()

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookNotifier | None":
        """The notifier ``MOVIEREC_ALERT_WEBHOOK_URL`` asks for, or None when it is empty."""
        if not settings.alert_webhook_url:
            return None
        return cls(settings.alert_webhook_url, settings.alert_webhook_timeout_s)

    def notify(self, change: StateChange) -> bool:
        """Deliver one message for ``change``; True when the receiver accepted it (2xx)."""
        body = json.dumps(message(change)).encode()
        for attempt in range(1, self.attempts + 1):
            self.stats.attempts += 1
            try:
                request = urllib.request.Request(
                    self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                    answer.read()
                self.stats.delivered += 1
                return True
            except Exception as exc:  # any failure of the receiver is counted, never raised into the evaluator
                self.stats.last_failure = _kind(exc)
                if attempt == self.attempts or not _retryable(exc):
                    break
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
        self.stats.failed += 1
        log.warning("alert for %s (%s) not delivered to the webhook after %d attempt(s): %s",
                    change.alarm, change.state, attempt, self.stats.last_failure)  # fmt: skip
        return False

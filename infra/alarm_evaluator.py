"""Local emulation of CloudWatch alarm evaluation (moto stores alarms but never evaluates them).

Every ``interval_s`` seconds, for each alarm of :data:`movierec.alarms.ALARMS`, this reads the alarm's
metrics from the local CloudWatch (percentiles from the local percentile store), computes the alarm's
value for each of its last ``EvaluationPeriods`` periods, applies ``DatapointsToAlarm`` and
``TreatMissingData`` like CloudWatch does, and calls ``SetAlarmState`` when the state changes. Each change
is posted to the alert webhook when one is configured (``MOVIEREC_ALERT_WEBHOOK_URL``, :mod:`infra.alerts`:
what the SNS topic does on AWS) and appended to ``<run_dir>/metrics/alarm-history.jsonl`` with whether the
webhook took it (moto has no DescribeAlarmHistory).

It is an emulation, with one deliberate difference: the periods form a rolling window that ends now
(CloudWatch evaluates whole periods aligned to the clock, a little later), so a local alarm reacts as
soon as the data arrive. On AWS, CloudWatch evaluates the alarms itself; do not run this there. On
LocalStack it runs as well (``movierec metrics``): LocalStack's community CloudWatch does not evaluate
metric math or percentile alarms (docs/deploy.md says what is and is not verified).
"""

from __future__ import annotations

import json
import logging
import operator
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from movierec import aws
from movierec.alarms import ALARMS, AlarmSpec
from movierec.config import Settings
from infra.alerts import StateChange, WebhookNotifier
from infra.metric_series import Series, Window, compute
from infra.percentiles import PercentileStore
from infra.ticker import Ticker

log = logging.getLogger(__name__)

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of evaluating one alarm once."""

    alarm: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    values: list[float | None]
    breaching: int
    reason: str


def decide(spec: AlarmSpec, values: Series) -> Verdict:
    """The state CloudWatch would set for these per-period values (oldest first, last = newest)."""
    recent = values[-spec.evaluation_periods :]
    compare = _COMPARE[spec.comparison]
    missing = sum(v is None for v in recent)
    breaching = sum(1 for v in recent if v is not None and compare(v, spec.threshold))
    if spec.treat_missing_data == "breaching":
        breaching += missing
    shown = ", ".join("-" if v is None else f"{v:.4g}" for v in recent)
    if missing == len(recent) and spec.treat_missing_data in ("missing", "ignore"):
        state = "INSUFFICIENT_DATA"
    else:
        state = "ALARM" if breaching >= spec.datapoints_to_alarm else "OK"
    reason = (
        f"{breaching} of the last {len(recent)} periods ({spec.period_s}s) breach {spec.comparison} "
        f"{spec.threshold:g} (need {spec.datapoints_to_alarm}); values [{shown}] (local evaluation)"
    )
    return Verdict(spec.name, state, list(recent), breaching, reason)


def evaluate_alarm(
    settings: Settings, spec: AlarmSpec, store: PercentileStore | None, now: float | None = None
) -> Verdict:
    """Read the metrics of one alarm and decide its state; one extra period feeds ``DIFF``."""
    window = Window.ending_now(spec.period_s, spec.evaluation_periods + 1, now)
    return decide(spec, compute(settings, spec.queries, spec.expression, window, store))


class AlarmEvaluator(Ticker):
    """The ``alarms`` component of ``make up``: evaluates :data:`ALARMS` periodically on its own thread."""

    name = "alarms"

    def __init__(
        self, settings: Settings, store: PercentileStore | None = None, interval_s: float = 15.0,
        notifier: WebhookNotifier | None = None,
    ) -> None:  # fmt: skip
        super().__init__(interval_s)
        self.settings = settings
        self.store = store
        self.history_path: Path = settings.run_dir / "metrics" / "alarm-history.jsonl"
        #: Where state changes go besides the history (None: no webhook configured).
        self.notifier = notifier if notifier is not None else WebhookNotifier.from_settings(settings)

    def evaluate_once(self, now: float | None = None) -> list[Verdict]:
        """Evaluate every alarm and set the state of those whose state changed."""
        store = self.store if self.store is not None else PercentileStore.in_run_dir(self.settings.run_dir)
        cloudwatch = aws.client("cloudwatch", self.settings)
        names = {spec.alarm_name(self.settings.prefix): spec for spec in ALARMS}
        current = {
            a["AlarmName"]: a["StateValue"]
            for a in cloudwatch.describe_alarms(AlarmNames=list(names))["MetricAlarms"]
        }
        verdicts = []
        for name, spec in names.items():
            if name not in current:
                continue  # not created (bootstrap creates them); nothing to set
            verdict = evaluate_alarm(self.settings, spec, store, now)
            verdicts.append(verdict)
            if verdict.state != current[name]:
                cloudwatch.set_alarm_state(AlarmName=name, StateValue=verdict.state, StateReason=verdict.reason[:1023])
                self._record(spec, name, current[name], verdict)
        return verdicts

    def _record(self, spec: AlarmSpec, name: str, old: str, verdict: Verdict) -> None:
        """Log the change, tell the webhook (once per change), append both to the history."""
        log.warning("alarm %s: %s -> %s (%s)", name, old, verdict.state, verdict.reason)
        at = time.time()
        notified = None
        if self.notifier is not None:
            change = StateChange(name, old, verdict.state, verdict.reason, at, self.settings.stage, spec)
            notified = self.notifier.notify(change)
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        with self.history_path.open("a") as f:
            f.write(json.dumps(asdict(verdict) | {"at": at, "alarm": name, "from": old, "notified": notified}) + "\n")

    def tick(self) -> list[Verdict]:
        return self.evaluate_once()


def read_history(run_dir: Path, last: int = 20) -> list[dict]:
    """The last ``last`` alarm state changes the local evaluator recorded (oldest first)."""
    path = run_dir / "metrics" / "alarm-history.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()[-last:] if line.strip()]

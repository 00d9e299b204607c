"""What ``movierec monitor`` shows: current figures and alarm states (terminal), and the dashboard (PNG).

Both read the local CloudWatch the way the alarm evaluator does (:mod:`infra.metric_series`), so the
figures on screen are the ones the alarms judge. The PNG draws :data:`movierec.dashboard.PANELS`, the
same panels ``template.yaml`` deploys as the CloudWatch dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from movierec import aws
from movierec.alarms import ALARMS, Query
from movierec.config import Settings
from movierec.dashboard import PANELS, Line
from movierec.metrics import lines_rejected
from movierec.models.events import Reason
from infra.alarm_evaluator import read_history
from infra.metric_series import Series, Window, compute, compute_lines
from infra.percentiles import PercentileStore

#: The span the terminal's "current" figures cover, like the availability alarm's period.
CURRENT_S = 300

#: Terminal-only figures, beyond the dashboard's lines: (section, label, query).
_EXTRA: tuple[tuple[str, str, Query], ...] = (
    ("Recommend", "fallback answers / min", Query("m", "Fallback", "recommend", "Sum")),
    ("Recommend", "cold starts / min", Query("m", "ColdStart", "recommend", "Sum")),
    ("Ingest", "handler failures / min", Query("m", "HandlerFailures", "ingest-poller", "Sum")),
    ("Ingest", "batch duration max ms", Query("m", "HandlerDuration", "ingest", "Maximum")),
    ("Gauges", "index age s", Query("m", "IndexAgeSeconds", "gauges", "Maximum")),
    ("Gauges", "quarantine size", Query("m", "QuarantineSize", "gauges", "Maximum")),
)


@dataclass(frozen=True)
class Figure:
    section: str
    label: str
    value: float | None


def _now_value(settings: Settings, line: Line, store: PercentileStore, now: float) -> float | None:
    """The line's value over the last :data:`CURRENT_S` seconds; counts (Sum) as a rate per minute."""
    [value] = compute(settings, line.queries, line.expression, Window.ending_now(CURRENT_S, 1, now), store)
    if value is not None and line.is_count:
        return value / (CURRENT_S / 60)
    return value


def current_figures(settings: Settings, store: PercentileStore, now: float | None = None) -> list[Figure]:
    """Every dashboard line and the extra figures over the last :data:`CURRENT_S` seconds."""
    at = time.time() if now is None else now
    figures = [
        Figure(panel.title, line.label, _now_value(settings, line, store, at)) for panel in PANELS for line in panel.lines
    ]
    figures += [Figure(s, label, _now_value(settings, Line(label, (q,)), store, at)) for s, label, q in _EXTRA]
    return figures


def rejections_by_reason(settings: Settings, minutes: int = 60, now: float | None = None) -> dict[str, float]:
    """Rejected stream lines per reason over the last ``minutes`` (the ``LinesRejected_<reason>`` metrics).

    The reasons are a closed set (:class:`~movierec.models.events.Reason`), so their counters are asked for
    by name, each as one period, in one call: ``ListMetrics`` over a busy local CloudWatch took 54 s.
    """
    queries = [Query("m", lines_rejected(reason), "ingest", "Sum") for reason in Reason]
    window = Window.aligned(minutes * 60, 1, now, step_s=60)
    sums = compute_lines(settings, [((q,), None) for q in queries], window)
    return {reason.value: value for reason, [value] in zip(Reason, sums) if value}

def alarm_states(settings: Settings) -> list[tuple[str, str, str]]:
    """(alarm name, state, reason) of our alarms, in definition order."""
    names = [spec.alarm_name(settings.prefix) for spec in ALARMS]
    found = {
        a["AlarmName"]: (a["StateValue"], a.get("StateReason", ""))
        for a in aws.client("cloudwatch", settings).describe_alarms(AlarmNames=names)["MetricAlarms"]
    }
    return [(n, *found.get(n, ("MISSING", "not created: run the bootstrap (make up)"))) for n in names]


def aws_history_changes(items: list[dict], alarm_names: set[str]) -> list[dict]:
    """CloudWatch ``DescribeAlarmHistory`` state updates of our alarms, as the local history's lines.

    Each item's ``HistoryData`` is JSON with ``oldState``/``newState`` ``stateValue``; ``notified`` is None
    because on AWS the alarm's actions (the SNS topic) notify and their outcome is an ``Action`` item.
    """
    out = []
    for item in items:
        if item.get("HistoryItemType") != "StateUpdate" or item.get("AlarmName") not in alarm_names:
            continue
        try:
            data = json.loads(item["HistoryData"])
            old, new = data["oldState"]["stateValue"], data["newState"]["stateValue"]
        except (KeyError, TypeError, ValueError):
            continue  # an item we cannot read is left out, not raised into the monitor
        out.append({"at": item["Timestamp"].timestamp(), "alarm": item["AlarmName"], "from": old, "state": new,
                    "notified": None})  # fmt: skip
    return sorted(out, key=lambda c: c["at"])


def recent_changes(settings: Settings, last: int = 5) -> tuple[str, list[dict]]:
    """(where from, the last alarm state changes): the local evaluator's history where it runs (moto,
    LocalStack), else CloudWatch's own alarm history (AWS: CloudWatch evaluates there; moto lacks the API)."""
    local = read_history(settings.run_dir, last=last)
    if local or settings.aws_endpoint_url:
        return "local evaluator", local
    names = {spec.alarm_name(settings.prefix) for spec in ALARMS}
    items = aws.client("cloudwatch", settings).describe_alarm_history(
        HistoryItemType="StateUpdate", ScanBy="TimestampDescending", MaxRecords=100
    )["AlarmHistoryItems"]
    return "CloudWatch alarm history", aws_history_changes(items, names)[-last:]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def render_text(settings: Settings, store: PercentileStore, now: float | None = None) -> str:
    """The terminal view: figures by section, rejections by reason, alarm states, recent alarm changes."""
    at = time.time() if now is None else now
    stamp = dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")
    lines = [f"movierec monitor  stage={settings.stage}  {stamp}  (last {CURRENT_S // 60} min; counts per minute)", ""]
    section = None
    for fig in current_figures(settings, store, at):
        if fig.section != section:
            section = fig.section
            lines.append(section)
        lines.append(f"  {fig.label:<26} {_fmt(fig.value):>12}")
    rejected = rejections_by_reason(settings)
    lines += ["", "Rejected lines by reason (last 60 min)"]
    lines += [f"  {reason:<26} {_fmt(n):>12}" for reason, n in rejected.items()] or ["  none"]
    lines += ["", "Alarms"]
    for name, state, reason in alarm_states(settings):
        lines.append(f"  {name:<40} {state:<17} {reason[:90]}")
    source, changes = recent_changes(settings, last=5)
    if changes:
        lines += ["", f"Recent alarm changes ({source})"]
        for c in changes:
            when = dt.datetime.fromtimestamp(c["at"]).strftime("%H:%M:%S")
            sent = {True: "  webhook: sent", False: "  webhook: FAILED"}.get(c.get("notified"), "")
            lines.append(f"  {when}  {c['alarm']:<40} {c['from']} -> {c['state']}{sent}")
    return "\n".join(lines)


def draw_png(settings: Settings, store: PercentileStore, path: Path, minutes: int = 60, now: float | None = None) -> Path:
    """The dashboard picture: one chart per panel over the last ``minutes``, alarm thresholds dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    at = time.time() if now is None else now
    cols = 2
    rows = -(-len(PANELS) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(14, 4.2 * rows), squeeze=False)
    states = {name.removeprefix(f"{settings.prefix}-"): state for name, state, _ in alarm_states(settings)}
    for ax, panel in zip(axes.flat, PANELS):
        window = Window.ending_now(panel.period_s, minutes * 60 // panel.period_s, at)
        times = [dt.datetime.fromtimestamp(window.bounds(i)[1]) for i in range(window.periods)]
        plotted = False
        for line in panel.lines:
            series: Series = compute(settings, line.queries, line.expression, window, store)
            if any(v is not None for v in series):
                plotted = True
            if line.is_count:
                series = [0.0 if v is None else v for v in series]  # a count with no data counted nothing
            ax.plot(times, [float("nan") if v is None else v for v in series], marker=".", markersize=4,
                    linewidth=1.6, label=line.label)  # fmt: skip
        title = panel.title
        if panel.alarm:
            threshold = next(a.threshold for a in ALARMS if a.name == panel.alarm)
            state = states.get(panel.alarm, "?")
            ax.axhline(threshold, color="red" if state == "ALARM" else "grey", linestyle="--", linewidth=1,
                       label=f"alarm {threshold:g} ({state})")  # fmt: skip
            title += f"  [{state}]"
        ax.set_title(title, fontsize=12, color="red" if "[ALARM]" in title else "black")
        ax.set_ylabel(panel.unit)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        ax.set_xlim(times[0], times[-1])
        if panel.unit != "MB":  # counts, shares and latencies read best from zero; memory shows its growth
            ax.set_ylim(bottom=0)
        if not plotted:
            ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center", color="grey")
        ax.legend(loc="upper left", fontsize=9)
    for ax in list(axes.flat)[len(PANELS):]:
        ax.axis("off")
    stamp = dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
    fig.suptitle(f"movierec  stage={settings.stage}  last {minutes} min  (at {stamp}, per-minute points)", fontsize=14)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

"""``movierec dashboard``: a live web page of :data:`movierec.dashboard.PANELS`, alarm states and rejects.

The page (``infra/static/dashboard.html``) is static; every few seconds it fetches ``/api/series`` and
redraws its charts with plotly.js. The JSON is read from CloudWatch here, on each request, through the
one boto3 client factory (:mod:`movierec.aws`): one ``GetMetricData`` call for all panels
(:func:`infra.metric_series.compute_lines`), ``DescribeAlarms`` for the alarm states, so the page shows
what the alarms judge, on moto, LocalStack or AWS alike. plotly.js is served from the ``plotly`` Python
package (its ``package_data/plotly.min.js``): the page needs nothing from the internet.

Only loopback by default: the page has no authentication (on AWS, the CloudWatch console dashboard of
``template.yaml`` is the shared one; this page is for the person at the machine).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from movierec.alarms import ALARMS
from movierec.config import Settings
from movierec.dashboard import PANELS, Panel
from infra.metric_series import Series, Window, compute_lines
from infra.monitor import alarm_states, recent_changes, rejections_by_reason
from infra.percentiles import PercentileStore

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
#: The page's redraw interval and the span of its charts, unless the command says otherwise.
DEFAULT_REFRESH_S = 10.0
DEFAULT_MINUTES = 60
#: Longest span a page may ask for: GetMetricData answers at most 100,800 points per query and the
#: local percentile store keeps 2 hours; a day of minutes is plenty for a page that is watched live.
MAX_MINUTES = 24 * 60
#: Read timeout of the page's CloudWatch calls when ``MOVIEREC_AWS_READ_TIMEOUT_S`` leaves it open: the
#: one GetMetricData of all panels took 11 s on a busy local moto (its cost is periods x datapoints),
#: and a late page is better than an empty one; the request path is not involved.
READ_TIMEOUT_S = 60.0
_PAGE = Path(__file__).parent / "static" / "dashboard.html"


def _stamp(seconds: float) -> str:
    """Local wall-clock time, as plotly.js reads a date axis (the page and the server share a machine)."""
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _latest(series: Series) -> float | None:
    return next((v for v in reversed(series) if v is not None), None)


def snapshot(settings: Settings, store: PercentileStore, minutes: int = DEFAULT_MINUTES,
             now: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the page draws, as JSON-ready data: per panel its times and lines (a line's ``values``
    per period, counts without data as 0; ``latest`` = the newest period that has data), the alarm states,
    the rejected lines by reason and the recent alarm changes."""
    at = time.time() if now is None else now
    states = alarm_states(settings)
    by_name = {name.removeprefix(f"{settings.prefix}-"): state for name, state, _ in states}
    thresholds = {spec.name: spec.threshold for spec in ALARMS}
    windows = [Window.aligned(p.period_s, max(1, minutes * 60 // p.period_s), at) for p in PANELS]
    # Panels of one period share a window and so a single GetMetricData call.
    series_of: dict[int, list[Series]] = {}
    for window in {w for w in windows}:
        mine = [(p, line) for p, w in zip(PANELS, windows) if w == window for line in p.lines]
        got = compute_lines(settings, [(line.queries, line.expression) for _, line in mine], window, store)
        for (panel, line), series in zip(mine, got):
            series_of.setdefault(id(panel), []).append(series)
    panels = []
    for panel, window in zip(PANELS, windows):
        lines = []
        for line, series in zip(panel.lines, series_of[id(panel)]):
            values = [0.0 if v is None and line.is_count else v for v in series]
            lines.append({"label": line.label, "values": values, "latest": _latest(series)})
        panels.append(
            {
                "title": panel.title,
                "unit": panel.unit,
                "period_s": panel.period_s,
                "times": [_stamp(window.bounds(i)[0]) for i in range(window.periods)],
                "lines": lines,
                "alarm": None
                if panel.alarm is None
                else {"name": panel.alarm, "threshold": thresholds[panel.alarm], "state": by_name.get(panel.alarm, "?")},
            }
        )
    return {
        "stage": settings.stage,
        "generated_at": _stamp(at),
        "minutes": minutes,
        "panels": panels,
        "alarms": [{"name": name, "state": state, "reason": reason} for name, state, reason in states],
        "rejects": rejections_by_reason(settings, minutes, at),
        "changes": [
            {"at": _stamp(c["at"]), "alarm": c["alarm"], "from": c["from"], "state": c["state"]}
            for c in recent_changes(settings, last=10)[1]
        ],
    }


@dataclass(frozen=True)
class PageOptions:
    refresh_s: float = DEFAULT_REFRESH_S
    minutes: int = DEFAULT_MINUTES


class DashboardServer(ThreadingHTTPServer):
    """The page, plotly.js and ``/api/series`` (the JSON of :func:`snapshot`) on one address."""

    daemon_threads = True

    def __init__(self, settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 options: PageOptions = PageOptions()) -> None:  # fmt: skip
        self.settings = settings if settings.aws_read_timeout_s else replace(settings, aws_read_timeout_s=READ_TIMEOUT_S)
        self.options = options
        self._lock = threading.Lock()
        self._last: tuple[float, int, dict[str, Any]] | None = None  # (monotonic time, minutes, snapshot)
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    @cached_property
    def page(self) -> bytes:
        text = _PAGE.read_text()
        return (
            text.replace("{{REFRESH_MS}}", str(int(self.options.refresh_s * 1000)))
            .replace("{{MINUTES}}", str(self.options.minutes))
            .replace("{{STAGE}}", html.escape(self.settings.stage))
            .encode()
        )

    @cached_property
    def plotly_js(self) -> bytes:
        """The plotly.js bundle the ``plotly`` package ships (read once: 4.8 MB)."""
        return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()

    def series(self, minutes: int) -> dict[str, Any]:
        """A fresh snapshot, read by one thread at a time: pages open in several tabs (or a page that asks
        while the last reading is still under way) share a reading instead of multiplying the load."""
        with self._lock:
            if self._last and self._last[1] == minutes and time.monotonic() - self._last[0] < self.options.refresh_s / 2:
                return self._last[2]
            # The local metrics publisher rewrites its percentile file after each flush: read it anew.
            data = snapshot(self.settings, PercentileStore.in_run_dir(self.settings.run_dir), minutes)
            self._last = (time.monotonic(), minutes, data)
            return data


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", self.server.page)
        elif url.path == "/plotly.min.js":
            self._send(HTTPStatus.OK, "text/javascript; charset=utf-8", self.server.plotly_js, cache_s=3600)
        elif url.path == "/api/series":
            self._series(parse_qs(url.query))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _series(self, query: dict[str, list[str]]) -> None:
        try:
            minutes = int(query.get("minutes", [str(self.server.options.minutes)])[0])
        except ValueError:
            minutes = 0
        if not 1 <= minutes <= MAX_MINUTES:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"minutes must be a whole number from 1 to {MAX_MINUTES}"})
            return
        try:
            body = self.server.series(minutes)
        except (BotoCoreError, ClientError):
            log.exception("dashboard: reading CloudWatch failed")
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "CloudWatch did not answer; the page retries"})
            return
        self._json(HTTPStatus.OK, body)

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body, separators=(",", ":")).encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, cache_s: int = 0) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", f"max-age={cache_s}" if cache_s else "no-store")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the page was closed while CloudWatch was read
            log.debug("dashboard: client went away before its answer")
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.debug("dashboard %s - %s", self.address_string(), format % args)

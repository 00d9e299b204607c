"""Online evaluation: did users watch what we recommended, within W hours?

Inputs (read-only, :func:`load_online`): the ``recommendations`` table — answers we served (source
``api``) and recommendation requests seen in the stream (source ``stream:<server>``, including the looped
replay's ``stream:replay-<version>``) — and the ``history`` table.

Definitions (W = ``window_h``, default 24):

- a *request* is one recommendations row; it *failed* when its status is not 200, it was *slow* when its
  latency exceeds ``slow_ms``; only answered requests (status 200, at least one movie) can convert;
- a *watch* is a history entry (user, movie) with watched minutes; its time is ``first_seen`` (the
  first time the user touched the movie: re-watching an old movie is not a new watch);
- an answered request *converted* when the user's first watch of at least one recommended movie falls in
  ``(t, t + W]``, ``t`` = the request time; its *minutes* are the distinct minutes watched of those movies
  (the mean is over converted movies);
- the *share of watches recommended* = watches (in the period the log covers) that were preceded within W
  by a request recommending that movie to that user, divided by all watches in that period.

Everything is reported overall, per version (the index/model version the API recorded, else the source)
and per UTC day of the request (watches: day of the watch). Request time is the row's ``at`` (epoch seconds,
as in every table).

Usage::

    requests, watches = load_online(settings)
    report = evaluate_online(requests, watches, window_h=24)
    print(format_report(report))
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from movierec.config import Settings, get_settings
from movierec.metrics import ONLINE_CONVERSION, ONLINE_CONVERSION_CURRENT, ONLINE_CONVERSION_PREVIOUS

WINDOW_H = 24.0
SLOW_MS = 800.0  # the course's limit for a recommendation answer


@dataclass(frozen=True)
class Request:
    user_id: int
    at: float  # epoch seconds
    source: str
    status: int
    movie_ids: tuple[str, ...]
    latency_ms: float | None = None
    version: str | None = None
    #: The experiment and arm the API served this request in (None outside experiments).
    experiment: str | None = None
    arm: str | None = None
    #: Why the API degraded this answer to the popular list (None: the full answer).
    degraded: str | None = None

    @property
    def group(self) -> str:
        return self.version or self.source


@dataclass(frozen=True)
class Watch:
    user_id: int
    movie_id: str
    at: float  # first_seen, epoch seconds
    minutes: int


@dataclass
class Group:
    """The figures of one slice (all / one version / one day)."""

    requests: int = 0
    failed: int = 0
    slow: int = 0
    answered: int = 0
    converted: int = 0
    converted_minutes: list[int] = field(default_factory=list)
    watches: int = 0
    recommended_watches: int = 0

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.answered if self.answered else 0.0

    @property
    def mean_minutes(self) -> float:
        return sum(self.converted_minutes) / len(self.converted_minutes) if self.converted_minutes else 0.0

    @property
    def share_recommended(self) -> float:
        return self.recommended_watches / self.watches if self.watches else 0.0


@dataclass
class OnlineReport:
    window_h: float
    slow_ms: float
    overall: Group
    by_version: dict[str, Group]
    by_day: dict[str, Group]


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d")


def first_watches(watches: Iterable[Watch]) -> dict[tuple[int, str], Watch]:
    """(user, movie) -> the user's first watch of the movie."""
    first: dict[tuple[int, str], Watch] = {}
    for w in watches:
        key = (w.user_id, w.movie_id)
        if key not in first or w.at < first[key].at:
            first[key] = w
    return first


def converted_minutes(r: Request, first_watch: dict[tuple[int, str], Watch], window_h: float = WINDOW_H) -> list[int]:
    """Minutes of each recommended movie the user first watched within W after ``r`` (empty: no conversion)."""
    if r.status != 200:
        return []
    window = window_h * 3600.0
    out = []
    for movie_id in dict.fromkeys(r.movie_ids):
        w = first_watch.get((r.user_id, movie_id))
        if w is not None and r.at < w.at <= r.at + window:
            out.append(w.minutes)
    return out


def evaluate_online(
    requests: Iterable[Request], watches: Iterable[Watch], window_h: float = WINDOW_H, slow_ms: float = SLOW_MS
) -> OnlineReport:
    """Join requests with later watches (see the module docstring for every definition)."""
    window = window_h * 3600.0
    requests = sorted(requests, key=lambda r: (r.at, r.user_id, r.source))
    first_watch = first_watches(watches)
    overall, by_version, by_day = Group(), defaultdict(Group), defaultdict(Group)
    # (user, movie) -> times it was recommended, sorted: to attribute a watch to the latest request before it.
    offered: dict[tuple[int, str], list[tuple[float, str]]] = defaultdict(list)
    for r in requests:
        groups = (overall, by_version[r.group], by_day[_day(r.at)])
        answered = r.status == 200 and bool(r.movie_ids)
        minutes = converted_minutes(r, first_watch, window_h) if answered else []
        if answered:
            for movie_id in dict.fromkeys(r.movie_ids):
                offered[(r.user_id, movie_id)].append((r.at, r.group))
        for g in groups:
            g.requests += 1
            g.failed += r.status != 200
            g.slow += r.latency_ms is not None and r.latency_ms > slow_ms
            g.answered += answered
            g.converted += bool(minutes)
            g.converted_minutes.extend(minutes)
    if requests:
        start, end = requests[0].at, requests[-1].at + window
        for (user_id, movie_id), w in first_watch.items():
            if not start <= w.at <= end:
                continue
            times = offered.get((user_id, movie_id), [])
            i = bisect.bisect_left(times, (w.at,)) - 1  # the latest offer strictly before the watch
            by = times[i][1] if i >= 0 and w.at - times[i][0] <= window else None
            for g in (overall, by_day[_day(w.at)]):
                g.watches += 1
                g.recommended_watches += by is not None
            if by is not None:
                by_version[by].recommended_watches += 1
        for version, g in by_version.items():
            g.watches = overall.watches  # a version's share: of ALL watches in the period
    return OnlineReport(window_h, slow_ms, overall, dict(sorted(by_version.items())), dict(sorted(by_day.items())))


def _rows(title: str, groups: dict[str, Group]) -> list[str]:
    lines = [
        f"| {title} | requests | failed | slow | answered | converted | conversion | mean min | watches | "
        "recommended | share |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, g in groups.items():
        lines.append(
            f"| {key} | {g.requests} | {g.failed} | {g.slow} | {g.answered} | {g.converted} | "
            f"{g.conversion_rate:.4f} | {g.mean_minutes:.1f} | {g.watches} | {g.recommended_watches} | "
            f"{g.share_recommended:.4f} |"
        )
    return lines


def previous_version(requests: Iterable[Request], current: str | None) -> str | None:
    """The index version the API served last before ``current`` (by its latest answer), or None.

    What an operator compares after a model update: the new version's conversion beside the one it
    replaced. Only the API's answers name an index version (stream sources do not).
    """
    last: dict[str, float] = {}
    for r in requests:
        if r.version is not None and r.version != current:
            last[r.version] = max(last.get(r.version, r.at), r.at)
    return max(last, key=lambda v: (last[v], v)) if last else None


def conversion_metrics(report: OnlineReport, current: str | None, previous: str | None) -> dict[str, float]:
    """The conversion figures a dashboard follows over time (metric name -> share of answered requests):
    overall, the current version's and the previous version's, each present only when it has answers.

    One point per run: the current-version line of a chart then shows each version in turn, as it was
    served, without a series per version (versions are unbounded; dashboards and alarms are not).
    """
    values = {ONLINE_CONVERSION: report.overall.conversion_rate} if report.overall.answered else {}
    for name, version in ((ONLINE_CONVERSION_CURRENT, current), (ONLINE_CONVERSION_PREVIOUS, previous)):
        group = report.by_version.get(version) if version is not None else None
        if group is not None and group.answered:
            values[name] = group.conversion_rate
    return values


def format_report(report: OnlineReport) -> str:
    """The report as markdown: overall, per version, per day."""
    head = [
        "# Online evaluation",
        "",
        f"Window W = {report.window_h:g} h; slow = latency > {report.slow_ms:g} ms. Conversion = answered "
        "requests followed within W by the user's first watch of a recommended movie. Definitions: "
        "docs/evaluation.md.",
        "",
    ]
    return "\n".join(
        head
        + _rows("slice", {"all": report.overall})
        + [""]
        + _rows("version", report.by_version)
        + [""]
        + _rows("day", report.by_day)
    ) + "\n"


def load_online(settings: Settings | None = None) -> tuple[list[Request], list[Watch]]:
    """All recommendation rows and all watches of the deployment (read-only Scans)."""
    from movierec.dal.history import scan_states
    from movierec.dal.tables import Tables

    tables = Tables(settings or get_settings())
    requests = [
        Request(
            user_id=int(item.user_id),
            at=float(item.at),
            source=item.source,
            status=int(item.status),
            movie_ids=tuple(m for m in (item.movie_ids or "").split(",") if m),
            latency_ms=None if item.latency_ms is None else float(item.latency_ms),
            version=item.version,
            experiment=item.experiment,
            arm=item.arm,
        )
        for item in tables.recommendations.scan()
    ]
    watches = [
        Watch(user_id, movie_id, float(state.first_seen), len(state.minutes))
        for user_id, states in scan_states(tables)
        for movie_id, state in states.items()
        if state.minutes
    ]
    return requests, watches


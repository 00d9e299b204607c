"""Feedback-loop audit statistics, from the answer log and the history (pure).

A recommender retrained on what its own recommendations made people watch can feed on itself: what it
shows gets watched, what gets watched is learned as popular, what is popular is shown more. Two questions:

- does the **share of watches that were recommended** rise over time (per UTC day, the online
  evaluation's definition: :func:`movierec.evaluation.online.evaluate_online`)?
- does **exposure concentrate** from one model version to the next (Gini of exposure over the movies,
  coverage, share of slots going to the 10% most exposed movies of the first version)?

:func:`trend` says whether a series rises: the least-squares slope over its index, and whether the last
third's mean exceeds the first third's by more than ``tolerance``. The closed-loop simulation that proves the detector, and the
mitigation it measures (a popularity penalty), are in :mod:`movierec.audit.simulate`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from movierec.audit.fairness import gini
from movierec.evaluation.online import Request, Watch, evaluate_online


@dataclass(frozen=True)
class VersionExposure:
    version: str
    first_at: float
    requests: int
    slots: int
    distinct: int
    gini: float
    coverage: float
    #: share of slots going to the movies that were the 10% most exposed of the FIRST version
    head_share: float


def exposure_by_version(requests: Iterable[Request], catalog_size: int, k: int = 20) -> list[VersionExposure]:
    """Answered requests grouped by version (the API's index version, else the stream source), in the
    order each version was first seen; Gini over a catalog of ``catalog_size`` movies (unshown = 0)."""
    by: dict[str, list[Request]] = defaultdict(list)
    for r in sorted(requests, key=lambda r: r.at):
        if r.status == 200 and r.movie_ids:
            by[r.group].append(r)
    out: list[VersionExposure] = []
    head: set[str] | None = None
    for version, rs in by.items():
        shown: Counter[str] = Counter(m for r in rs for m in r.movie_ids[:k])
        slots = sum(shown.values())
        if head is None:
            head = {m for m, _ in shown.most_common(max(1, round(0.1 * max(catalog_size, len(shown)))))}
        counts = list(shown.values()) + [0] * max(0, catalog_size - len(shown))
        out.append(VersionExposure(version, rs[0].at, len(rs), slots, len(shown), gini(counts),
                                   len(shown) / catalog_size if catalog_size else 0.0,
                                   sum(n for m, n in shown.items() if m in head) / slots))  # fmt: skip
    return out


def share_by_day(requests: Sequence[Request], watches: Sequence[Watch], window_h: float = 24.0) -> list[tuple[str, float, int]]:
    """(UTC day, share of that day's watches that were recommended within W before, watches that day)."""
    report = evaluate_online(requests, watches, window_h=window_h)
    return [(day, g.share_recommended, g.watches) for day, g in report.by_day.items() if g.watches]


def share_by_version(
    requests: Sequence[Request], watches: Sequence[Watch], window_h: float = 24.0
) -> list[tuple[str, float, int]]:
    """(version, share of the watches made while it served that it had recommended within W, watches):
    a version serves from its first answer to the next version's first answer."""
    versions = exposure_by_version(requests, 0)
    out = []
    for v, nxt in zip(versions, [*versions[1:], None]):
        end = nxt.first_at if nxt is not None else float("inf")
        mine = [r for r in requests if r.group == v.version]
        period = [w for w in watches if v.first_at <= w.at < end]
        g = evaluate_online(mine, period, window_h=window_h).overall
        out.append((v.version, g.share_recommended, g.watches))
    return out


@dataclass(frozen=True)
class Trend:
    slope: float
    first: float
    last: float
    rising: bool


def trend(values: Sequence[float], tolerance: float = 0.0) -> Trend:
    """Least-squares slope per step, and rising = last third's mean > first third's mean + tolerance
    (with a positive slope). Fewer than 2 values: not rising."""
    if len(values) < 2:
        v = float(values[0]) if values else 0.0
        return Trend(0.0, v, v, False)
    y = np.asarray(values, dtype=float)
    slope = float(np.polyfit(np.arange(len(y)), y, 1)[0])
    third = max(1, len(y) // 3)
    first, last = float(y[:third].mean()), float(y[-third:].mean())
    return Trend(slope, first, last, slope > 0 and last > first + tolerance)

"""Availability as the course measures it: the share of answers with status 200 within 600 ms.

The course's clients log every answer they got from our service into the stream as a
``recommendation request <server>, status <code>, result: <ids>, <n> ms`` line (parsed into
:class:`~movierec.models.events.RecommendationEvent`). That is the only view of our service the course
grades, and it differs from our API-side figures: it includes the network, the gateway and our timeouts,
and a request that got no answer at all is logged too (status 0 in our replay loop). A 200 that took
longer than the client waits is a failure for the course even though our API counted it as a success.

Pure functions over (status, latency) pairs, so the ingest handler (per batch, emitted as metrics), the
swap test (the answers its clients saw during a model update) and any report compute the same figure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from movierec.models.availability import Availability
from movierec.models.events import RecommendationEvent

#: How long the course's clients wait for an answer (milliseconds); a slower 200 counts as unavailable.
COURSE_TIMEOUT_MS = 600


def is_available(status: int, latency_ms: float, timeout_ms: float = COURSE_TIMEOUT_MS) -> bool:
    """Whether one answer counts as available for the course: status 200 and at most ``timeout_ms``."""
    return status == 200 and latency_ms <= timeout_ms


def _nearest_rank(ordered: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank, the definition CloudWatch's pNN uses."""
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def availability(answers: Iterable[tuple[int, float]], timeout_ms: float = COURSE_TIMEOUT_MS) -> Availability:
    """The course's availability of ``(status, latency_ms)`` answers, with their latency percentiles."""
    latencies: list[float] = []
    available = 0
    for status, latency in answers:
        latencies.append(float(latency))
        available += is_available(status, latency, timeout_ms)
    if not latencies:
        return Availability(0, 0, None, None, None)
    latencies.sort()
    return Availability(len(latencies), available, _nearest_rank(latencies, 50), _nearest_rank(latencies, 99),
                        latencies[-1])


def per_minute(events: Iterable[RecommendationEvent], timeout_ms: float = COURSE_TIMEOUT_MS) -> dict[int, Availability]:
    """Availability per minute of the events' own time (epoch seconds of the minute's start), in time order."""
    by_minute: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for e in events:
        by_minute[int(e.at // 60) * 60].append((e.status, float(e.latency_ms)))
    return {minute: availability(by_minute[minute], timeout_ms) for minute in sorted(by_minute)}

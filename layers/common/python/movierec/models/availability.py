"""What the course's own measure of availability says about a set of answers (see movierec.logic.availability).

It crosses boundaries: the pure logic computes it, the ingest handler emits it as metrics, the swap test
and its report print it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Availability:
    """Answers, how many of them count as available (status 200 within the course's limit), and latency.

    ``latency_p50_ms``/``latency_p99_ms``/``latency_max_ms`` are over every answer, failed ones included
    (a client waits for those too); all are None when there were no answers.
    """

    answers: int
    available: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None

    @property
    def share(self) -> float | None:
        """Available answers / answers (0..1), None without answers: no traffic is no measurement."""
        return self.available / self.answers if self.answers else None

    def as_dict(self) -> dict[str, float | int | None]:
        """For reports: the share in percent, latencies to 0.1 ms."""
        share = self.share

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "answers": self.answers,
            "available": self.available,
            "availability_pct": None if share is None else round(100 * share, 3),
            "latency_p50_ms": ms(self.latency_p50_ms),
            "latency_p99_ms": ms(self.latency_p99_ms),
            "latency_max_ms": ms(self.latency_max_ms),
        }

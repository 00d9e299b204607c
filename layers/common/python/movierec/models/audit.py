"""What the audits read: plain rows taken from the recorded telemetry (tables), as the audit logic sees them.

The data layer (:mod:`movierec.dal.audit_reads`) fills these from DynamoDB; the pure audit statistics
(:mod:`movierec.audit`) consume them, so the statistics are tested on injected rows without any table.
Times are epoch seconds, as in every table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RatingRow:
    """A user's (latest) rating of a movie and when it was given."""

    user_id: int
    movie_id: str
    rating: float
    at: float


@dataclass(frozen=True, slots=True)
class ServedAnswer:
    """The movies one answer of the API recommended (in rank order) and when (serving time)."""

    at: float
    movie_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One served answer: who asked (the caller address the API saw, None before it was recorded), for whom, when."""

    caller: str | None
    user_id: int
    at: float


@dataclass(frozen=True, slots=True)
class RejectRow:
    """A quarantined stream line: its rejection reason and the time its Kafka record was produced."""

    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A course user's profile (the user API's answer, ``catalog/users.csv``); None where unknown."""

    age: int | None
    occupation: str | None
    gender: str | None

"""The audits' reads of the recorded telemetry: ratings, served answers with their caller, quarantine.

Read-only Scans, like the online evaluation's (:func:`movierec.evaluation.online.load_online`): an
audit runs rarely, as a job or every few minutes, never per request. On AWS a Scan of a large table is
slow and billed per MB read; docs/audits.md says what a deployment at scale would use instead.
Every read takes the caller's :class:`~movierec.dal.tables.Tables` (built once per job or invocation).
"""

from __future__ import annotations

from dataclasses import dataclass

from movierec.dal.tables import Tables
from movierec.dal.history import scan_states
from movierec.models.audit import ApiCall, RatingRow, RejectRow, ServedAnswer


@dataclass(frozen=True)
class RatingData:
    ratings: list[RatingRow]
    #: user id -> first event of the user (any movie, watched or rated)
    first_seen: dict[int, float]


def read_ratings(tables: Tables) -> RatingData:
    """Every stored rating with its time, and every user's first event: one Scan of ``history``."""
    ratings: list[RatingRow] = []
    first_seen: dict[int, float] = {}
    for user_id, states in scan_states(tables):
        first = min((s.first_seen for s in states.values()), default=float("inf"))
        if first != float("inf"):
            first_seen[user_id] = float(first)
        for movie_id, s in states.items():
            if s.rating is not None and s.rated_at is not None:
                ratings.append(RatingRow(user_id, movie_id, float(s.rating), float(s.rated_at)))
    return RatingData(ratings, first_seen)


def read_api_calls(tables: Tables, since: float | None = None) -> list[ApiCall]:
    """Answers the API served (source ``api``), optionally only those at or after ``since``."""
    condition = tables.recommendations.source == "api"
    if since is not None:
        condition = condition & (tables.recommendations.at >= since)
    return [
        ApiCall(item.caller, int(item.user_id), float(item.at))
        for item in tables.recommendations.scan(condition, attributes_to_get=["user_id", "at", "caller", "source"])
    ]


def read_served_answers(tables: Tables) -> list[ServedAnswer]:
    """Every answer the API served (source ``api``) with the movies it recommended (prediction drift)."""
    return [
        ServedAnswer(float(item.at), tuple(m for m in (item.movie_ids or "").split(",") if m))
        for item in tables.recommendations.scan(tables.recommendations.source == "api",
                                                attributes_to_get=["user_id", "at", "movie_ids", "source"])
    ]  # fmt: skip


def read_rejects(tables: Tables) -> tuple[list[RejectRow], int]:
    """Quarantined lines with their reason and Kafka record time; plus how many carry no time."""
    rows: list[RejectRow] = []
    untimed = 0
    for item in tables.quarantine.scan(attributes_to_get=["source", "offset", "reason", "timestamp"]):
        if item.timestamp is None:
            untimed += 1
        else:
            rows.append(RejectRow(item.reason, float(item.timestamp) / 1000.0))
    return rows, untimed

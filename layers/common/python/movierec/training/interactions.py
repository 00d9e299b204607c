"""Reading every ingested interaction for training: one paginated Scan of the ``history`` table.

The evaluation's :func:`~movierec.evaluation.interactions.load_dynamodb` reads user by user (the exact
serving read, one Query each): right for measuring, but O(users) calls. Training needs everything, so
it scans (about one call per MB, ~4,000 items), which keeps a retrain of a large stream cheap.
"""

from __future__ import annotations

from movierec.config import Settings
from movierec.dal import tables
from movierec.evaluation.interactions import InteractionLog, build_log
from movierec.ranking.base import Interaction


def _interaction(item: tables.HistoryItem) -> Interaction:
    return Interaction(
        movie_id=item.movie_id,
        last_seen=float(item.last_seen),
        rating=None if item.rating is None else float(item.rating),
        max_minute=int(item.max_minute or 0),
        watch_count=len(item.minutes or ()),
    )


def scan_history(settings: Settings) -> InteractionLog:
    """Every (user, movie) of the ``history`` table as a time-ordered log."""
    tables.bind(settings)
    rows = ((int(item.user_id), _interaction(item)) for item in tables.HistoryItem.scan())
    return build_log(rows, source="dynamodb")

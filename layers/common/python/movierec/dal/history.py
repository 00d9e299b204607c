"""Reading a user's history: one DynamoDB Query, mapped to the rankers' :class:`Interaction`."""

from __future__ import annotations

from movierec.dal.tables import HistoryItem
from movierec.ranking.base import Interaction


def get_history(user_id: int) -> list[Interaction]:
    """The user's whole history (empty for an unknown user), in DynamoDB's movie-id order."""
    return [
        Interaction(
            movie_id=item.movie_id,
            last_seen=float(item.last_seen),
            rating=None if item.rating is None else float(item.rating),
            max_minute=int(item.max_minute or 0),
            watch_count=len(item.minutes or ()),
        )
        for item in HistoryItem.query(user_id)
    ]

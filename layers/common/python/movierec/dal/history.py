"""Reading histories from the ``history`` table, mapped to the rankers' :class:`Interaction`.

Serving reads one user (one Query); evaluation and training read everyone (one paginated Scan, about
one call per MB). Both map items the same way, so offline numbers see exactly what serving sees.
"""

from __future__ import annotations

from typing import Iterator

from movierec.dal.tables import HistoryItem
from movierec.ranking.base import Interaction


def to_interaction(item: HistoryItem) -> Interaction:
    return Interaction(
        movie_id=item.movie_id,
        last_seen=float(item.last_seen),
        rating=None if item.rating is None else float(item.rating),
        max_minute=int(item.max_minute or 0),
        watch_count=len(item.minutes or ()),
    )


def get_history(user_id: int) -> list[Interaction]:
    """The user's whole history (empty for an unknown user), in DynamoDB's movie-id order."""
    return [to_interaction(item) for item in HistoryItem.query(user_id)]


def scan_histories() -> Iterator[tuple[int, Interaction]]:
    """(user id, interaction) for every item of the table, in no particular order."""
    return ((int(item.user_id), to_interaction(item)) for item in HistoryItem.scan())

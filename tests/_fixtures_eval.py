"""Tiny constructed interaction logs for the evaluation tests (hand-checkable)."""

from __future__ import annotations

from movierec.evaluation.interactions import InteractionLog, build_log
from movierec.models.ranking import Interaction


def log_from(events: dict[int, list[tuple[str, float]]], catalog: tuple[str, ...] = ()) -> InteractionLog:
    """A log from {user: [(movie id, time), ...]}."""
    rows = [(u, Interaction(movie_id=m, last_seen=t, rating=4.0)) for u, items in events.items() for m, t in items]
    return build_log(rows, catalog, source="test")


def taste_log(users: int = 12) -> InteractionLog:
    """Two taste groups with a clear structure: group A watches a1..a5, group B b1..b5, in that order.

    Every user's last movie is the 5th of their group, so a collaborative model fitted on the other users'
    earlier movies can find it; "z" is in the catalog but nobody watched it.
    """
    events = {}
    for u in range(users):
        group = "a" if u % 2 == 0 else "b"
        order = [1, 2, 3, 4, 5] if u % 4 < 2 else [2, 1, 4, 3, 5]
        events[u] = [(f"{group}{i}", 100.0 * u + n) for n, i in enumerate(order)]
    return log_from(events, catalog=("z",))

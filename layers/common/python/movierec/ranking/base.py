"""The ranking interface: everything that turns a user's history into ranked movie ids.

The recommend function, the offline evaluation and the training gate all call rankers through this one
interface, so a number measured offline is a number of the code that serves. A ranker is built once per
index version (it may hold vectors or neighbour lists in memory) and then answers many users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Interaction:
    """One movie in a user's history, as the ranker sees it.

    ``rating`` is None when the user watched but did not rate (the ranker decides what that means;
    v1 treats it as 3). ``last_seen`` is epoch seconds and orders the history by recency.
    """

    movie_id: str
    last_seen: float
    rating: float | None = None
    max_minute: int = 0
    watch_count: int = 0


@dataclass(frozen=True)
class Scored:
    movie_id: str
    score: float


class Ranker(Protocol):
    """Ranks candidate movies for one user's history, best first, history excluded, deterministic."""

    #: Short name recorded with every answer and in reports ("content-v1", "ease-v2", ...).
    name: str

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        """Up to ``k`` movies the user has not interacted with, best first."""
        ...

"""What a ranker reads and returns: a user's history as :class:`Interaction` rows, and :class:`Scored` ids.

The history readers of the data layer produce :class:`Interaction`; rankers, serving, evaluation and
training consume it. Kept apart from the ranker interface so that the data layer needs no ranking code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

#: The course contract: an answer is up to 20 movie ids. Serving answers this many, the gate scores at
#: it, and ranker v2's long-tail places end at it.
ANSWER_SIZE = 20


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
    """A movie id with the score its ranker gave it (higher is better)."""

    movie_id: str
    score: float


@dataclass(frozen=True)
class InteractionLog:
    """Per-user time-ordered histories plus the catalog a ranker may recommend from."""

    #: user id -> interactions sorted by :func:`movierec.evaluation.interactions.time_order` (one per movie).
    users: Mapping[int, tuple[Interaction, ...]]
    #: Every recommendable movie id, sorted by :func:`movierec.evaluation.interactions.movie_order`.
    catalog: tuple[str, ...]
    #: Where the log came from ("movielens", "dynamodb", or a test's name), shown in reports.
    source: str = "constructed"

    @property
    def n_interactions(self) -> int:
        return sum(len(h) for h in self.users.values())

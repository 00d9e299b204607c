"""The ranking interface: everything that turns a user's history into ranked movie ids.

The recommend function, the offline evaluation and the training gate all call rankers through this one
interface, so a number measured offline is a number of the code that serves. A ranker is built once per
index version (it may hold vectors or neighbour lists in memory) and then answers many users.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from movierec.models.ranking import Interaction, Scored


class Ranker(Protocol):
    """Ranks candidate movies for one user's history, best first, history excluded, deterministic."""

    #: Short name recorded with every answer and in reports ("content-v1", "ease-v2", ...).
    name: str

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        """Up to ``k`` movies the user has not interacted with, best first."""
        ...

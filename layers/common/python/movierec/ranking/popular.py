"""The cold-user fallback: the current most popular movies, never an empty answer.

Popularity comes from the ingested per-movie aggregates (``movies`` table: distinct watchers, then
ratings) when there are any, padded with the index's catalog popularity, so a fresh system without a
single stream line still answers 20 movies.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from movierec.index.loaded import MovieIndex
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.content import popularity_scores, top_rows


class PopularRanker:
    """Ranks a fixed popularity list, skipping what the user has seen."""

    name = "popular"

    def __init__(self, ranked: Sequence[Scored]) -> None:
        self.ranked = list(ranked)

    @classmethod
    def from_sources(cls, index: MovieIndex, ingested: Sequence[Scored], depth: int = 200) -> "PopularRanker":
        """``ingested`` (best first) then the catalog's most popular, without duplicates, ``depth`` long."""
        catalog_scores = popularity_scores(index.popularity)
        catalog = [Scored(index.ids[r], float(catalog_scores[r])) for r in top_rows(catalog_scores, depth)]
        seen: set[str] = set()
        merged = []
        for item in [*ingested, *catalog]:
            if item.movie_id not in seen:
                seen.add(item.movie_id)
                merged.append(item)
        return cls(merged[:depth])

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        watched = {item.movie_id for item in history}
        return [s for s in self.ranked if s.movie_id not in watched][:k]


def rank_aggregates(rows: Sequence[tuple[str, float, float]], depth: int = 200) -> list[Scored]:
    """(movie id, watchers, ratings) -> best first by watchers, then ratings, then id (deterministic)."""
    ordered = sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))[:depth]
    top = max((r[1] for r in ordered), default=0.0) or 1.0
    return [Scored(movie_id, float(np.float64(watchers) / top)) for movie_id, watchers, _ in ordered]

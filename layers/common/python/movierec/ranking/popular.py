"""The most popular movies the user has not seen: the cold-user fallback and the popularity baseline.

One ranker, built from one of two sources of popularity:

- :meth:`PopularRanker.from_sources` (serving): the ingested per-movie aggregates (``movies`` table:
  distinct watchers, then ratings) when there are any, padded with the index's catalog popularity, so a
  fresh system without a single stream line still answers 20 movies;
- :meth:`PopularRanker.from_training` (evaluation, training): the number of users with each movie in
  their training histories, over a whole catalog.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from movierec.index.loaded import MovieIndex
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.scores import popularity_scores, top_rows


def popularity_counts(train: Mapping[int, Sequence[Interaction]]) -> Counter[str]:
    """Number of users with each movie in their TRAINING history (the "most popular" definition)."""
    return Counter(m for history in train.values() for m in {i.movie_id for i in history})


class PopularRanker:
    """Ranks a fixed popularity list, skipping what the user has seen."""

    def __init__(self, ranked: Sequence[Scored], name: str = "popular") -> None:
        self.name = name
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

    @classmethod
    def from_index(cls, index: MovieIndex) -> "PopularRanker":
        """The catalog's popularity alone: what a catalog version (no content, no model yet) ranks with
        where no ingested popularity is at hand (the training gate; serving merges the ingested one)."""
        return cls.from_sources(index, ())

    @classmethod
    def from_training(cls, train: Mapping[int, Sequence[Interaction]], catalog: Sequence[str],
                      name: str = "popular") -> "PopularRanker":  # fmt: skip
        """Every catalog movie by its number of training users (ties keep the catalog's order)."""
        counts = popularity_counts(train)
        order = sorted(catalog, key=lambda m: -counts.get(m, 0))  # stable sort: ties in catalog order
        return cls([Scored(m, float(counts.get(m, 0))) for m in order], name)

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        watched = {item.movie_id for item in history}
        out: list[Scored] = []
        for item in self.ranked:
            if item.movie_id not in watched:
                out.append(item)
                if len(out) == k:
                    break
        return out


def rank_aggregates(rows: Sequence[tuple[str, float, float]], depth: int = 200) -> list[Scored]:
    """(movie id, watchers, ratings) -> best first by watchers, then ratings, then id (deterministic)."""
    ordered = sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))[:depth]
    top = max((r[1] for r in ordered), default=0.0) or 1.0
    return [Scored(movie_id, float(np.float64(watchers) / top)) for movie_id, watchers, _ in ordered]

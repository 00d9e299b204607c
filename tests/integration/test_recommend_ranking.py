"""Ranker v1, the popular fallback and the ranker registry, on a real index of a small catalog slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa
import pytest

from movierec.index.build import BuildResult, build_index
from movierec.index.embed import EmbeddingCache
from movierec.index.loaded import MovieIndex, load_index
from movierec.models.movie import Movie
from movierec.ranking import registry
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.content import ContentRanker, seed_weight
from movierec.ranking.popular import PopularRanker, rank_aggregates


@pytest.fixture(scope="module")
def index(built: BuildResult) -> MovieIndex:
    return load_index(built.folder)


def _disjoint_seeds(index: MovieIndex) -> tuple[int, int]:
    """Two movies whose neighbour lists share nothing (so each one's neighbours carry only its own weight)."""
    for a in range(len(index)):
        for b in range(a + 1, len(index)):
            na, nb = set(index.nbr_idx[a]) | {a}, set(index.nbr_idx[b]) | {b}
            if not na & nb:
                return a, b
    # On a slice smaller than 2k+2 movies lists overlap; then take the pair overlapping least.
    pairs = [(len(set(index.nbr_idx[a][:10]) & set(index.nbr_idx[b][:10])), a, b)
             for a in range(len(index)) for b in range(a + 1, len(index))]  # fmt: skip
    _, a, b = min(pairs)
    return a, b


def test_watched_excluded_and_deterministic(index: MovieIndex) -> None:
    ranker = ContentRanker(index)
    history = [Interaction(index.ids[r], last_seen=r, rating=None if r % 2 else 4.0) for r in range(0, 30, 3)]
    first = ranker.rank(history, 20)
    assert len(first) == 20 and ranker.rank(list(reversed(history)), 20) == first
    assert not {s.movie_id for s in first} & {h.movie_id for h in history}
    assert [s.score for s in first] == sorted((s.score for s in first), reverse=True)


def test_rating_aware_ordering(index: MovieIndex) -> None:
    ranker = ContentRanker(index)
    a, b = _disjoint_seeds(index)
    near_a, near_b = index.ids[index.nbr_idx[a][0]], index.ids[index.nbr_idx[b][0]]

    def ranked(rating_a: float | None, rating_b: float | None) -> list[str]:
        history = [Interaction(index.ids[a], 1.0, rating_a), Interaction(index.ids[b], 2.0, rating_b)]
        return [s.movie_id for s in ranker.rank(history, len(index))]

    likes_a = ranked(5.0, 1.0)
    likes_b = ranked(1.0, 5.0)
    assert likes_a.index(near_a) < likes_a.index(near_b)
    assert likes_b.index(near_b) < likes_b.index(near_a)
    # A poorly rated seed pushes its neighbour below every movie the user has no signal about.
    scores = ranker.scores([Interaction(index.ids[b], 1.0, 1.0)])
    pop_only = ranker.scores([])
    assert scores[index.nbr_idx[b][0]] < pop_only[index.nbr_idx[b][0]]
    assert likes_a.index(near_b) > len(likes_a) - len(index.nbr_idx[b]) - 2
    # Unrated counts as 3.
    assert ranked(None, None) == ranked(3.0, 3.0) and seed_weight(None) == seed_weight(3.0) > 0 > seed_weight(2.0)


def test_only_unknown_movies_in_history_still_ranks(index: MovieIndex) -> None:
    answer = ContentRanker(index).rank([Interaction("not+in+index+2030", 1.0, 5.0)], 20)
    assert len(answer) == 20


def test_popular_prefers_ingested_then_catalog_and_skips_watched(index: MovieIndex) -> None:
    ingested = rank_aggregates([("new+film+2031", 9, 1), (index.ids[5], 4, 0), (index.ids[7], 9, 3)])
    assert [s.movie_id for s in ingested] == [index.ids[7], "new+film+2031", index.ids[5]]
    ranker = PopularRanker.from_sources(index, ingested)
    answer = ranker.rank([Interaction(index.ids[7], 1.0)], 20)
    assert [s.movie_id for s in answer[:2]] == ["new+film+2031", index.ids[5]]
    assert len(answer) == 20 and len({s.movie_id for s in answer}) == 20
    catalog_only = PopularRanker.from_sources(index, []).rank([], 20)
    top = int(np.argmax(index.popularity))
    assert len(catalog_only) == 20 and catalog_only[0].movie_id == index.ids[top]


@dataclass
class _FactorRanker:
    """A stand-in learned ranker: scores movies by an extra column written into the index."""

    index: MovieIndex
    name: str = "test-factors"

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        seen = {h.movie_id for h in history}
        weights = self.index.column("weight").to_pylist()
        order = sorted(range(len(self.index)), key=lambda r: (-weights[r], r))
        return [Scored(self.index.ids[r], weights[r]) for r in order if self.index.ids[r] not in seen][:k]


def test_registry_picks_the_ranker_named_by_the_manifest(
    catalog_slice: list[Movie], embedding_cache: EmbeddingCache, index: MovieIndex, tmp_path
) -> None:
    assert isinstance(registry.build_ranker(index), ContentRanker)
    movies = catalog_slice[:12]
    weight = pa.array([float(i % 5) for i in range(12)], pa.float64())
    result = build_index(movies, tmp_path / "v", cache=embedding_cache, ranker="test-factors",
                         extra_columns={"weight": weight}, progress=False)  # fmt: skip
    learned = load_index(result.folder)
    with pytest.raises(LookupError, match="test-factors"):
        registry.build_ranker(learned)
    extended = registry.BUILT_IN.with_ranker("test-factors", _FactorRanker)
    ranker = registry.build_ranker(learned, extended)
    assert isinstance(ranker, _FactorRanker)
    with pytest.raises(LookupError, match="test-factors"):  # the built-in registry was not changed
        registry.build_ranker(learned)
    assert [s.score for s in ranker.rank([], 3)] == [4.0, 4.0, 3.0]

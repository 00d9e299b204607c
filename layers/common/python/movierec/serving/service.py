"""Who gets which movies: history -> the index version's ranker, or the popular fallback.

The rankers are built once per index version (and the popular list once per popularity refresh) and
shared by all requests; only the latest pair is kept, so memory does not grow with versions or users.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from movierec.catalog.derived import movie_from_id
from movierec.dal.index_store import PINNED_MAX, IndexStore
from movierec.dal.movie_stats import scan_movie_stats
from movierec.dal.periodic import Periodic
from movierec.index.loaded import MovieIndex
from movierec.observability import make_logger
from movierec.ranking.base import Ranker
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.popular import PopularRanker, rank_aggregates
from movierec.ranking.registry import build_ranker

#: The course contract: up to 20 movie ids.
K = 20
logger = make_logger("recommend")


@dataclass(frozen=True)
class Answer:
    user_id: int
    items: list[Scored]
    titles: list[str]
    version: str
    ranker: str
    #: True when the user had no usable history and got the popular list.
    fallback: bool


@dataclass(frozen=True)
class _Rankers:
    index: MovieIndex
    popular_source: list[Scored]
    main: Ranker
    popular: PopularRanker


def ingested_popularity(old: list[Scored] | None) -> list[Scored]:
    """The most watched movies from the ingested aggregates; on failure the previous list (or none)."""
    try:
        return rank_aggregates(scan_movie_stats())
    except Exception:
        logger.exception("could not read movie aggregates; popular list falls back to catalog popularity")
        return old or []


class Recommender:
    def __init__(
        self,
        store: IndexStore,
        history: Callable[[int], Sequence[Interaction]],
        popularity: Periodic[list[Scored]],
        k: int = K,
    ) -> None:
        self.store = store
        self.history = history
        self.popularity = popularity
        self.k = k
        self._rankers: _Rankers | None = None
        #: Rankers of pinned (experiment) versions, by version; at most the store's pinned versions.
        self._pinned: dict[str, _Rankers] = {}
        self._lock = threading.Lock()

    def rankers(self, pinned: MovieIndex | None = None) -> _Rankers:
        """The rankers of the current index (or of ``pinned``, an experiment arm's version) and the
        popularity list, rebuilt only when either changed."""
        index, popular = self.store.current(), self.popularity.get()
        if pinned is not None and pinned is not index:
            return self._pinned_rankers(pinned, popular)
        current = self._rankers
        if current is not None and current.index is index and current.popular_source is popular:
            return current
        with self._lock:
            current = self._rankers
            if current is None or current.index is not index:
                main = build_ranker(index)
            else:
                main = current.main
            current = _Rankers(index, popular, main, PopularRanker.from_sources(index, popular))
            self._rankers = current
        return current

    def _pinned_rankers(self, index: MovieIndex, popular: list[Scored]) -> _Rankers:
        cached = self._pinned.get(index.version)
        if cached is not None and cached.index is index and cached.popular_source is popular:
            return cached
        with self._lock:
            main = cached.main if cached is not None and cached.index is index else build_ranker(index)
            built = _Rankers(index, popular, main, PopularRanker.from_sources(index, popular))
            pinned = {**self._pinned, index.version: built}
            while len(pinned) > PINNED_MAX:
                pinned.pop(next(iter(pinned)))
            self._pinned = pinned
        return built

    def recommend(self, user_id: int, pinned: MovieIndex | None = None) -> Answer:
        """The answer for ``user_id`` from the current index, or from ``pinned`` (an experiment arm)."""
        r = self.rankers(pinned)
        history = self.history(user_id)
        row_of = r.index.row_of
        fallback = not any(item.movie_id in row_of for item in history)
        ranker: Ranker = r.popular if fallback else r.main
        items = ranker.rank(history, self.k)
        if len(items) < self.k:  # a tiny index or a user who saw most of it: fill with popular movies
            taken = {s.movie_id for s in items}
            extra = [s for s in r.popular.rank(history, self.k + len(taken)) if s.movie_id not in taken]
            items = items + extra[: self.k - len(items)]
        titles = r.index.titles
        names = [titles[row_of[s.movie_id]] if s.movie_id in row_of else movie_from_id(s.movie_id).title for s in items]
        return Answer(user_id, items, names, r.index.version, ranker.name, fallback)

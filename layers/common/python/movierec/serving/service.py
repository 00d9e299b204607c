"""Who gets which movies: history -> the index version's ranker, or the popular fallback.

The rankers are built once per index version (and the popular list once per popularity refresh) and
shared by all requests; only the latest pair is kept, so memory does not grow with versions or users.

:meth:`Recommender.recommend` is the full answer (it reads storage and may fail, saying at which step
with :class:`Degrade`); :meth:`Recommender.popular_answer` is the degraded one, built from memory only, so
the API can always answer something while storage is down or slow.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from movierec.catalog.derived import movie_from_id
from movierec.dal.index_store import PINNED_MAX, IndexStore
from movierec.dal.movie_stats import scan_movie_stats
from movierec.reloaded import ReloadedValue
from movierec.dal.tables import Tables
from movierec.index.manifest import CATALOG_RANKER
from movierec.index.loaded import MovieIndex
from movierec.observability import make_logger
from movierec.ranking.base import Ranker
from movierec.models.ranking import ANSWER_SIZE, Interaction, Scored
from movierec.ranking.popular import PopularRanker, rank_aggregates
from movierec.ranking.registry import BUILT_IN, RankerRegistry

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
    #: Why this is the popular list instead of the full answer (``timeout``, ``history-unavailable``, ...);
    #: None for a full answer. The API sends it as ``X-Degraded``.
    degraded: str | None = None


class Degrade(RuntimeError):
    """A step of the full answer failed; ``reason`` (public, short) names the step, the cause is chained."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unavailable(RuntimeError):
    """Not even a popular list is in memory (no index loaded yet and no ingested popularity)."""


@dataclass(frozen=True)
class _Rankers:
    index: MovieIndex
    popular_source: list[Scored]
    main: Ranker
    popular: PopularRanker


def ingested_popularity(tables: Tables, old: list[Scored] | None) -> list[Scored]:
    """The most watched movies from the ingested aggregates; on failure the previous list (or none)."""
    try:
        return rank_aggregates(scan_movie_stats(tables))
    except Exception:
        logger.exception("could not read movie aggregates; popular list falls back to catalog popularity")
        return old or []


class Recommender:
    def __init__(
        self,
        store: IndexStore,
        history: Callable[[int], Sequence[Interaction]],
        popularity: ReloadedValue[list[Scored]],
        k: int = ANSWER_SIZE,
        registry: RankerRegistry = BUILT_IN,
    ) -> None:
        self.store = store
        self.registry = registry
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
        popular = self.popularity.get()  # first: a popular list exists even while no index can be loaded
        current = self._current_rankers(self.store.current(), popular)
        # The current version's rankers are built even for a pinned request: their popular list is what
        # a failing experiment arm degrades to, so it must exist before the arm is tried.
        if pinned is not None and pinned is not current.index:
            return self._pinned_rankers(pinned, popular)
        return current

    def _current_rankers(self, index: MovieIndex, popular: list[Scored]) -> _Rankers:
        current = self._rankers
        if current is not None and current.index is index and current.popular_source is popular:
            return current
        with self._lock:
            current = self._rankers
            current = self._built(index, popular, current.main if current is not None and current.index is index else None)
            self._rankers = current
        return current

    def _built(self, index: MovieIndex, popular: list[Scored], main: Ranker | None) -> _Rankers:
        """The rankers of ``index`` (``main``: already built for it, reused). A catalog version (first
        start: no content, no model yet) is served by the popular list itself, the ingested popularity
        merged in, so its full answers are as good as the degraded ones and never worse."""
        popular_ranker = PopularRanker.from_sources(index, popular)
        if index.manifest.ranker == CATALOG_RANKER:
            return _Rankers(index, popular, popular_ranker, popular_ranker)
        return _Rankers(index, popular, main or self.registry.build(index), popular_ranker)

    def _pinned_rankers(self, index: MovieIndex, popular: list[Scored]) -> _Rankers:
        cached = self._pinned.get(index.version)
        if cached is not None and cached.index is index and cached.popular_source is popular:
            return cached
        with self._lock:
            built = self._built(index, popular, cached.main if cached is not None and cached.index is index else None)
            pinned = {**self._pinned, index.version: built}
            while len(pinned) > PINNED_MAX:
                pinned.pop(next(iter(pinned)))
            self._pinned = pinned
        return built

    def recommend(self, user_id: int, pinned: MovieIndex | None = None) -> Answer:
        """The full answer: the user's history ranked by the current index's ranker, or by ``pinned``'s
        (an experiment arm's version); reads storage."""
        try:
            r = self.rankers(pinned)
        except Exception as exc:
            raise Degrade("index-unavailable") from exc
        try:
            history = self.history(user_id)
        except Exception as exc:
            raise Degrade("history-unavailable") from exc
        try:
            row_of = r.index.row_of
            fallback = not any(item.movie_id in row_of for item in history)
            ranker: Ranker = r.popular if fallback else r.main
            items = ranker.rank(history, self.k)
            if len(items) < self.k:  # a tiny index or a user who saw most of it: fill with popular movies
                taken = {s.movie_id for s in items}
                extra = [s for s in r.popular.rank(history, self.k + len(taken)) if s.movie_id not in taken]
                items = items + extra[: self.k - len(items)]
        except Exception as exc:
            raise Degrade("ranking-failed") from exc
        return Answer(user_id, items, _titles(r.index, items), r.index.version, ranker.name, fallback)

    def popular_answer(self, user_id: int, reason: str) -> Answer:
        """The popular list from memory (no storage call, no history): what a degraded request gets.

        The last built rankers' popular list when there is one (the index's catalog popularity merged with
        the ingested one); before any index was loaded, the ingested popularity alone. Raises
        :class:`Unavailable` when neither is in memory.
        """
        r = self._rankers
        if r is not None:
            items = r.popular.rank((), self.k)
            return Answer(user_id, items, _titles(r.index, items), r.index.version, r.popular.name, True, reason)
        ingested = self.popularity.loaded
        if not ingested:
            raise Unavailable("no index loaded and no ingested popularity")
        items = list(ingested[: self.k])
        return Answer(user_id, items, _titles(None, items), "none", PopularRanker.name, True, reason)


def _titles(index: MovieIndex | None, items: Sequence[Scored]) -> list[str]:
    """Titles from the index, or derived from the id for movies it lacks."""
    row_of = index.row_of if index is not None else {}
    titles = index.titles if index is not None else []
    return [titles[row_of[s.movie_id]] if s.movie_id in row_of else movie_from_id(s.movie_id).title for s in items]

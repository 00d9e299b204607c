"""Which ranker serves an index version: the manifest's ``ranker`` field names it.

A ranker factory takes the loaded :class:`MovieIndex` (ids, vectors, neighbour lists, popularity, extra
columns, manifest) and returns a :class:`~movierec.ranking.base.Ranker`. A new ranker registers its
factory under its name and writes index versions whose manifest names it (``build_index(...,
ranker="<name>", extra_columns=...)``); the API then serves it without any change.
"""

from __future__ import annotations

from typing import Callable

from movierec.index.loaded import MovieIndex
from movierec.ranking.base import Ranker
from movierec.ranking.collab import CollabRanker
from movierec.ranking.content import ContentRanker

RankerFactory = Callable[[MovieIndex], Ranker]

_FACTORIES: dict[str, RankerFactory] = {
    ContentRanker.name: ContentRanker.from_index,
    CollabRanker.name: CollabRanker.from_index,  # ranker v2: versions written by `movierec train`
}


def register(name: str, factory: RankerFactory) -> None:
    """Make ``name`` (as written in manifests) build rankers with ``factory``."""
    _FACTORIES[name] = factory


def known() -> list[str]:
    return sorted(_FACTORIES)


def build_ranker(index: MovieIndex) -> Ranker:
    """The ranker the index's manifest asks for; a clear error if this code does not know it."""
    name = index.manifest.ranker
    factory = _FACTORIES.get(name)
    if factory is None:
        raise LookupError(f"index {index.version} wants ranker {name!r}; this code knows {', '.join(known())}")
    return factory(index)

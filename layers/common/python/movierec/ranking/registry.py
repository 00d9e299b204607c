"""Which ranker serves an index version: the manifest's ``ranker`` field names it.

A ranker factory takes the loaded :class:`MovieIndex` (ids, vectors, neighbour lists, popularity, extra
columns, manifest) and returns a :class:`~movierec.ranking.base.Ranker`. A registry is an immutable value
(no process-global table that one caller's registration changes for every other): :data:`BUILT_IN` knows
the rankers this code ships; a new ranker is served by passing ``BUILT_IN.with_ranker("<name>", factory)``
to the :class:`~movierec.serving.service.Recommender` and writing index versions whose manifest names it
(``build_index(..., ranker="<name>", extra_columns=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

from movierec.index.manifest import CATALOG_RANKER
from movierec.index.loaded import MovieIndex
from movierec.ranking.base import Ranker
from movierec.ranking.collab import CollabRanker
from movierec.ranking.content import ContentRanker
from movierec.ranking.popular import PopularRanker

RankerFactory = Callable[[MovieIndex], Ranker]


@dataclass(frozen=True)
class RankerRegistry:
    """Ranker factories by the name manifests use."""

    factories: Mapping[str, RankerFactory]

    def with_ranker(self, name: str, factory: RankerFactory) -> "RankerRegistry":
        """A new registry that also (or instead) builds ``name`` with ``factory``; this one is unchanged."""
        return RankerRegistry(MappingProxyType({**self.factories, name: factory}))

    def known(self) -> list[str]:
        return sorted(self.factories)

    def build(self, index: MovieIndex) -> Ranker:
        """The ranker the index's manifest asks for; a clear error if this registry does not know it."""
        name = index.manifest.ranker
        factory = self.factories.get(name)
        if factory is None:
            raise LookupError(f"index {index.version} wants ranker {name!r}; this code knows {', '.join(self.known())}")
        return factory(index)


BUILT_IN = RankerRegistry(
    MappingProxyType(
        {
            ContentRanker.name: ContentRanker.from_index,
            CollabRanker.name: CollabRanker.from_index,  # ranker v2: versions written by `movierec train`
            # a first start's catalog version, before its content or a model exists (serving merges in
            # the ingested popularity: movierec.serving.service)
            CATALOG_RANKER: PopularRanker.from_index,
        }
    )
)


def build_ranker(index: MovieIndex, registry: RankerRegistry = BUILT_IN) -> Ranker:
    """The ranker ``index`` asks for, from ``registry`` (the built-in rankers by default)."""
    return registry.build(index)

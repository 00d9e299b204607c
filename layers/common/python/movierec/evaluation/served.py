"""Our served ranker(s) on MovieLens, through the exact code the API uses.

The API builds its ranker from a loaded index version with :func:`movierec.ranking.registry.build_ranker`
(the manifest names the ranker). Here the same index code (:func:`movierec.index.build.build_index`)
builds a version over the MovieLens catalog — ``movies.csv`` joined to the course catalog where
``ml_to_course_ids.csv`` links a movie, so a linked movie carries the course overview and popularity —
and the same registry builds the ranker from it. The version is cached under
``<index cache>/movielens-<fingerprint>`` (and embeddings in the embedding cache), so only the first run
pays for embedding ~9.7k texts.

The index speaks the system's movie ids (``heat+1995``; course-style ids derived from the title for
unlinked movies) while the MovieLens log speaks ``movieId``: :class:`IdTranslatingRanker` translates the history in and the
answer out, and changes nothing else. Two MovieLens movies linked to one course id share an index row;
the answer names the first of them (:attr:`IdTranslatingRanker.shared` counts such rows).

Usage::

    specs = default_specs() | served_specs("movielens", settings)    # adds "content-v1"
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from movierec.catalog.resolve import resolve_movies
from movierec.config import Settings, get_settings
from movierec.dal.index_store import IndexMissingError, download_version, read_pointer
from movierec.evaluation.scoring import ModelSpec
from movierec.index.build import DEFAULT_K, DEFAULT_RANKER, build_index, fingerprint, unique_movies, write_index_version
from movierec.index.embed import DIM, EmbeddingCache
from movierec.index.loaded import MovieIndex, load_index
from movierec.index.manifest import MANIFEST_FILE
from movierec.index.table import to_arrow
from movierec.index.text import movie_text, text_hash
from movierec.index_job import catalog_movies
from movierec.models.ranking import Interaction, Scored
from movierec.ranking.base import Ranker
from movierec.ranking.registry import build_ranker


class IdTranslatingRanker:
    """Runs ``inner`` (which speaks index ids) on a history in MovieLens ids; answers in MovieLens ids."""

    def __init__(self, inner: Ranker, to_index: Mapping[str, str]) -> None:
        self.inner = inner
        self.name = inner.name
        self._to_index = dict(to_index)
        self._from_index: dict[str, str] = {}
        for ml_id, index_id in sorted(to_index.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
            self._from_index.setdefault(index_id, ml_id)
        self.shared = len(self._to_index) - len(self._from_index)

    def rank(self, history: Sequence[Interaction], k: int) -> list[Scored]:
        mapped = [replace(i, movie_id=self._to_index[i.movie_id]) for i in history if i.movie_id in self._to_index]
        seen = {i.movie_id for i in history}
        out = []
        for s in self.inner.rank(mapped, k):
            ml_id = self._from_index.get(s.movie_id)
            if ml_id is not None and ml_id not in seen:
                out.append(Scored(ml_id, s.score))
        return out


def catalog_index(catalog: str = "movielens", settings: Settings | None = None, progress: bool = True,
                  extra_ids: Sequence[str] = (), embed: bool = True) -> tuple[MovieIndex, dict[str, str]]:  # fmt: skip
    """The index version of ``catalog`` (``movielens`` or ``course``) built by the API's index code once,
    then loaded from the cache, and the map from the evaluated log's movie ids to index ids
    (``movieId`` -> index id for MovieLens; the identity for the course catalog, whose ids the stream speaks).

    ``extra_ids`` (course catalog only) are movies the catalog lacks, added as the running system's
    retrain loop adds the movies first seen in the stream (``movierec index update``: records derived
    from the id, no movie API here), so the evaluated index holds what the served one would."""

    if not embed:
        return _bare_index(catalog, settings, extra_ids)
    s = settings or get_settings()
    movies = _catalog_movies(catalog, s, extra_ids)
    if catalog == "movielens":
        to_index = {str(m.movielens_id): m.id for m in movies if m.movielens_id is not None}
    else:
        to_index = {m.id: m.id for m in movies}
    folder = s.index_cache_dir / f"{catalog}-{fingerprint(unique_movies(movies), DEFAULT_K, DEFAULT_RANKER, [])}"
    if not (folder / MANIFEST_FILE).exists():  # the manifest is written last: its presence = complete
        work = s.index_cache_dir / f".build-{catalog}-{uuid.uuid4().hex[:8]}"
        try:
            build_index(movies, work, cache=EmbeddingCache(s.embedding_cache_dir), progress=progress,
                        build_info={"catalog": catalog, "purpose": "offline evaluation"})
            try:
                work.rename(folder)
            except OSError:  # another process finished the same build first: theirs is just as good
                if not (folder / MANIFEST_FILE).exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return load_index(folder), to_index


def _catalog_movies(catalog: str, settings: Settings, extra_ids: Sequence[str]) -> list:
    movies = catalog_movies(catalog, settings)
    if extra_ids and catalog == "course":
        have = {m.id for m in movies}
        movies = [*movies, *resolve_movies([i for i in extra_ids if i not in have], {})]
    return unique_movies(movies)


def _bare_index(catalog: str, settings: Settings | None, extra_ids: Sequence[str]) -> tuple[MovieIndex, dict[str, str]]:
    """:func:`catalog_index` without embedding (``--no-embed``): the same rows, ids and popularity, zero
    vectors and no content neighbours, so ranker v2's content part (cold movies only) scores nothing.
    For a machine where embedding ~20k texts does not finish in time; say so beside its figures."""
    s = settings or get_settings()
    movies = _catalog_movies(catalog, s, extra_ids)
    fp = fingerprint(movies, DEFAULT_K, DEFAULT_RANKER, [])
    folder = s.index_cache_dir / f"{catalog}-noembed-{fp}"
    if not (folder / MANIFEST_FILE).exists():
        n = len(movies)
        table = to_arrow(movies, [text_hash(movie_text(m)) for m in movies], np.zeros((n, DIM), np.float32),
                         np.full((n, DEFAULT_K), -1, np.int32), np.zeros((n, DEFAULT_K), np.float32))  # fmt: skip
        work = s.index_cache_dir / f".build-{catalog}-noembed-{uuid.uuid4().hex[:8]}"
        try:
            write_index_version(work, table, fp, DEFAULT_RANKER, DEFAULT_K, None,
                                {"catalog": catalog, "purpose": "offline evaluation", "embedded": "none"})  # fmt: skip
            try:
                work.rename(folder)
            except OSError:
                if not (folder / MANIFEST_FILE).exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    to_index = {str(m.movielens_id): m.id for m in movies if m.movielens_id is not None} if catalog == "movielens" \
        else {m.id: m.id for m in movies}  # fmt: skip
    return load_index(folder), to_index


def movielens_index(settings: Settings | None = None, progress: bool = True) -> tuple[MovieIndex, dict[str, str]]:
    """The MovieLens-catalog index version (built once, then loaded from the cache), and movieId -> index id."""
    return catalog_index("movielens", settings, progress)


def published_index(settings: Settings | None = None) -> MovieIndex:
    """The version the API serves now (the pointer's), downloaded into the index cache like the API does."""

    s = settings or get_settings()
    version = read_pointer(s)
    if version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    return load_index(download_version(version, s))


def served_specs(source: str = "movielens", settings: Settings | None = None, progress: bool = True) -> dict[str, ModelSpec]:
    """The served ranker as an offline model, built by the API's registry from an index version.

    ``movielens``: over the MovieLens-catalog index (ids translated); ``dynamodb``: over the version the
    API serves now (the ingested histories already speak its ids). The ranker reads no interactions, only
    the index, so it is the same object for every protocol: ``build`` ignores the training histories.
    """

    if source == "movielens":
        index, to_index = movielens_index(settings, progress)
        ranker: Ranker = IdTranslatingRanker(build_ranker(index), to_index)
    else:
        ranker = build_ranker(published_index(settings))
    return {ranker.name: ModelSpec(build=lambda train, catalog, **params: ranker)}

"""The index jobs against a deployment: build + publish, build if missing, incremental update, status.

Used by ``movierec index build|update|status`` (``update --from-dynamodb`` adds the movie ids ingest
has seen that the index lacks) and by ``make up`` (the first build of the course catalog's index, and
the same update in its background loop, ``infra/retrain.py``). The work folder is created under the
index cache, and a published version is left there, so a local API process does not download what this
machine just built.

It lives above ``index/`` and ``dal/`` (it joins the catalog sources, the tables and the S3 index store),
so that those two never import each other (tests/unit/test_layers.py).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from movierec.catalog.course import load_course_catalog
from movierec.catalog.movie_api import MovieApiClient
from movierec.catalog.movielens import load_movielens_catalog
from movierec.catalog.resolve import resolve_movies
from movierec.config import Settings
from movierec.dal.index_store import IndexMissingError, download_version, read_manifest, read_pointer
from movierec.dal.movie_stats import scan_movie_stats
from movierec.dal.tables import Tables
from movierec.datasets import DataMissingError
from movierec.index.build import DEFAULT_K, DEFAULT_RANKER, BuildResult, build_index, fingerprint, unique_movies, update_index
from movierec.index.embed import EmbeddingCache
from movierec.index.loaded import load_index
from movierec.index.manifest import Manifest
from movierec.index.publish import publish
from movierec.models.movie import Movie
from movierec.observability import make_logger

CATALOGS = ("course", "movielens")
logger = make_logger("index")


def catalog_movies(name: str, settings: Settings) -> list[Movie]:
    """``course``: the recorded course catalog; ``movielens``: ml-latest-small joined to it."""
    course = load_course_catalog(settings)
    if course.rejected:
        logger.warning("catalog lines rejected", extra={"count": len(course.rejected), "first": course.rejected[:5]})
    if name == "course":
        return course.movies
    if name == "movielens":
        return load_movielens_catalog(course.movies, settings)
    raise ValueError(f"unknown catalog {name!r}; known: {', '.join(CATALOGS)}")


def _publish_from_work(settings: Settings, build: Callable[[Path], BuildResult | None]) -> Manifest | None:
    """Run ``build`` in a fresh work folder, publish what it wrote, keep it as the local cache copy."""
    work = settings.index_cache_dir / f".build-{uuid.uuid4().hex[:8]}"
    try:
        result = build(work)
        if result is None:
            return None
        publish(result.folder, result.manifest.version, settings)
        target = settings.index_cache_dir / result.manifest.version
        if not target.exists():
            work.rename(target)
        return result.manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_and_publish(
    movies: list[Movie], settings: Settings, *, catalog: str, force: bool = False, k: int = DEFAULT_K,
    ranker: str = DEFAULT_RANKER, progress: bool = True,
) -> tuple[Manifest, bool]:  # fmt: skip
    """Build and publish an index of ``movies``; (manifest, False) when the current one is the same build."""
    current = read_pointer(settings)
    if current is not None and not force:
        manifest = read_manifest(current, settings)
        if manifest.source_fingerprint == fingerprint(unique_movies(movies), k, ranker, []):
            return manifest, False
    cache = EmbeddingCache(settings.embedding_cache_dir)
    manifest = _publish_from_work(
        settings,
        lambda work: build_index(movies, work, cache=cache, k=k, ranker=ranker, progress=progress,
                                 build_info={"catalog": catalog}),  # fmt: skip
    )
    assert manifest is not None
    return manifest, True


def ensure_index(settings: Settings, progress: bool = True) -> tuple[Manifest, bool]:
    """The current index; built from the course catalog and published first if there is none."""
    current = read_pointer(settings)
    if current is not None:
        return read_manifest(current, settings), False
    return build_and_publish(catalog_movies("course", settings), settings, catalog="course", progress=progress)


def update_published(movie_ids: Iterable[str], settings: Settings, progress: bool = True) -> Manifest | None:
    """Add the movies among ``movie_ids`` that the current index lacks; None when it lacks none.

    Their records come from the course catalog when it has them, else the movie API (when
    ``MOVIEREC_MOVIE_API_URL`` is set), else are derived from the id.
    """
    version = read_pointer(settings)
    if version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    base = load_index(download_version(version, settings))
    new_ids = [i for i in dict.fromkeys(movie_ids) if i not in base.row_of]
    if not new_ids:
        return None
    try:
        known = {m.id: m for m in load_course_catalog(settings).movies}
    except DataMissingError:
        known = {}  # e.g. inside a deployed function: the API or the id itself describes the movie
    api = MovieApiClient(settings.movie_api_url) if settings.movie_api_url else None
    movies = resolve_movies(new_ids, known, api)
    cache = EmbeddingCache(settings.embedding_cache_dir)
    return _publish_from_work(settings, lambda work: update_index(base, movies, work, cache=cache, progress=progress))


def ids_missing_from_index(settings: Settings) -> list[str]:
    """Movie ids in the ingested ``movies`` table that the current index does not have (sorted)."""
    version = read_pointer(settings)
    if version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    index = load_index(download_version(version, settings))
    return sorted(movie_id for movie_id, _, _ in scan_movie_stats(Tables(settings)) if movie_id not in index.row_of)

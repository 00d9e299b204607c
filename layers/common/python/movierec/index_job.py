"""The index jobs against a deployment: build + publish, build if missing, incremental update, status.

Used by ``movierec index build|update|status`` (``update --from-dynamodb`` adds the movie ids ingest
has seen that the index lacks), by ``make up`` (the first index of the course catalog, and the same
update in its background loop, ``infra/retrain.py``) and by the deployed train function (that update
before each run).

A first start must serve within a minute, but embedding the whole course catalog takes minutes on 2
cores. So :func:`ensure_index` publishes, when the embedding cache does not hold the catalog yet, a
catalog version without content (seconds; served by the popular list, and a model can be trained onto
it at once), and :func:`embed_published` later computes the content of whatever version is current by
then (a trained one keeps its model) and publishes it: ``make up`` runs that in the background.

The work folder is created under the index cache, and a published version is left there, so a local API
process does not download what this machine just built.

It lives above ``index/`` and ``dal/`` (it joins the catalog sources, the tables and the S3 index store),
so that those two never import each other (tests/unit/test_layers.py).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from movierec.catalog.course import load_course_catalog
from movierec.catalog.movie_api import MovieApiClient
from movierec.catalog.movielens import load_movielens_catalog
from movierec.catalog.resolve import resolve_movies
from movierec.config import Settings
from movierec.dal.experiment_store import running_experiment
from movierec.dal.index_store import IndexMissingError, download_version, published_versions, read_manifest, read_pointer
from movierec.dal.movie_stats import scan_movie_stats
from movierec.dal.tables import Tables
from movierec.datasets import DataMissingError
from movierec.index.build import (
    DEFAULT_K, DEFAULT_RANKER, BuildResult, build_catalog_index, build_index, embed_version, fingerprint, unique_movies,
    update_index,
)  # fmt: skip
from movierec.index.embed import EmbeddingCache, embed_with_cache
from movierec.index.text import movie_text, text_hash
from movierec.index.loaded import load_index
from movierec.index.manifest import CATALOG_RANKER, Manifest
from movierec.index.publish import delete_data, publish
from movierec.index.store import expired
from movierec.index.table import movies_of
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


def retain_versions(settings: Settings) -> list[str]:
    """After a publish: delete the data of the versions past ``index_keep_versions`` (never the current
    one or a running experiment's arms; :func:`movierec.index.store.expired`); returns their names.

    Each retrain publishes a version, so without this the bucket (and the local stack's journal, and
    moto's memory) grew by one course-catalog table per round. A failure (S3 down, a role without
    ``s3:DeleteObject``) is logged and the publish stands; the next publish tries again."""
    try:
        versions = published_versions(settings)
        running = running_experiment(settings)
        protected = {read_pointer(settings) or ""} | ({running.control, running.treatment} if running else set())
        gone = [v for v in expired(versions, settings.index_keep_versions, protected) if versions[v]]
        for version in gone:
            delete_data(version, settings)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("old index versions not pruned; the next publish tries again",
                       extra={"error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
        return []
    if gone:
        logger.info("old index versions pruned (manifests kept)", extra={"versions": gone, "keep": settings.index_keep_versions})
    return gone


def _publish_from_work(settings: Settings, build: Callable[[Path], BuildResult | None]) -> Manifest | None:
    """Run ``build`` in a fresh work folder, publish what it wrote, keep it as the local cache copy."""
    work = settings.index_cache_dir / f".build-{uuid.uuid4().hex[:8]}"
    try:
        result = build(work)
        if result is None:
            return None
        publish(result.folder, result.manifest.version, settings)
        retain_versions(settings)
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
    """The current index; if there is none, one of the course catalog is published first: built whole
    when the embedding cache holds every movie's text (seconds), else a catalog version without content
    (seconds too; :func:`embed_published` adds the content later). Either is served by the popular list
    (:data:`CATALOG_RANKER`) until a trained model passes the gate: content-v1 loses to it offline.
    (manifest, published now?)"""
    current = read_pointer(settings)
    if current is not None:
        return read_manifest(current, settings), False
    movies = unique_movies(catalog_movies("course", settings))
    if EmbeddingCache(settings.embedding_cache_dir).missing([text_hash(movie_text(m)) for m in movies]) == 0:
        return build_and_publish(movies, settings, catalog="course", ranker=CATALOG_RANKER, progress=progress)
    manifest = _publish_from_work(settings, lambda work: build_catalog_index(movies, work, build_info={"catalog": "course"}))
    assert manifest is not None
    return manifest, True


def embed_published(settings: Settings, stop: threading.Event | None = None, progress: bool = True,
                    report: Callable[[int, int], None] | None = None) -> Manifest | None:  # fmt: skip
    """The current version with its content computed, published; None when it has content already.

    Embeds what the cache lacks (chunk by chunk, resumable), then the neighbour lists; a trained model
    and its ranker are kept. ``stop`` cancels at a safe point (:class:`~movierec.models.cancel.Cancelled`;
    the pointer is untouched). The caller must keep other publishers out meanwhile (``make up`` holds
    its publishing lock): the version is derived from the one current at the start.
    """
    version = read_pointer(settings)
    if version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    base = load_index(download_version(version, settings))
    if base.manifest.has_content:
        return None
    cache = EmbeddingCache(settings.embedding_cache_dir)
    return _publish_from_work(
        settings, lambda work: embed_version(base, work, cache=cache, progress=progress, stop=stop, report=report)
    )


def fill_embedding_cache(settings: Settings, stop: threading.Event | None = None,
                         report: Callable[[int, int], None] | None = None) -> int:  # fmt: skip
    """Embed the current version's texts the cache lacks, publishing nothing; returns how many.

    The slow part of :func:`embed_published`, done first without holding anything, so other jobs (the
    first training round) publish meanwhile; ``stop`` cancels between chunks (the chunks done stay cached).
    """
    version = read_pointer(settings)
    if version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    texts = [movie_text(m) for m in movies_of(load_index(download_version(version, settings)).table)]
    cache = EmbeddingCache(settings.embedding_cache_dir)
    return embed_with_cache(texts, [text_hash(t) for t in texts], cache, progress=False, stop=stop, report=report)[1]


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


def add_stream_movies(settings: Settings, progress: bool = False) -> tuple[int, Manifest | None]:
    """Add the movie ids ingest has seen that the current index lacks: (how many, the new version, or None
    when none was missing). Run before every training round, locally (``infra/retrain.py``) and by the
    deployed train function: a model learns and serves only movies that are rows of the version it is
    trained onto, and the course stream names movies the catalog lacks (3,005 of the 19,965 in the course
    files). Without them ranker v2 loses to EASE on what the system ingested (docs/evaluation.md, "Current
    numbers: dynamodb")."""
    missing = ids_missing_from_index(settings)
    return len(missing), (update_published(missing, settings, progress=progress) if missing else None)


def ids_missing_from_index(settings: Settings) -> list[str]:
    """Movie ids in the ingested ``movies`` table that the current index does not have (sorted)."""
    version = read_pointer(settings)
    if version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    index = load_index(download_version(version, settings))
    return sorted(movie_id for movie_id, _, _ in scan_movie_stats(Tables(settings)) if movie_id not in index.row_of)

"""Fixtures of the index and recommend tests: a small real catalog slice, embedded once per session.

The real model embeds ~80 real course movies once per test session (loading the model dominates);
each test then publishes that same built version into its own isolated bucket, so tests stay
independent without re-embedding. Test modules import these fixtures, and pytest makes a separate
session fixture per importing module, so the expensive results are also kept in :data:`_ONCE`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from movierec.catalog.course import read_course_catalog
from movierec.config import Settings, get_settings
from movierec.index.build import BuildResult, build_index
from movierec.index.embed import EmbeddingCache
from movierec.index.publish import publish
from movierec.models.movie import Movie
from tests.timeouts import TEST_TIMEOUT_S

SLICE = 80
_ONCE: dict[str, object] = {}


@pytest.fixture(scope="session")
def catalog_slice(data_dir: Path) -> list[Movie]:
    """Every 140th course movie (varied genres and years), plus a few well-known ones."""
    if "slice" in _ONCE:
        return _ONCE["slice"]  # type: ignore[return-value]
    movies = read_course_catalog(data_dir / "catalog" / "movies.jsonl").movies
    wanted = {"toy+story+1995", "toy+story+2+1999", "heat+1995", "the+godfather+1972", "the+godfather+part+ii+1974"}
    picked = [m for m in movies if m.id in wanted] + movies[:: len(movies) // SLICE]
    _ONCE["slice"] = list({m.id: m for m in picked}.values())
    return _ONCE["slice"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingCache:
    return EmbeddingCache(tmp_path_factory.getbasetemp() / "embeddings")


@pytest.fixture(scope="session")
def built(catalog_slice: list[Movie], embedding_cache: EmbeddingCache, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The slice's index version folder, built with the real model (once per session)."""
    if "built" not in _ONCE:
        folder = tmp_path_factory.getbasetemp() / "built" / "v"
        _ONCE["built"] = build_index(catalog_slice, folder, cache=embedding_cache, progress=False)
    return _ONCE["built"]  # type: ignore[return-value]


@pytest.fixture
def settings(isolated: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``isolated`` with this test's own index cache folder (env and ``get_settings()`` follow)."""
    monkeypatch.setenv("MOVIEREC_INDEX_CACHE", str(tmp_path / "index-cache"))
    monkeypatch.setenv("MOVIEREC_EMBED_CACHE", str(tmp_path / "embeddings"))
    # A loaded machine must not turn a test's full answer into a degraded one: tests of degrading set it lower.
    monkeypatch.setenv("MOVIEREC_REQUEST_BUDGET_MS", str(int(TEST_TIMEOUT_S * 1000)))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def published(settings: Settings, built: BuildResult) -> BuildResult:
    """``built`` published (files + pointer) in this test's own bucket."""
    publish(built.folder, built.manifest.version, settings)
    return built

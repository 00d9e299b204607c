"""A first start's catalog version (no content yet) and the step that adds its content later.

The catalog version must serve at once (the popular list), take a trained model like any version, and
become the same rows with vectors and exact neighbour lists when the embeddings are ready, keeping the
model. Embeddings come from a cache filled here with fixed vectors (keyed by the real text hashes), so
no model is loaded and the neighbour lists can be checked exactly.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from movierec.index.build import build_catalog_index, embed_version, update_index
from movierec.index.embed import DIM, EmbeddingCache, embed_with_cache
from movierec.index.loaded import load_index
from movierec.index.manifest import CATALOG_RANKER
from movierec.index.neighbours import all_neighbours
from movierec.index.text import movie_text, text_hash
from movierec.models.cancel import Cancelled
from movierec.models.movie import Movie
from movierec.models.ranking import Interaction
from movierec.ranking.popular import PopularRanker
from movierec.ranking.registry import build_ranker

N, K = 12, 4


def _movies(n: int = N, start: int = 0) -> list[Movie]:
    return [Movie(id=f"film+{i}", title=f"Film {i}", overview=f"story number {i}", popularity=float(i))
            for i in range(start, start + n)]  # fmt: skip


def _cache(tmp_path: Path, movies: list[Movie]) -> tuple[EmbeddingCache, dict[str, np.ndarray]]:
    """A cache holding a fixed unit vector for every movie's text."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(movies), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = [text_hash(movie_text(m)) for m in movies]
    cache = EmbeddingCache(tmp_path / "embeddings")
    cache.add(keys, vectors)
    return cache, dict(zip(keys, vectors))


def test_a_catalog_version_has_no_content_and_is_served_by_the_popular_list(tmp_path: Path) -> None:
    built = build_catalog_index(_movies(), tmp_path / "v0", k=K)
    index = load_index(built.folder)
    assert built.embedded == 0 and not index.manifest.has_content and index.manifest.ranker == CATALOG_RANKER
    assert not index.vectors.any() and (index.nbr_idx == -1).all() and index.nbr_idx.shape == (N, K)
    ranker = build_ranker(index)
    assert isinstance(ranker, PopularRanker)
    seen = [Interaction("film+11", last_seen=1.0)]
    # catalog popularity, best first, without what the user saw
    assert [s.movie_id for s in ranker.rank(seen, 3)] == ["film+10", "film+9", "film+8"]


def test_content_is_added_to_the_same_rows_with_exact_neighbours(tmp_path: Path) -> None:
    movies = _movies()
    cache, vectors = _cache(tmp_path, movies)
    base = load_index(build_catalog_index(movies, tmp_path / "v0", k=K).folder)
    result = embed_version(base, tmp_path / "v1", cache=cache, progress=False)
    index = load_index(result.folder)
    assert result.embedded == 0  # all from the cache
    assert index.manifest.has_content and index.manifest.ranker == CATALOG_RANKER  # popular beats content-v1
    assert index.manifest.parent == base.version and index.ids == base.ids
    expected = np.stack([vectors[text_hash(movie_text(m))] for m in movies])
    np.testing.assert_array_equal(index.vectors, expected)
    want_idx, want_sim = all_neighbours(expected, K)
    np.testing.assert_array_equal(index.nbr_idx, want_idx)
    np.testing.assert_allclose(index.nbr_sim, want_sim)


def test_a_model_trained_onto_the_catalog_version_survives_the_content_step(tmp_path: Path) -> None:
    """Extra columns (a trained model: row numbers) and the version's ranker are kept as they are."""
    movies = _movies()
    cache, _ = _cache(tmp_path, movies)
    base_dir = tmp_path / "v0"
    build_catalog_index(movies, base_dir, k=K)
    base = load_index(base_dir)
    model = pa.array(list(range(N)), pa.int32())
    from movierec.index.build import write_index_version

    trained_dir = tmp_path / "trained"
    write_index_version(trained_dir, base.table.append_column("cf_count", model), "ab" * 8, "collab-v2", K,
                        base.version, {**base.manifest.build, "training": {"fold_in": {}}})  # fmt: skip
    trained = load_index(trained_dir)
    assert not trained.manifest.has_content  # inherited from the catalog version
    index = load_index(embed_version(trained, tmp_path / "v1", cache=cache, progress=False).folder)
    assert index.manifest.ranker == "collab-v2" and index.manifest.has_content
    assert index.column("cf_count").to_pylist() == list(range(N))
    assert "training" in index.manifest.build


def test_an_update_of_a_catalog_version_adds_rows_without_embedding(tmp_path: Path) -> None:
    base = load_index(build_catalog_index(_movies(), tmp_path / "v0", k=K).folder)
    # no cache and no model: embedding anything here would load sentence-transformers and fail the intent
    result = update_index(base, _movies(2, start=N), tmp_path / "v1", cache=None, progress=False)
    assert result is not None and result.embedded == 0
    index = load_index(result.folder)
    assert len(index) == N + 2 and not index.manifest.has_content and index.manifest.ranker == CATALOG_RANKER
    assert not index.vectors.any() and (index.nbr_idx == -1).all()


def test_embedding_stops_at_a_chunk_boundary_when_asked(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    texts = ["a text nobody embedded yet"]
    with pytest.raises(Cancelled):
        embed_with_cache(texts, [text_hash(t) for t in texts], EmbeddingCache(tmp_path / "e"), stop=stop)


def test_neighbour_search_stops_between_blocks_when_asked(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    base = load_index(build_catalog_index(_movies(), tmp_path / "v0", k=K).folder)
    cache, _ = _cache(tmp_path, _movies())
    with pytest.raises(Cancelled):
        embed_version(base, tmp_path / "v1", cache=cache, progress=False, stop=stop)
    assert not (tmp_path / "v1").exists()

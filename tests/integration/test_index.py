"""The index job against real moto S3 with the real model on a small catalog slice."""

from __future__ import annotations

import numpy as np
import pytest

from movierec import aws
from movierec.config import Settings
from movierec.dal.index_store import download_version, read_manifest, read_pointer
from movierec.index.store import version_prefix
from movierec.index.build import BuildResult, build_index
from movierec.index.embed import MODEL_NAME, EmbeddingCache, embed_with_cache
from movierec.index_job import build_and_publish, ids_missing_from_index, update_published
from movierec.index.loaded import load_index
from movierec.index.neighbours import all_neighbours, extend_neighbours
from movierec.index.text import movie_text, text_hash
from movierec.models.movie import Movie
from movierec.dal.tables import Tables


def _assert_exact(index_vectors: np.ndarray, nbr_idx: np.ndarray, nbr_sim: np.ndarray) -> None:
    """Stored neighbour lists equal a brute-force search (similarities and, up to ties, the rows)."""
    sims = index_vectors @ index_vectors.T
    np.fill_diagonal(sims, -np.inf)
    k = nbr_idx.shape[1]
    expected = -np.sort(-sims, axis=1)[:, :k]
    np.testing.assert_allclose(nbr_sim, expected, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(sims, nbr_idx.astype(np.int64), axis=1), nbr_sim, atol=1e-5)


def test_build_publishes_lancedb_table_manifest_and_pointer(published: BuildResult, settings: Settings) -> None:
    m = published.manifest
    assert read_pointer(settings) == m.version
    assert read_manifest(m.version, settings) == m
    assert (m.model, m.dim, m.ranker, m.neighbours_k, m.parent) == (MODEL_NAME, 384, "content-v1", 50, None)
    assert m.rows == len({x.id for x in published_movies(published)}) and m.source_fingerprint and m.created_at
    keys = [o["Key"] for o in aws.client("s3", settings).list_objects_v2(
        Bucket=settings.bucket, Prefix=version_prefix(m.version))["Contents"]]  # fmt: skip
    assert any(k.startswith(version_prefix(m.version) + "movies.lance/") for k in keys)

    import lancedb  # the index of record is a LanceDB table, readable straight from S3

    db = lancedb.connect(
        f"s3://{settings.bucket}/index/{m.version}",
        storage_options={
            "aws_endpoint": settings.aws_endpoint_url, "aws_region": settings.region, "allow_http": "true",
            "aws_access_key_id": "test", "aws_secret_access_key": "test",
        },  # fmt: skip
    )
    table = db.open_table("movies").to_arrow()
    index = load_index(download_version(m.version, settings))
    assert table.num_rows == m.rows and table["id"].to_pylist() == index.ids
    np.testing.assert_array_equal(np.stack(table["vector"].to_numpy(zero_copy_only=False)), index.vectors)
    _assert_exact(index.vectors, index.nbr_idx, index.nbr_sim)
    heat = index.row_of["heat+1995"]
    assert index.titles[heat] == "Heat" and abs(float(np.linalg.norm(index.vectors[heat])) - 1) < 1e-5


def published_movies(result: BuildResult) -> list[Movie]:
    from movierec.index.table import movies_of

    return movies_of(load_index(result.folder).table)


def test_unchanged_rebuild_is_skipped_and_reuses_embeddings(
    published: BuildResult, settings: Settings, catalog_slice: list[Movie], embedding_cache: EmbeddingCache
) -> None:
    manifest, built_now = build_and_publish(catalog_slice, settings, catalog="slice", progress=False)
    assert (manifest.version, built_now) == (published.manifest.version, False)
    again = build_index(catalog_slice, settings.index_cache_dir / "again", cache=embedding_cache, progress=False)
    assert again.embedded == 0 and again.manifest.source_fingerprint == published.manifest.source_fingerprint
    vectors, computed = embed_with_cache([movie_text(catalog_slice[0])], [text_hash(movie_text(catalog_slice[0]))],
                                         embedding_cache, progress=False)  # fmt: skip
    assert computed == 0 and vectors.shape == (1, 384)


def test_incremental_update_adds_new_movies_and_keeps_rows(published: BuildResult, settings: Settings) -> None:
    base = load_index(published.folder)
    manifest = update_published(["the+lion+king+1994", "heat+1995", "the+lion+king+1994"], settings, progress=False)
    assert manifest is not None and manifest.parent == base.version and manifest.rows == base.manifest.rows + 1
    assert read_pointer(settings) == manifest.version
    new = load_index(download_version(manifest.version, settings))
    assert new.ids[: len(base)] == base.ids and new.ids[-1] == "the+lion+king+1994"
    assert new.titles[-1] == "the lion king"
    np.testing.assert_array_equal(new.vectors[: len(base)], base.vectors)
    _assert_exact(new.vectors, new.nbr_idx, new.nbr_sim)
    assert update_published(["heat+1995", "the+lion+king+1994"], settings) is None  # nothing new: no version


def test_new_ids_from_the_ingested_movies_table(published: BuildResult, settings: Settings, tables: Tables) -> None:
    tables.movies("brand+new+film+2031", "movielog-0", watchers=3).save()
    tables.movies("heat+1995", "movielog-0", watchers=5).save()
    tables.movies("heat+1995", "movielog-1", watchers=4).save()
    assert ids_missing_from_index(settings) == ["brand+new+film+2031"]


def test_extending_neighbours_equals_recomputing() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    old_idx, old_sim = all_neighbours(vectors[:260], 10)
    idx, sim = extend_neighbours(old_idx, old_sim, vectors, 10)
    full_idx, full_sim = all_neighbours(vectors, 10)
    np.testing.assert_array_equal(idx, full_idx)
    np.testing.assert_allclose(sim, full_sim, atol=1e-6)
    _assert_exact(vectors, idx, sim)


def test_extra_columns_ride_along_and_unknown_ones_are_refused(
    catalog_slice: list[Movie], embedding_cache: EmbeddingCache, tmp_path
) -> None:
    import pyarrow as pa

    movies = catalog_slice[:10]
    factors = pa.array([[float(i), 1.0] for i in range(10)], pa.list_(pa.float32()))
    result = build_index(movies, tmp_path / "v2", cache=embedding_cache, ranker="learned-test",
                         extra_columns={"factors": factors}, progress=False)  # fmt: skip
    index = load_index(result.folder)
    assert result.manifest.ranker == "learned-test" and "factors" in result.manifest.columns
    assert index.column("factors").to_pylist()[3] == [3.0, 1.0]
    with pytest.raises(ValueError, match="replace a base column"):
        build_index(movies, tmp_path / "bad", cache=embedding_cache, extra_columns={"title": factors}, progress=False)

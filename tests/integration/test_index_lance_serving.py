"""The recommend function serves from the version's LanceDB table and reads no other format: a published
version holds only the manifest and ``movies.lance/``, that is all the serving process downloads, and
damaging the table's data files makes loading fail (so the table is what is read)."""

from __future__ import annotations

import sys

import pytest

from movierec import aws
from movierec.config import Settings
from movierec.dal.index_store import IndexStore
from movierec.index.build import BuildResult
from movierec.index.manifest import LANCE_DIR, MANIFEST_FILE
from movierec.index.store import version_prefix
from movierec.ranking.registry import build_ranker
from movierec.models.ranking import Interaction


def _files(settings: Settings, version: str) -> set[str]:
    prefix = version_prefix(version)
    objects = aws.client("s3", settings).list_objects_v2(Bucket=settings.bucket, Prefix=prefix)["Contents"]
    return {o["Key"][len(prefix):] for o in objects}


def test_the_request_path_reads_only_the_lance_table(published: BuildResult, settings: Settings) -> None:
    version = published.manifest.version
    on_s3 = _files(settings, version)
    assert MANIFEST_FILE in on_s3 and all(k == MANIFEST_FILE or k.startswith(f"{LANCE_DIR}/") for k in on_s3)
    index = IndexStore(settings).current()
    assert index.version == version and "lance" in sys.modules
    cached = settings.index_cache_dir / version
    local = {p.relative_to(cached).as_posix() for p in cached.rglob("*") if p.is_file()}
    assert local == on_s3  # exactly the table and the manifest, nothing else downloaded or derived
    # Every column a ranker needs comes from that table: vectors, neighbour lists, popularity, extras.
    assert index.vectors.shape == (published.manifest.rows, published.manifest.dim)
    assert index.nbr_idx.shape[0] == published.manifest.rows and index.table.column_names == published.manifest.columns
    answer = build_ranker(index).rank([Interaction(index.ids[0], 5.0)], 20)
    assert len(answer) == 20 and index.ids[0] not in {s.movie_id for s in answer}


def test_a_damaged_table_is_not_served(published: BuildResult, settings: Settings) -> None:
    store = IndexStore(settings)
    store.current()
    cached = settings.index_cache_dir / published.manifest.version
    data_files = [p for p in (cached / LANCE_DIR).rglob("*.lance") if p.is_file()]
    assert data_files
    for path in data_files:
        path.write_bytes(b"\0" * 64)
    with pytest.raises(Exception):
        IndexStore(settings).current()  # a new process finds the damaged copy in its cache and cannot load it

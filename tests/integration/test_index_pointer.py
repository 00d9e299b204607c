"""The index pointer is data, not a path: only version names in the index job's format are used; a bad
pointer or a manifest naming another version is refused once and the current index keeps serving."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from movierec import aws
from movierec.config import Settings
from movierec.dal.index_store import IndexStore, VersionMismatchError, download_version, read_pointer
from movierec.index.build import BuildResult
from movierec.index.manifest import MANIFEST_FILE
from movierec.index.publish import upload_version
from movierec.index.store import POINTER_KEY, InvalidVersionError, check_version, version_name, version_prefix


def _point_at(settings: Settings, raw: object) -> None:
    aws.client("s3", settings).put_object(Bucket=settings.bucket, Key=POINTER_KEY, Body=json.dumps({"version": raw}))


def test_writer_and_reader_share_one_version_format(built: BuildResult) -> None:
    assert check_version(built.manifest.version) == built.manifest.version
    assert check_version(version_name(datetime(2026, 12, 1, 22, 15, tzinfo=timezone.utc), "1a2b3c4d5e")) == (
        "20261201T221500Z-1a2b3c4d")  # fmt: skip
    for bad in ("../evil-write", "/abs/path", "20261201T221500Z-1a2b3c4d/../x", "", "v1", None, 7):
        with pytest.raises(InvalidVersionError):
            check_version(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidVersionError):
        version_prefix("../evil")


@pytest.mark.parametrize("raw", ["../evil-write", "/abs/path", {"nested": 1}])
def test_a_pointer_that_is_not_a_version_is_refused_and_serving_goes_on(
    published: BuildResult, settings: Settings, raw: object, tmp_path: Path
) -> None:
    store = IndexStore(settings)
    assert store.current().version == published.manifest.version
    _point_at(settings, raw)
    with pytest.raises(InvalidVersionError):
        read_pointer(settings)
    assert store.refresh() is False and store.current().version == published.manifest.version
    assert store.refresh() is False and store.refusals == 1  # logged and remembered once
    with pytest.raises(InvalidVersionError):
        download_version(str(raw), settings)
    outside = [p for p in tmp_path.rglob("*evil*")] + [p for p in settings.index_cache_dir.parent.glob("abs*")]
    assert outside == [] and not Path("/abs/path").exists()
    # A valid pointer again: served at once.
    _point_at(settings, published.manifest.version)
    assert store.refresh() is False and store.current().version == published.manifest.version


def test_a_manifest_that_disagrees_with_the_pointer_is_refused_once(
    published: BuildResult, settings: Settings
) -> None:
    store = IndexStore(settings)
    assert store.current().version == published.manifest.version
    copied = "20300101T000000Z-deadbeef"  # a well-formed name whose files say they are another version
    upload_version(published.folder, copied, settings)
    _point_at(settings, copied)
    with pytest.raises(VersionMismatchError):
        download_version(copied, settings)
    for _ in range(3):
        assert store.refresh() is False and store.current().version == published.manifest.version
    assert store.refusals == 1 and store.refused == copied
    assert not (settings.index_cache_dir / copied).exists()  # nothing big was downloaded for it
    assert MANIFEST_FILE in {k["Key"].rsplit("/", 1)[-1] for k in aws.client("s3", settings).list_objects_v2(
        Bucket=settings.bucket, Prefix=version_prefix(copied))["Contents"]}  # fmt: skip


def test_without_a_loaded_index_a_bad_pointer_says_nothing_can_be_served(settings: Settings) -> None:
    _point_at(settings, "../evil-write")
    store = IndexStore(settings)
    with pytest.raises(Exception, match="no loadable version"):
        store.current()
    assert store.refusals == 1

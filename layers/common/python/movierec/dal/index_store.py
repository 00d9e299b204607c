"""The published index on S3, seen from a reader: the pointer, a version's files, a local cache, refresh.

S3 layout (written by :mod:`movierec.index.publish`)::

    s3://<bucket>/index/<version>/manifest.json, serving.arrow, movies.lance/...
    s3://<bucket>/index/CURRENT          {"version": "<version>"}

A serving process downloads the two files it reads (manifest and serving snapshot) once per version into
``<index_cache_dir>/<version>/`` and reopens them from there; a process that finds a version already in
the cache does not download it again. :class:`IndexStore` checks the pointer at most every
``index_refresh_s`` seconds, loads a new version in the background and swaps it in with one reference
assignment (:class:`~movierec.dal.periodic.Periodic`), so requests never wait for a refresh and never see
a half-loaded index.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path

from botocore.exceptions import ClientError

from movierec import aws
from movierec.config import Settings
from movierec.dal.periodic import Periodic
from movierec.index.loaded import MovieIndex, load_index
from movierec.index.manifest import MANIFEST_FILE, SERVING_FILE, Manifest
from movierec.observability import make_logger

POINTER_KEY = "index/CURRENT"
logger = make_logger("index-store")


class IndexMissingError(RuntimeError):
    """No index has been published yet; the message says how to build one."""


def version_prefix(version: str) -> str:
    return f"index/{version}/"


def read_pointer(settings: Settings) -> str | None:
    """The current version named by the pointer object, or None when nothing was published."""
    try:
        body = aws.client("s3", settings).get_object(Bucket=settings.bucket, Key=POINTER_KEY)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    return str(json.loads(body)["version"])


def read_manifest(version: str, settings: Settings) -> Manifest:
    """The manifest of a published version, read straight from S3."""
    key = version_prefix(version) + MANIFEST_FILE
    return Manifest.from_json(aws.client("s3", settings).get_object(Bucket=settings.bucket, Key=key)["Body"].read())


def download_version(version: str, settings: Settings, files: tuple[str, ...] = (SERVING_FILE, MANIFEST_FILE)) -> Path:
    """``<index_cache_dir>/<version>/`` with ``files`` in it, downloaded unless already complete there.

    Files land in a temporary folder renamed into place, and the manifest comes last, so a folder that
    has a manifest is complete (another process or an interrupted download never leaves half a version).
    """
    target = settings.index_cache_dir / version
    if (target / MANIFEST_FILE).exists():
        return target
    s3 = aws.client("s3", settings)
    tmp = settings.index_cache_dir / f".{version}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        for name in files:
            s3.download_file(settings.bucket, version_prefix(version) + name, str(tmp / name))
        try:
            tmp.rename(target)
        except OSError:  # another process finished the same version first: use theirs
            if not (target / MANIFEST_FILE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def prune_cache(settings: Settings, current: str, keep: int = 2) -> list[str]:
    """Delete all but the ``keep`` newest version folders (never ``current``); returns the deleted names.

    A long-lived process (a Lambda container's 512 MB ``/tmp``) would otherwise keep every version it ever
    loaded. An index already loaded from a deleted folder keeps working: its memory-mapped file stays
    readable until it is unmapped.
    """
    folders = [d for d in settings.index_cache_dir.iterdir() if d.is_dir() and not d.name.startswith(".")]
    folders.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    deleted = [d.name for d in folders[keep:] if d.name != current]
    for name in deleted:
        shutil.rmtree(settings.index_cache_dir / name, ignore_errors=True)
    return deleted


#: Versions other than the current one a process keeps loaded at once (an experiment's two arms).
PINNED_MAX = 2


class IndexStore:
    """The current index of one process: loaded once, refreshed when the pointer moves.

    An experiment serves two named versions side by side: :meth:`version` loads a version by name and
    keeps at most :data:`PINNED_MAX` of them besides the current one (the least recently loaded goes).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._periodic: Periodic[MovieIndex] = Periodic(self._load, settings.index_refresh_s, "index")
        self._pinned: dict[str, MovieIndex] = {}
        self._pinned_lock = threading.Lock()

    def version(self, version: str) -> MovieIndex:
        """The index of ``version`` (the current one if it is that version), loaded on first use."""
        current = self._periodic.loaded
        if current is not None and current.version == version:
            return current
        index = self._pinned.get(version)
        if index is not None:
            return index
        with self._pinned_lock:
            index = self._pinned.get(version)
            if index is None:
                index = load_index(download_version(version, self.settings))
                pinned = {**self._pinned, version: index}
                while len(pinned) > PINNED_MAX:
                    pinned.pop(next(iter(pinned)))
                self._pinned = pinned  # one assignment: readers see the old or the new mapping, whole
                logger.info("index version pinned", extra={"version": version, "pinned": list(pinned)})
        return index

    def current(self) -> MovieIndex:
        """The loaded index; the first call loads it, later calls start a background check when due."""
        return self._periodic.get()

    @property
    def loaded_version(self) -> str | None:
        """The version in memory, without loading (for response headers on early errors)."""
        index = self._periodic.loaded
        return None if index is None else index.version

    def refresh(self) -> bool:
        """Check the pointer now and swap in a new version; True when the index changed."""
        before = self._periodic.loaded
        return self._periodic.reload() is not before

    def _load(self, old: MovieIndex | None) -> MovieIndex:
        version = read_pointer(self.settings)
        if version is None:
            if old is None:
                raise IndexMissingError(
                    f"no index published in s3://{self.settings.bucket}/{POINTER_KEY}: "
                    f"run `movierec index build` (make up does it the first time)"
                )
            return old
        if old is not None and old.version == version:
            return old
        index = load_index(download_version(version, self.settings))
        pruned = prune_cache(self.settings, version)
        logger.info("index loaded", extra={"version": version, "rows": len(index), "pruned": pruned})
        return index

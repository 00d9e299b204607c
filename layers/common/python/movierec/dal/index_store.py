"""The published index on S3, seen from a reader: the pointer, a version's files, a local cache, refresh.

The S3 layout is :mod:`movierec.index.store`'s (shared with the writer, :mod:`movierec.index.publish`).
The pointer is data, not a path: a version name that is not in the writer's format is refused, and so
is a version whose manifest names another version (both logged once; the current index keeps serving).

A serving process downloads what it reads (the manifest and the LanceDB table folder) once per version
into ``<index_cache_dir>/<version>/`` and reopens them from there; a process that finds a version already in
the cache does not download it again. :class:`IndexStore` checks the pointer at most every
``index_refresh_s`` seconds, loads a new version in the background and swaps it in with one reference
assignment (:class:`~movierec.reloaded.ReloadedValue`), so requests never wait for a refresh and never see
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
from movierec.reloaded import ReloadedValue
from movierec.index.loaded import MovieIndex, load_index
from movierec.index.manifest import LANCE_DIR, MANIFEST_FILE, Manifest
from movierec.index.store import POINTER_KEY, PREFIX, VERSION_FORMAT, InvalidVersionError, check_version, version_prefix
from movierec.observability import make_logger

logger = make_logger("index-store")


class IndexMissingError(RuntimeError):
    """No index has been published yet; the message says how to build one."""


class VersionMismatchError(ValueError):
    """A version's manifest names another version (a copied or half-rewritten folder): not loaded."""


class VersionPrunedError(IndexMissingError):
    """A version older than the retention (``MOVIEREC_INDEX_KEEP_VERSIONS``): its manifest is kept (so it
    can be explained), its data is not, so it cannot be served, evaluated or trained onto."""


def read_pointer(settings: Settings) -> str | None:
    """The current version named by the pointer object, or None when nothing was published.

    Raises :class:`~movierec.index.store.InvalidVersionError` when the pointer holds anything but a
    version name in the writer's format.
    """
    try:
        body = aws.client("s3", settings).get_object(Bucket=settings.bucket, Key=POINTER_KEY)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    try:
        raw = json.loads(body)["version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidVersionError(f"index pointer is not {{\"version\": <name>}}: {body[:80]!r}") from exc
    return check_version(raw)


def read_manifest(version: str, settings: Settings) -> Manifest:
    """The manifest of a published version, read straight from S3."""
    key = version_prefix(version) + MANIFEST_FILE
    return Manifest.from_json(aws.client("s3", settings).get_object(Bucket=settings.bucket, Key=key)["Body"].read())


def published_versions(settings: Settings) -> dict[str, bool]:
    """Every version on S3 -> whether its data is still there (False: pruned, the manifest alone is left).

    One listing of the index prefix: a pruned version leaves one key, a whole one about ten, so this stays
    a few requests after months of retraining."""
    versions: dict[str, bool] = {}
    for page in aws.client("s3", settings).get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            name, _, rest = obj["Key"][len(PREFIX):].partition("/")
            if VERSION_FORMAT.fullmatch(name):
                versions[name] = versions.get(name, False) or rest.startswith(f"{LANCE_DIR}/")
    return versions


def download_version(version: str, settings: Settings) -> Path:
    """``<index_cache_dir>/<version>/`` with the manifest and ``movies.lance/``, unless already complete there.

    The name is checked first (never a folder outside the cache), then the manifest is fetched alone and
    must name this very version (:class:`VersionMismatchError`, before anything big is downloaded).
    Files land in a temporary folder renamed into place, so a folder with a manifest is complete
    (another process or an interrupted download never leaves half a version).
    """
    prefix = version_prefix(version)
    target = settings.index_cache_dir / version
    if (target / MANIFEST_FILE).exists() and (target / LANCE_DIR).is_dir():
        _check_manifest(Manifest.read(target), version)
        return target
    # A folder cached by an older release (manifest + the former serving.arrow only) is fetched again.
    shutil.rmtree(target, ignore_errors=True)
    s3 = aws.client("s3", settings)
    tmp = settings.index_cache_dir / f".{version}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        s3.download_file(settings.bucket, prefix + MANIFEST_FILE, str(tmp / MANIFEST_FILE))
        _check_manifest(Manifest.read(tmp), version)
        table_prefix = f"{prefix}{LANCE_DIR}/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=table_prefix):
            for obj in page.get("Contents", []):
                path = tmp / LANCE_DIR / obj["Key"][len(table_prefix):]
                if tmp not in path.resolve().parents:  # a key with ../ in it: never outside the version
                    raise ValueError(f"index key outside its version: {obj['Key'][:120]!r}")
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(settings.bucket, obj["Key"], str(path))
        if not (tmp / LANCE_DIR).is_dir():
            raise VersionPrunedError(f"index version {version} was pruned: its manifest is kept, its data is not "
                                     "(MOVIEREC_INDEX_KEEP_VERSIONS)")  # fmt: skip
        try:
            tmp.rename(target)
        except OSError:  # another process finished the same version first: use theirs
            if not (target / MANIFEST_FILE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _check_manifest(manifest: Manifest, version: str) -> None:
    if manifest.version != version:
        raise VersionMismatchError(f"manifest of version {version!r} names version {manifest.version[:80]!r}")


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
        self._reloaded: ReloadedValue[MovieIndex] = ReloadedValue(self._load, settings.index_refresh_s, "index")
        #: The last pointer value refused (bad name or mismatching manifest): not retried while it stays.
        self.refused: str | None = None
        #: How many times a pointer value was examined and refused (a refused value is examined once).
        self.refusals = 0
        self._pinned: dict[str, MovieIndex] = {}
        self._pinned_lock = threading.Lock()

    def version(self, version: str) -> MovieIndex:
        """The index of ``version`` (the current one if it is that version), loaded on first use."""
        current = self._reloaded.loaded
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
        return self._reloaded.get()

    @property
    def loaded_version(self) -> str | None:
        """The version in memory, without loading (for response headers on early errors)."""
        index = self._reloaded.loaded
        return None if index is None else index.version

    def refresh(self) -> bool:
        """Check the pointer now and swap in a new version; True when the index changed."""
        before = self._reloaded.loaded
        return self._reloaded.reload() is not before

    def _load(self, old: MovieIndex | None) -> MovieIndex:
        try:
            version = read_pointer(self.settings)
        except InvalidVersionError as exc:
            return self._refuse(str(exc), exc, old)
        if version is None:
            if old is None:
                raise IndexMissingError(
                    f"no index published in s3://{self.settings.bucket}/{POINTER_KEY}: "
                    f"run `movierec index build` (make up does it the first time)"
                )
            return old
        if old is not None and old.version == version:
            return old
        if version == self.refused:
            return self._keep(old, version)
        try:
            index = load_index(download_version(version, self.settings))
        except VersionMismatchError as exc:
            return self._refuse(version, exc, old)
        self.refused = None
        pruned = prune_cache(self.settings, version)
        logger.info("index loaded", extra={"version": version, "rows": len(index), "pruned": pruned})
        return index

    def _refuse(self, pointer: str, exc: Exception, old: MovieIndex | None) -> MovieIndex:
        """Log a refused pointer value once, remember it, keep serving ``old``."""
        if pointer != self.refused:
            self.refused = pointer
            self.refusals += 1
            logger.error("index pointer refused; keeping the current index",
                         extra={"reason": str(exc), "serving": old.version if old else None})  # fmt: skip
        return self._keep(old, pointer)

    def _keep(self, old: MovieIndex | None, pointer: str) -> MovieIndex:
        if old is None:
            raise IndexMissingError(f"the index pointer names no loadable version ({pointer[:80]!r}); nothing to serve")
        return old

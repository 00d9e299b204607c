"""Publishing a built index version to S3, then moving the pointer to it.

Files go to ``s3://<bucket>/index/<version>/`` (layout: :mod:`movierec.index.store`) (the manifest last, so a reader that finds the manifest
finds a complete version), and only then is ``index/CURRENT`` overwritten: S3 single-object writes are
atomic, so readers switch from one complete version to the next, never to a partial one.
"""

from __future__ import annotations

import json
from pathlib import Path

from movierec import aws
from movierec.config import Settings
from movierec.index.manifest import LANCE_DIR, MANIFEST_FILE
from movierec.index.store import POINTER_KEY, check_version, version_prefix


def upload_version(folder: Path, version: str, settings: Settings) -> int:
    """Upload every file under ``folder`` to the version's prefix; returns the number of files."""
    s3 = aws.client("s3", settings)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE)
    for path in [*files, folder / MANIFEST_FILE]:
        s3.upload_file(str(path), settings.bucket, version_prefix(version) + path.relative_to(folder).as_posix())
    return len(files) + 1


def set_pointer(version: str, settings: Settings) -> None:
    """Make ``version`` the current one for every reader."""
    body = json.dumps({"version": check_version(version)}).encode()
    aws.client("s3", settings).put_object(
        Bucket=settings.bucket, Key=POINTER_KEY, Body=body, ContentType="application/json"
    )


def delete_data(version: str, settings: Settings) -> int:
    """Delete a version's ``movies.lance/`` and keep its manifest (:func:`movierec.index.store.expired`
    says which versions); returns the number of objects deleted. The caller never names the current version.

    One DeleteObject a key (about ten a version), not DeleteObjects: IAM checks ``s3:DeleteObject`` on each
    key either way, and the deploy grants it on the data keys alone (template.yaml, TrainRole)."""
    s3 = aws.client("s3", settings)
    keys = [obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=f"{version_prefix(version)}{LANCE_DIR}/")
            for obj in page.get("Contents", [])]  # fmt: skip
    for key in keys:
        s3.delete_object(Bucket=settings.bucket, Key=key)
    return len(keys)


def publish(folder: Path, version: str, settings: Settings) -> None:
    upload_version(folder, version, settings)
    set_pointer(version, settings)

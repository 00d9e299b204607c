"""Training data snapshots on S3, content-addressed: ``s3://<bucket>/snapshots/<sha256>.json.gz``.

Each training run stores the exact interactions it learned from and names the key in the version's
manifest (``build.training.snapshot``), so ``movierec train --from-snapshot KEY`` refits on the same
data and ``movierec explain`` can name it. The key is the SHA-256 of the canonical JSON (users and
movies sorted, gzip without a timestamp), so the same data always has the same key and is stored once.
"""

from __future__ import annotations

import gzip
import hashlib
import json

from botocore.exceptions import ClientError

from movierec import aws
from movierec.config import Settings
from movierec.models.ranking import Interaction, InteractionLog

PREFIX = "snapshots/"


class SnapshotMissingError(ValueError):
    """No object under the key (a ValueError like every unreadable snapshot; told apart because a missing
    prior is logged and trained without, while a refused or corrupt one must fail the run)."""


def _canonical(log: InteractionLog) -> bytes:
    users = {str(u): [[i.movie_id, i.last_seen, i.rating, i.max_minute, i.watch_count] for i in log.users[u]]
             for u in sorted(log.users)}  # fmt: skip
    return json.dumps({"source": log.source, "catalog": list(log.catalog), "users": users},
                      sort_keys=True, separators=(",", ":")).encode()  # fmt: skip


def _key(body: bytes) -> str:
    return f"{PREFIX}{hashlib.sha256(body).hexdigest()}.json.gz"


def snapshot_key(log: InteractionLog) -> str:
    """The key ``log`` is (or would be) stored under: its content's address, so the same data, the same key."""
    return _key(_canonical(log))


def write_snapshot(log: InteractionLog, settings: Settings) -> str:
    """Store ``log`` (once per content) and return its key."""
    body = _canonical(log)
    key = _key(body)
    s3 = aws.client("s3", settings)
    try:
        s3.head_object(Bucket=settings.bucket, Key=key)
        return key
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise
    s3.put_object(Bucket=settings.bucket, Key=key, Body=gzip.compress(body, mtime=0), ContentType="application/gzip")
    return key


def read_snapshot(key: str, settings: Settings) -> InteractionLog:
    """The log stored under ``key``; :class:`SnapshotMissingError` when there is none, ValueError when S3
    refuses the read or the content does not match its name."""
    try:
        raw = aws.client("s3", settings).get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise SnapshotMissingError(f"no training snapshot {key!r} in the store") from exc
        raise ValueError(f"training snapshot {key!r} unreadable ({exc.response.get('Error', {}).get('Code')})") from exc
    body = gzip.decompress(raw)
    if not key.endswith(f"{hashlib.sha256(body).hexdigest()}.json.gz"):
        raise ValueError(f"snapshot {key!r} does not match its content hash")
    d = json.loads(body)
    users = {int(u): tuple(Interaction(m, t, r, mm, wc) for m, t, r, mm, wc in rows) for u, rows in d["users"].items()}
    return InteractionLog(users, tuple(d["catalog"]), source=d["source"])

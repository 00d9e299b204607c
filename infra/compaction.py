"""Compaction of moto's write journal: the S3 writes that a later write or delete made pointless are dropped.

Why: the journal (:mod:`infra.moto_server`) keeps every write for ever, and a long ``make up`` writes
the same S3 keys again and again — tansu rewrites its cluster ``meta.json``, each partition's
``watermark.json`` and each consumer group's offsets on every produce and commit (hundreds of times in a
few minutes of ingest), and the retrain loop publishes an index version of about 29 MB per round and
prunes the old ones. Replaying all of that at every start made the start slower and the disk fuller by
the day, while moto's state, which is all a replay has to rebuild, holds only the last write of a key.

What is dropped (an S3 object's *generation* is the write that made its current content — a PutObject,
or a CreateMultipartUpload with its parts and its CompleteMultipartUpload — and the writes that changed
it since, such as tags or ACLs):

* every generation that a later PutObject, CompleteMultipartUpload or DeleteObject of the same key ended;
* a DeleteObject whose object's every earlier write is dropped (on replay it would delete nothing);
* a multipart upload that was aborted (its create, parts and abort);
* at a start only, an upload never completed: its client holds the id moto made up before the restart,
  which the new moto never knows, so nothing can ever complete it.

What is kept, whatever follows: everything that is not a path-style S3 object write signed for S3
(DynamoDB, CloudWatch, Logs, bucket operations, batch deletes), every write to a bucket that is
versioned or that was copied from (an overwritten object may still be read there), and the whole journal
when any S3 request is virtual-host style (the key cannot be told from the path). A DynamoDB item written
twice is kept twice: UpdateItem is not idempotent, and the tables are the data, not scratch.

:func:`plan` is pure (entries in, indexes to drop out); :func:`compact` reads and writes the files.
"""

from __future__ import annotations

import base64
import html
import ipaddress
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

#: Query parameters that name nothing about what a request does (botocore adds ``x-id`` to some calls).
_NEUTRAL_PARAMS = {"x-id"}
_DELETED_KEY = re.compile(rb"<Key>([^<]*)</Key>")
#: The smallest share of the journal's bytes worth a rewrite.
MIN_GAIN = 0.1


@dataclass(frozen=True)
class Compaction:
    """What one compaction did: entries read and dropped, bytes before and after, and how long it took."""

    entries: int
    dropped: int
    bytes_before: int
    bytes_after: int
    seconds: float

    def line(self) -> str:
        """One line for the server's log."""
        return (f"journal: compacted {self.entries} writes to {self.entries - self.dropped} "
                f"({self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB) in {self.seconds:.1f}s")  # fmt: skip


def _header(entry: dict[str, Any], name: str) -> str | None:
    wanted = name.lower()
    return next((str(v) for k, v in entry["headers"].items() if k.lower() == wanted), None)


def _is_s3(entry: dict[str, Any]) -> bool:
    """Signed for S3 (the credential scope of SigV4 names the service); unsigned requests are left alone."""
    return "/s3/aws4_request" in (_header(entry, "Authorization") or "")


def _path_style(entry: dict[str, Any]) -> bool:
    """The bucket is the path's first segment: the host names no bucket (an IP, localhost or ``s3.*``)."""
    host = (_header(entry, "Host") or "").rsplit(":", 1)[0].strip("[]")
    if host in ("localhost", "") or host.startswith("s3."):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def plan(entries: Iterable[dict[str, Any]], *, drop_open_uploads: bool) -> set[int]:
    """The indexes (in ``entries``' order) of the journal entries compaction drops; see the module doc."""
    drop: set[int] = set()
    bucket_of: dict[int, str] = {}
    opaque: set[str] = set()  # buckets left whole: versioned, or copied from
    generation: dict[str, list[int]] = {}  # object path -> the entries that made its current content
    untracked: set[str] = set()  # object paths whose content came from entries kept as they are
    uploads: dict[str, list[int]] = {}  # open multipart upload -> its create and parts
    latest: dict[str, str] = {}  # object path -> its last created upload (the journalled id, or a stand-in)

    def supersede(path: str) -> None:
        drop.update(generation.pop(path, []))
        untracked.discard(path)

    for i, entry in enumerate(entries):
        if not _is_s3(entry):
            continue
        if not _path_style(entry):
            return set()  # a bucket in the host name: keys cannot be told from paths, keep everything
        method, path, query = entry["method"], entry["path"], entry["query"]
        bucket, _, key = path.lstrip("/").partition("/")
        bucket_of[i] = bucket
        source = _header(entry, "X-Amz-Copy-Source")
        if source:
            opaque.add(unquote(source).lstrip("/").split("/", 1)[0])
        params = set(parse_qs(query, keep_blank_values=True)) - _NEUTRAL_PARAMS
        if not key:
            if "versioning" in params:
                opaque.add(bucket)
            elif method == "POST" and "delete" in params:  # DeleteObjects: the entry itself is kept
                for raw in _DELETED_KEY.findall(base64.b64decode(entry["body"])):
                    supersede(f"/{bucket}/{html.unescape(raw.decode('utf-8', 'replace'))}")
            continue
        named = (parse_qs(query).get("uploadId") or [""])[0]
        upload = named if named in uploads else latest.get(path, named)  # journals without ids: by key
        if "versionId" in params:
            opaque.add(bucket)
        elif method == "PUT" and not params:
            supersede(path)
            generation[path] = [i]
        elif method == "POST" and params == {"uploads"}:
            latest[path] = str(entry.get("upload_id") or f"#{i}")
            uploads[latest[path]] = [i]
        elif method == "PUT" and params == {"partNumber", "uploadId"}:
            if upload in uploads:  # a part of an upload the journal does not hold is kept as it is
                uploads[upload].append(i)
        elif method in ("POST", "DELETE") and params == {"uploadId"}:
            parts = uploads.pop(upload, None)
            if parts is None:  # ends an upload the journal does not hold: what it made is kept
                supersede(path)
                untracked.add(path)
            elif method == "DELETE":  # aborted: nothing of it is left
                drop.update(parts + [i])
            else:
                supersede(path)
                generation[path] = parts + [i]
        elif method == "DELETE" and not params:
            if path not in untracked:  # every earlier write of the object is dropped: so is its delete
                drop.add(i)
            supersede(path)
        elif path in generation:  # tags, ACL, retention...: part of the current content
            generation[path].append(i)
    if drop_open_uploads:
        for parts in uploads.values():
            drop.update(parts)
    return {i for i in drop if bucket_of[i] not in opaque}


def _lines(path: Path, upto: int) -> Iterator[bytes]:
    """The journal's complete lines within its first ``upto`` bytes (a line cut off by a kill was never answered)."""
    with open(path, "rb") as lines:
        read = 0
        for line in lines:
            read += len(line)
            if read > upto or not line.endswith(b"\n"):
                return
            yield line


def compact(path: Path, *, upto: int | None = None, drop_open_uploads: bool) -> tuple[Path, Compaction] | None:
    """Write the compacted first ``upto`` bytes of the journal at ``path`` (all of it by default) beside it.

    Returns the new file (flushed to disk) and what was done, or None when what would be dropped is less
    than :data:`MIN_GAIN` of the journal (not worth rewriting it). The caller appends whatever was written after ``upto`` and
    renames the file into place (:func:`replace`), so a crash in between leaves the journal as it was."""
    started = time.monotonic()
    upto = path.stat().st_size if upto is None else upto
    sizes: list[int] = []

    def entries() -> Iterator[dict[str, Any]]:
        for line in _lines(path, upto):
            sizes.append(len(line))
            yield json.loads(line)

    drop = plan(entries(), drop_open_uploads=drop_open_uploads)
    if not drop or sum(sizes[i] for i in drop) < MIN_GAIN * upto:
        return None
    target = path.with_name(path.name + ".compacting")
    entries = 0
    with open(target, "wb") as out:
        for entries, line in enumerate(_lines(path, upto), start=1):
            if entries - 1 not in drop:
                out.write(line)
        out.flush()
        os.fsync(out.fileno())
    done = Compaction(entries, len(drop), upto, target.stat().st_size, time.monotonic() - started)
    return target, done


def replace(compacted: Path, path: Path, *, tail_from: int) -> None:
    """Append the journal's bytes from ``tail_from`` on (written since the compaction read it) to the
    compacted file, and rename it over the journal — durable before the old journal is gone."""
    with open(path, "rb") as source, open(compacted, "ab") as out:
        source.seek(tail_from)
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(compacted, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

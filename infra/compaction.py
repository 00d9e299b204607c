"""Compaction of moto's write journal: the writes that a later write or delete of the same S3 object or
DynamoDB item made pointless are dropped.

Why: the journal (:mod:`infra.moto_server`) keeps every write for ever, and a long ``make up`` writes
the same keys again and again — tansu rewrites its cluster ``meta.json``, each partition's
``watermark.json`` and each consumer group's offsets on every produce and commit (hundreds of times in a
few minutes of ingest); ingest writes a (user, movie) item, the movie's and the user's again in every
batch that touches them, and its offsets item in every batch; and the retrain loop publishes an index
version (about 100 MB in the journal for the course catalog) per round and prunes the old ones.
Replaying all of that at every start made the start slower and the disk fuller by the day, while moto's
state, which is all a replay has to rebuild, holds only the last write of a key.

S3 (:class:`_Objects`; an object's *generation* is the write that made its current content — a
PutObject, or a CreateMultipartUpload with its parts and its CompleteMultipartUpload — and the writes
that changed it since, such as tags or ACLs). Dropped:

* every generation that a later PutObject, CompleteMultipartUpload or DeleteObject of the same key ended;
* a DeleteObject whose object's every earlier write is dropped (on replay it would delete nothing);
* a multipart upload that was aborted (its create, parts and abort);
* at a start only, an upload never completed: its client holds the id moto made up before the restart,
  which the new moto never knows, so nothing can ever complete it.

Kept, whatever follows: bucket operations and batch deletes, every write to a bucket that is versioned
or that was copied from (an overwritten object may still be read there), and every object write when
any S3 request is virtual-host style (the key cannot be told from the path).

DynamoDB (:class:`_Items`): an item's generation is the put (PutItem, or a put request of a
BatchWriteItem) or the UpdateItem that created it, and the UpdateItems since; a later put or delete of
the same key, or DeleteTable, ends it and it is dropped — a put request out of its BatchWriteItem, which
is rewritten without it. Kept: deletes, tables the journal holds no CreateTable of, and every item write
when the journal holds a transaction or a PartiQL statement. Conditions are why the replay leaves them
out (:mod:`infra.moto_server`): a conditional write tests the item it replaces, which may be dropped.

CloudWatch (:class:`_Metrics`): metric data older than CloudWatch keeps it (:data:`METRIC_RETENTION_S`).

Everything else (alarms, Logs, table operations, unsigned requests) is kept as it is.

:func:`plan` is pure (entries in, what to drop and trim out); :func:`compact` reads and writes the files.
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
from datetime import datetime, timezone
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
    """What one compaction did: entries read, dropped and trimmed, bytes before and after, and how long it
    took. ``skipped``: what it would have dropped was not worth a rewrite (the journal is as it was; the
    figures say what a rewrite would have saved)."""

    entries: int
    dropped: int
    trimmed: int
    bytes_before: int
    bytes_after: int
    seconds: float
    skipped: bool = False

    def line(self) -> str:
        """One line for the server's log: a skipped compaction too, since it read the whole journal."""
        if self.skipped:
            return (f"journal: compaction skipped: it would save {(self.bytes_before - self.bytes_after) / 1e6:.1f} of "
                    f"{self.bytes_before / 1e6:.1f} MB, under {MIN_GAIN:.0%} (read in {self.seconds:.1f}s)")  # fmt: skip
        return (f"journal: compacted {self.entries} writes to {self.entries - self.dropped} ({self.trimmed} batch "
                f"writes trimmed; {self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB) in {self.seconds:.1f}s")  # fmt: skip


def header(entry: dict[str, Any], name: str) -> str | None:
    """A journal entry's header, by name in any case (the journal keeps them as werkzeug spelled them)."""
    wanted = name.lower()
    return next((str(v) for k, v in entry["headers"].items() if k.lower() == wanted), None)


def _is_s3(entry: dict[str, Any]) -> bool:
    """Signed for S3 (the credential scope of SigV4 names the service); unsigned requests are left alone."""
    return "/s3/aws4_request" in (header(entry, "Authorization") or "")


def _path_style(entry: dict[str, Any]) -> bool:
    """The bucket is the path's first segment: the host names no bucket (an IP, localhost or ``s3.*``)."""
    host = (header(entry, "Host") or "").rsplit(":", 1)[0].strip("[]")
    if host in ("localhost", "") or host.startswith("s3."):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Objects:
    """S3's half of a plan (see the module doc): ``see`` each entry in journal order, then ``dropped``."""

    def __init__(self) -> None:
        self.drop: set[int] = set()
        self.bucket_of: dict[int, str] = {}
        self.opaque: set[str] = set()  # buckets left whole: versioned, or copied from
        self.virtual_host = False  # a bucket named in the host: keys cannot be told from paths
        self.generation: dict[str, list[int]] = {}  # object path -> the entries that made its current content
        self.untracked: set[str] = set()  # object paths whose content came from entries kept as they are
        self.uploads: dict[str, list[int]] = {}  # open multipart upload -> its create and parts
        self.latest: dict[str, str] = {}  # object path -> its last created upload (journalled id or a stand-in)

    def _supersede(self, path: str) -> None:
        self.drop.update(self.generation.pop(path, []))
        self.untracked.discard(path)

    def see(self, i: int, entry: dict[str, Any]) -> None:
        if not _is_s3(entry):
            return
        if not _path_style(entry):
            self.virtual_host = True
            return
        method, path, query = entry["method"], entry["path"], entry["query"]
        bucket, _, key = path.lstrip("/").partition("/")
        self.bucket_of[i] = bucket
        source = header(entry, "X-Amz-Copy-Source")
        if source:
            self.opaque.add(unquote(source).lstrip("/").split("/", 1)[0])
        params = set(parse_qs(query, keep_blank_values=True)) - _NEUTRAL_PARAMS
        if not key:
            if "versioning" in params:
                self.opaque.add(bucket)
            elif method == "POST" and "delete" in params:  # DeleteObjects: the entry itself is kept
                for raw in _DELETED_KEY.findall(base64.b64decode(entry["body"])):
                    self._supersede(f"/{bucket}/{html.unescape(raw.decode('utf-8', 'replace'))}")
            return
        named = (parse_qs(query).get("uploadId") or [""])[0]
        upload = named if named in self.uploads else self.latest.get(path, named)  # journals without ids: by key
        if "versionId" in params:
            self.opaque.add(bucket)
        elif method == "PUT" and not params:
            self._supersede(path)
            self.generation[path] = [i]
        elif method == "POST" and params == {"uploads"}:
            self.latest[path] = str(entry.get("upload_id") or f"#{i}")
            self.uploads[self.latest[path]] = [i]
        elif method == "PUT" and params == {"partNumber", "uploadId"}:
            if upload in self.uploads:  # a part of an upload the journal does not hold is kept as it is
                self.uploads[upload].append(i)
        elif method in ("POST", "DELETE") and params == {"uploadId"}:
            parts = self.uploads.pop(upload, None)
            if parts is None:  # ends an upload the journal does not hold: what it made is kept
                self._supersede(path)
                self.untracked.add(path)
            elif method == "DELETE":  # aborted: nothing of it is left
                self.drop.update(parts + [i])
            else:
                self._supersede(path)
                self.generation[path] = parts + [i]
        elif method == "DELETE" and not params:
            if path not in self.untracked:  # every earlier write of the object is dropped: so is its delete
                self.drop.add(i)
            self._supersede(path)
        elif path in self.generation:  # tags, ACL, retention...: part of the current content
            self.generation[path].append(i)

    def dropped(self, *, drop_open_uploads: bool) -> set[int]:
        if self.virtual_host:
            return set()
        drop = set(self.drop)
        if drop_open_uploads:
            for parts in self.uploads.values():
                drop.update(parts)
        return {i for i in drop if self.bucket_of[i] not in self.opaque}


#: DynamoDB operations that write items in ways :class:`_Items` does not follow: with any of them in the
#: journal, no item write is dropped.
_OPAQUE_ITEM_WRITES = {"TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
                       "RestoreTableFromBackup", "RestoreTableToPointInTime", "ImportTable"}  # fmt: skip
#: A write of one item: (journal entry, table of a BatchWriteItem request or None, the request's position).
Write = tuple[int, str | None, int]


class _Items:
    """DynamoDB's half of a plan. An item's *generation* is the write that made it — a PutItem, a put
    request of a BatchWriteItem, or an UpdateItem on a missing item — and the UpdateItems since; a later
    put or delete of the same key, or the table's deletion, ends it, and what it ended is dropped (a put
    replaces the whole item, so what came before cannot show through). Keys are read from the tables'
    CreateTable in the journal; a table without one is left alone. Conditions (the offsets table's
    optimistic writes) are left out on replay (:mod:`infra.moto_server`): the write met them when it was
    made, and the item they test may be one compaction dropped."""

    def __init__(self) -> None:
        self.keys: dict[str, list[str]] = {}  # table -> the names of its key attributes
        self.generation: dict[tuple[str, str], list[Write]] = {}
        self.ended: list[Write] = []
        self.requests: dict[int, int] = {}  # BatchWriteItem entry -> how many requests it holds
        self.opaque = False

    def see(self, i: int, entry: dict[str, Any]) -> None:
        target = header(entry, "X-Amz-Target") or ""
        if not target.startswith("DynamoDB_"):
            return
        operation = target.rsplit(".", 1)[-1]
        body = json.loads(base64.b64decode(entry["body"]) or b"{}")
        table = body.get("TableName", "")
        if operation in _OPAQUE_ITEM_WRITES:
            self.opaque = True
        elif operation == "CreateTable":
            self.keys[table] = [k["AttributeName"] for k in body["KeySchema"]]
        elif operation == "DeleteTable":
            for key in [k for k in self.generation if k[0] == table]:
                self._end(key)
        elif operation in ("PutItem", "DeleteItem"):
            key = self._key(table, body.get("Item") or body.get("Key") or {})
            self._end(key)
            if operation == "PutItem" and key is not None:
                self.generation[key] = [(i, None, 0)]
        elif operation == "UpdateItem":
            key = self._key(table, body.get("Key", {}))
            if key is not None:
                self.generation.setdefault(key, []).append((i, None, 0))
        elif operation == "BatchWriteItem":
            self.requests[i] = 0
            for name, requests in body.get("RequestItems", {}).items():
                for j, request in enumerate(requests):
                    self.requests[i] += 1
                    put = request.get("PutRequest", {}).get("Item")
                    key = self._key(name, put if put is not None else request.get("DeleteRequest", {}).get("Key", {}))
                    self._end(key)
                    if put is not None and key is not None:
                        self.generation[key] = [(i, name, j)]

    def _key(self, table: str, item: dict[str, Any]) -> tuple[str, str] | None:
        names = self.keys.get(table)
        if names is None or any(n not in item for n in names):
            return None
        return table, json.dumps([item[n] for n in names], sort_keys=True)

    def _end(self, key: tuple[str, str] | None) -> None:
        if key is not None:
            self.ended.extend(self.generation.pop(key, []))

    def dropped(self) -> tuple[set[int], dict[int, set[tuple[str, int]]]]:
        """Whole entries to drop, and the requests to take out of the BatchWriteItems that keep some."""
        if self.opaque:
            return set(), {}
        drop, trim = set(), {}
        for i, table, j in self.ended:
            if table is None:
                drop.add(i)
            else:
                trim.setdefault(i, set()).add((table, j))
        for i in [i for i, gone in trim.items() if len(gone) == self.requests[i]]:
            drop.add(i)
            del trim[i]
        return drop, trim


#: How long CloudWatch keeps a metric's 1-minute data points (its 5-minute and hourly roll-ups, kept
#: longer, are not emulated): a PutMetricData older than this, before the journal's newest write, is dropped.
METRIC_RETENTION_S = 15 * 86400


class _Metrics:
    """CloudWatch's half of a plan: the metric data a long ``make up`` sends every few seconds (about 1.5 MB
    of journal an hour) would otherwise be replayed for ever; CloudWatch itself forgets it. Time is the
    request's signing time (``X-Amz-Date``), and "now" the newest write of the journal, not the clock."""

    def __init__(self) -> None:
        self.puts: list[tuple[int, float]] = []
        self.newest = 0.0

    def see(self, i: int, entry: dict[str, Any]) -> None:
        try:
            at = datetime.strptime(header(entry, "X-Amz-Date") or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return
        self.newest = max(self.newest, at.timestamp())
        named = (header(entry, "X-Amz-Target") or "").rsplit(".", 1)[-1]
        form = base64.b64decode(entry["body"])[:200] if "x-www-form-urlencoded" in (header(entry, "Content-Type") or "") else b""
        if named == "PutMetricData" or entry["path"].endswith("/operation/PutMetricData") or b"Action=PutMetricData" in form:
            self.puts.append((i, at.timestamp()))

    def dropped(self) -> set[int]:
        return {i for i, at in self.puts if at < self.newest - METRIC_RETENTION_S}


@dataclass(frozen=True)
class Plan:
    """What compaction does to a journal: entries dropped whole, and BatchWriteItems trimmed (entry ->
    the (table, position) of the put and delete requests taken out)."""

    drop: set[int]
    trim: dict[int, set[tuple[str, int]]]


def plan(entries: Iterable[dict[str, Any]], *, drop_open_uploads: bool) -> Plan:
    """What compaction does to ``entries`` (in journal order); see the module doc. Pure: no I/O."""
    objects, items, metrics = _Objects(), _Items(), _Metrics()
    for i, entry in enumerate(entries):
        objects.see(i, entry)
        items.see(i, entry)
        metrics.see(i, entry)
    dropped, trim = items.dropped()
    return Plan(objects.dropped(drop_open_uploads=drop_open_uploads) | dropped | metrics.dropped(), trim)


def trimmed(line: bytes, gone: set[tuple[str, int]]) -> bytes:
    """A BatchWriteItem journal line without the requests ``gone`` names."""
    entry = json.loads(line)
    body = json.loads(base64.b64decode(entry["body"]))
    kept = {table: [r for j, r in enumerate(requests) if (table, j) not in gone]
            for table, requests in body["RequestItems"].items()}  # fmt: skip
    body["RequestItems"] = {table: requests for table, requests in kept.items() if requests}
    entry["body"] = base64.b64encode(json.dumps(body).encode()).decode("ascii")
    return (json.dumps(entry) + "\n").encode()


def _lines(path: Path, upto: int) -> Iterator[bytes]:
    """The journal's complete lines within its first ``upto`` bytes (a line cut off by a kill was never answered)."""
    with open(path, "rb") as lines:
        read = 0
        for line in lines:
            read += len(line)
            if read > upto or not line.endswith(b"\n"):
                return
            yield line


def compact(path: Path, *, upto: int | None = None, drop_open_uploads: bool) -> tuple[Path | None, Compaction]:
    """Write the compacted first ``upto`` bytes of the journal at ``path`` (all of it by default) beside it.

    Returns the new file (flushed to disk) and what was done; no file, and a compaction marked skipped,
    when what would be dropped is less than :data:`MIN_GAIN` of the journal (not worth rewriting it). The
    caller appends whatever was written after ``upto`` and renames the file into place (:func:`replace`),
    so a crash in between leaves the journal as it was."""
    started = time.monotonic()
    upto = path.stat().st_size if upto is None else upto
    sizes: list[int] = []

    def entries() -> Iterator[dict[str, Any]]:
        for line in _lines(path, upto):
            sizes.append(len(line))
            yield json.loads(line)

    done = plan(entries(), drop_open_uploads=drop_open_uploads)
    gain = sum(sizes[i] for i in done.drop) + sum(sizes[i] * len(gone) // 25 for i, gone in done.trim.items())
    if gain < MIN_GAIN * upto:  # a trimmed request: about a 25th of its batch (BatchWriteItem holds <= 25)
        return None, Compaction(len(sizes), len(done.drop), len(done.trim), upto, upto - gain,
                                time.monotonic() - started, skipped=True)  # fmt: skip
    target = path.with_name(path.name + ".compacting")
    count = 0
    with open(target, "wb") as out:
        for count, line in enumerate(_lines(path, upto), start=1):
            i = count - 1
            if i not in done.drop:
                out.write(trimmed(line, done.trim[i]) if i in done.trim else line)
        out.flush()
        os.fsync(out.fileno())
    return target, Compaction(count, len(done.drop), len(done.trim), upto, target.stat().st_size, time.monotonic() - started)


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

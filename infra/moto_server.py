"""The moto server of the local stack: DynamoDB Query made to read one partition, and state kept on disk.

Two changes to the otherwise unmodified moto server (``python -m infra.moto_server -H 127.0.0.1 -p 4566
[--state-dir DIR]``):

* **Query reads one partition.** moto 5.2's ``Table.query`` (no index) sorts *every* item of the table
  and then filters by hash key, so a Query costs O(table) instead of O(partition): every recommend
  request paid for the whole history table. Real DynamoDB, DynamoDB Local and LocalStack read only the
  partition. The launcher hands moto's own query code a view of the table holding just the queried
  partition, so results, ordering, paging and filters stay moto's.
* **A journal of the writes** (with ``--state-dir``). moto keeps everything in memory, so a crash or a
  restart of the server lost every table, the index bucket, the pointer, the alarms and (with tansu on
  ``s3://``) the Kafka log. Every request that changes state and succeeded is appended to
  ``<state-dir>/journal.jsonl`` before its answer is sent, and a starting server replays the journal
  in-process (no network) before it listens, so it comes back with what it had. Writes are serialised
  (apply + append under one lock) so the journal's order is the order they took effect; reads are not
  held. The line is flushed to the OS, which survives SIGKILL of the server (not a power cut: no fsync).
  moto's own request recorder does the same kind of recording but logs reads too, has no replay at
  start and is switched off during replay by a global flag, so we keep our own. Writes that a later
  write or delete of the same S3 object or DynamoDB item made pointless, and metric data older than
  CloudWatch keeps it, are compacted away (:mod:`infra.compaction`) at every start and, while serving,
  whenever the journal has doubled what the last one left (from ``--compact-from-mb`` on); its size, the compaction and
  the replay time are printed at start and measured in docs/architecture.md.
"""

from __future__ import annotations

import argparse
import base64
import copy
import io
import json
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote

from moto.dynamodb.models.table import Table
from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple
from werkzeug.test import EnvironBuilder, run_wsgi_app

from infra import compaction
from infra.compaction import Compaction

_moto_query = Table.query

#: Operations (by name) that only read; every other named operation, and every S3 PUT/POST/DELETE, writes.
_READ_PREFIXES = ("Get", "BatchGet", "Query", "Scan", "Describe", "List", "Head")
#: Headers that describe the original connection, not the request (werkzeug sets them anew on replay).
_DROP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
#: S3 preconditions: a journalled write met its condition when it was made, so its replay is unconditional.
#: Compaction needs that: tansu writes its metadata ``If-Match`` the ETag of the version it read, and that
#: version may be one compaction dropped (the replay then refused the latest write with 404: offsets lost).
_PRECONDITIONS = {"if-match", "if-none-match", "if-modified-since", "if-unmodified-since"}
#: The parts of a DynamoDB write that only test the item before it (``Expected`` and ``ConditionalOperator``
#: are their legacy form).
_CONDITIONS = ("ConditionExpression", "Expected", "ConditionalOperator")
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


def _unconditional(entry: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A journalled write's headers and body without its preconditions (S3 headers, a DynamoDB item write's
    condition and the placeholders only it used: DynamoDB refuses unused ones)."""
    headers = {k: v for k, v in entry["headers"].items() if k.lower() not in _PRECONDITIONS}
    body = base64.b64decode(entry["body"])
    target = compaction.header(entry, "X-Amz-Target") or ""
    if not target.startswith("DynamoDB_") or target.rsplit(".", 1)[-1] not in ("PutItem", "UpdateItem", "DeleteItem"):
        return headers, body
    request = json.loads(body)
    if not any(c in request for c in _CONDITIONS):
        return headers, body
    for name in _CONDITIONS:
        request.pop(name, None)
    used = set(_PLACEHOLDER.findall(request.get("UpdateExpression", "")))
    for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        kept = {k: v for k, v in request.pop(field, {}).items() if k in used}
        if kept:
            request[field] = kept
    return headers, json.dumps(request).encode()


#: A running server compacts its journal once it holds this many bytes and twice what the last compaction
#: left (``--compact-from-mb``); a start compacts whatever it finds.
COMPACT_FROM = 64 * 10**6


def _query_one_partition(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name is not None or hash_key is None:  # index queries span partitions: moto as is
        return _moto_query(self, hash_key, *args, **kwargs)
    view = copy.copy(self)
    view.items = {hash_key: self.items[hash_key]} if hash_key in self.items else {}
    return _moto_query(view, hash_key, *args, **kwargs)


def operation_name(environ: dict[str, Any], body: bytes) -> str | None:
    """The AWS operation of a request when its protocol names one (JSON target, RPC v2 path, query Action)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    path = str(environ.get("PATH_INFO", ""))
    if "/operation/" in path:  # smithy RPC v2 (CBOR), e.g. CloudWatch in recent botocore
        return path.rsplit("/operation/", 1)[-1].strip("/")
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    return None


def is_write(environ: dict[str, Any], body: bytes) -> bool:
    """True when the request may change state (what the journal must keep)."""
    if str(environ.get("PATH_INFO", "")).startswith("/moto-api/"):
        return False
    operation = operation_name(environ, body)
    if operation is not None:
        return not operation.startswith(_READ_PREFIXES)
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")


def _read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body (fixed length or chunked), put back so moto can read it again."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    body = stream.read(int(length)) if length else (stream.read() if environ.get("wsgi.input_terminated") else b"")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


_UPLOAD_ID = re.compile(r"(?<![^&])uploadId=[^&]*")
_CREATED_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def _upload_id(query: str) -> str | None:
    """The ``uploadId`` a request names (UploadPart, CompleteMultipartUpload, AbortMultipartUpload)."""
    values = parse_qs(query).get("uploadId")
    return values[0] if values else None


def _created_upload(method: str, query: str, answer: bytes) -> str | None:
    """The upload id moto answered a CreateMultipartUpload (``POST <key>?uploads``) with; None otherwise."""
    if method != "POST" or "uploads" not in parse_qs(query, keep_blank_values=True):
        return None
    found = _CREATED_UPLOAD_ID.search(answer)
    return found.group(1).decode() if found else None


def _complete_size(raw: io.BufferedRandom) -> int:
    """The length of a journal file up to and including its last newline (0 when it has none)."""
    end = raw.seek(0, io.SEEK_END)
    position = end
    while position > 0:
        step = min(position, 1 << 16)
        raw.seek(position - step)
        found = raw.read(step).rfind(b"\n")
        if found >= 0:
            return position - step + found + 1
        position -= step
    return 0


@dataclass(frozen=True)
class Replay:
    """What a start replayed: writes applied, the ones moto refused (named), and how long it took."""

    applied: int
    refused: tuple[str, ...]
    seconds: float


class Journal:
    """WSGI middleware: runs writes one at a time and appends each one that succeeded to the journal file."""

    def __init__(self, app: Callable[..., Iterable[bytes]], path: Path, compact_from: int = COMPACT_FROM) -> None:
        self.app = app
        self.path = path
        self.compact_from = compact_from
        self._lock = threading.Lock()
        self._file: io.TextIOWrapper | None = None
        self._size = 0  # bytes in the journal file
        self._compacted = 0  # what the last compaction left (skipped: what it read; at open: the file)
        self._compacting = threading.Lock()  # one compaction at a time

    def compact(self) -> Compaction | None:
        """At a start, before the replay: the whole journal compacted (:mod:`infra.compaction`), uploads
        never completed included (no client can complete them after a restart); None without a journal."""
        if not self.path.exists():
            return None
        compacted, done = compaction.compact(self.path, drop_open_uploads=True)
        if compacted is not None:
            compaction.replace(compacted, self.path, tail_from=done.bytes_before)
        return done

    def replay(self) -> Replay:
        """Apply every journalled write to the (empty) backends.

        A multipart upload is the one write whose later requests name something moto made up: the
        ``uploadId`` of CreateMultipartUpload, new and random on every run. So the replay maps each
        journalled id to the one this run's moto gave (recorded with the create since 2026-12-07; for a
        journal written before, the last upload created on the same key), or every UploadPart after a
        restart names an upload that does not exist. S3 preconditions (``If-Match``...) are left out: the
        write met them when it was made, and after a compaction the version they name may be gone. A write
        that still fails, even by raising inside moto, is counted and named, not fatal: a server that cannot
        start at all loses everything."""
        started = time.monotonic()
        applied, refused = 0, []
        uploads: dict[str, str] = {}  # journalled upload id -> this run's
        latest: dict[str, str] = {}  # key path -> this run's id of its last created upload
        if self.path.exists():
            with open(self.path, encoding="utf-8") as lines:
                for line in lines:
                    if not line.endswith("\n"):  # a write cut off by a kill: it was never answered
                        break
                    entry = json.loads(line)
                    query = entry["query"]
                    if (old := _upload_id(query)) is not None and (new := uploads.get(old) or latest.get(entry["path"])):
                        query = _UPLOAD_ID.sub(f"uploadId={quote(new, safe='')}", query)
                    headers, body = _unconditional(entry)
                    builder = EnvironBuilder(
                        path=entry["path"], method=entry["method"], query_string=query, headers=headers, data=body,
                    )  # fmt: skip
                    try:
                        app_iter, status, _ = run_wsgi_app(self.app, builder.get_environ(), buffered=True)
                        answer = b"".join(app_iter)
                    except Exception as exc:  # moto raised instead of answering
                        status, answer = f"500 {type(exc).__name__}: {exc}", b""
                    if int(status.split()[0]) >= 400:
                        refused.append(f"{entry['method']} {entry['path']}: {status}")
                        continue
                    applied += 1
                    if (created := _created_upload(entry["method"], query, answer)) is not None:
                        latest[entry["path"]] = created
                        if "upload_id" in entry:
                            uploads[entry["upload_id"]] = created
        return Replay(applied, tuple(refused), time.monotonic() - started)

    def open(self) -> None:
        """Open for appending, first cutting off a line a kill left half-written: appended to, it would
        join the next write into one line that no replay could read."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab+") as raw:
            raw.truncate(_complete_size(raw))
        self._file = open(self.path, "a", encoding="utf-8")
        self._size = self._compacted = self.path.stat().st_size

    def _compact_running(self) -> None:
        """While serving: compact what is written so far without holding writes, then, holding them only
        to copy what came meanwhile, put the result in place. Started when the journal has grown to
        ``compact_from`` bytes and to twice what the last compaction left; a failure is logged, and
        the journal stays as it was."""
        try:
            upto = self._size
            compacted, done = compaction.compact(self.path, upto=upto, drop_open_uploads=False)
            with self._lock:
                if compacted is not None:
                    assert self._file is not None
                    self._file.close()
                    try:
                        compaction.replace(compacted, self.path, tail_from=upto)
                    finally:  # renamed or not, writes go on to whichever journal is in place
                        self._file = open(self.path, "a", encoding="utf-8")
                print(done.line(), flush=True)
                self._size = self.path.stat().st_size
                # What this compaction left (or, skipped, what it read): not the tail written meanwhile, which
                # nobody compacted — counted in, a busy journal's next threshold rose by it every time.
                self._compacted = upto if done.skipped else done.bytes_after
        except Exception as exc:  # a background chore: the journal as it was keeps working
            print(f"journal: compaction failed, journal kept as it was: {type(exc).__name__}: {exc}", flush=True)
        finally:
            self._compacting.release()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = _read_body(environ)
        if self._file is None or not is_write(environ, body):
            return self.app(environ, start_response)
        with self._lock:
            app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
            answer = b"".join(app_iter)
            if int(status.split()[0]) < 300:
                entry = self._entry(environ, body)
                if (created := _created_upload(entry["method"], entry["query"], answer)) is not None:
                    entry["upload_id"] = created  # what the replay maps to the id its own moto makes up
                line = json.dumps(entry) + "\n"
                self._file.write(line)
                self._file.flush()
                self._size += len(line)  # ASCII: json.dumps escapes the rest
        if self._size >= max(self.compact_from, 2 * self._compacted) and self._compacting.acquire(blocking=False):
            threading.Thread(target=self._compact_running, name="journal-compaction", daemon=True).start()
        start_response(status, list(headers))
        return [answer]

    @staticmethod
    def _entry(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _DROP_HEADERS
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        return {
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", "/"),
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": base64.b64encode(body).decode("ascii"),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    parser.add_argument("--state-dir", type=Path, help="keep state across restarts in DIR/journal.jsonl")
    parser.add_argument("--compact-from-mb", type=float, default=COMPACT_FROM / 1e6,
                        help="compact the journal while serving once it holds this many MB (and twice what the last compaction left)")  # fmt: skip
    args = parser.parse_args(argv)
    Table.query = _query_one_partition  # type: ignore[method-assign]
    app: Callable[..., Iterable[bytes]] = DomainDispatcherApplication(create_backend_app)
    if args.state_dir is not None:
        journal = Journal(app, args.state_dir / "journal.jsonl", compact_from=int(args.compact_from_mb * 1e6))
        if (compacted := journal.compact()) is not None:
            print(compacted.line(), flush=True)
        done = journal.replay()
        size = journal.path.stat().st_size if journal.path.exists() else 0
        print(f"journal: {done.applied} writes replayed ({len(done.refused)} refused) from {size / 1e6:.1f} MB in "
              f"{done.seconds:.1f}s", flush=True)  # fmt: skip
        for line in done.refused[:10]:
            print(f"journal: refused on replay: {line}", flush=True)
        journal.open()
        app = journal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as moto's own main: stop cleanly on SIGTERM
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(sys.argv[1:])

"""What journal compaction drops and what it must keep (:func:`infra.compaction.plan`), on journal entries
in the shape :class:`infra.moto_server.Journal` writes them; the end-to-end check against a real moto is
``tests/integration/test_journal_compaction.py``."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from infra.compaction import plan
from infra.moto_server import Journal

S3_AUTH = "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/s3/aws4_request, SignedHeaders=host"


def s3(method: str, path: str, query: str = "", body: bytes = b"", host: str = "127.0.0.1:4566", **extra: Any) -> dict[str, Any]:
    headers = {"Host": host, "Authorization": S3_AUTH, **extra.pop("headers", {})}
    return {"method": method, "path": path, "query": query, "headers": headers, "body": base64.b64encode(body).decode(), **extra}


def dynamodb_put() -> dict[str, Any]:
    auth = S3_AUTH.replace("/s3/", "/dynamodb/")
    return {"method": "POST", "path": "/", "query": "", "body": "",
            "headers": {"Host": "127.0.0.1:4566", "Authorization": auth, "X-Amz-Target": "DynamoDB_20120810.PutItem"}}  # fmt: skip


def multipart(path: str, upload: str, recorded: bool = True, end: str = "POST") -> list[dict[str, Any]]:
    create = s3("POST", path, "uploads=", **({"upload_id": upload} if recorded else {}))
    part = s3("PUT", path, f"partNumber=1&uploadId={upload}")
    return [create, part, s3(end, path, f"uploadId={upload}")]


def test_an_overwritten_or_deleted_object_is_dropped_with_its_delete() -> None:
    entries = [s3("PUT", "/b"), s3("PUT", "/b/k"), dynamodb_put(), s3("PUT", "/b/k"), s3("PUT", "/b/gone"), s3("DELETE", "/b/gone")]
    assert plan(entries, drop_open_uploads=False) == {1, 4, 5}


def test_a_multipart_upload_overwritten_or_aborted_is_dropped_whole_also_without_recorded_ids() -> None:
    for recorded in (True, False):
        entries = multipart("/b/data", "u1", recorded) + [s3("PUT", "/b/data")] + multipart("/b/x", "u2", recorded, end="DELETE")
        assert plan(entries, drop_open_uploads=False) == {0, 1, 2, 4, 5, 6}


def test_an_open_upload_is_kept_while_serving_and_dropped_at_a_start() -> None:
    entries = multipart("/b/data", "u1")[:2]
    assert plan(entries, drop_open_uploads=False) == set()
    assert plan(entries, drop_open_uploads=True) == {0, 1}


def test_a_batch_delete_ends_the_objects_it_names_and_is_kept() -> None:
    body = b"<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>"
    entries = [s3("PUT", "/b/a&b"), s3("PUT", "/b/c"), s3("PUT", "/b/d"), s3("POST", "/b", "delete=", body)]
    assert plan(entries, drop_open_uploads=False) == {0, 1}


def test_tags_go_with_the_content_they_were_set_on() -> None:
    entries = [s3("PUT", "/b/k"), s3("PUT", "/b/k", "tagging="), s3("PUT", "/b/k"), s3("PUT", "/b/k", "tagging=")]
    assert plan(entries, drop_open_uploads=False) == {0, 1}


def test_versioned_or_copied_from_buckets_are_left_whole() -> None:
    versioned = [s3("PUT", "/v", "versioning="), s3("PUT", "/v/k"), s3("PUT", "/v/k"), s3("PUT", "/b/k"), s3("PUT", "/b/k")]
    assert plan(versioned, drop_open_uploads=False) == {3}
    copied = [s3("PUT", "/src/k"), s3("PUT", "/dst/k", headers={"X-Amz-Copy-Source": "/src/k"}), s3("PUT", "/src/k")]
    assert plan(copied, drop_open_uploads=False) == set()


def test_nothing_is_dropped_when_a_bucket_is_named_in_the_host() -> None:
    entries = [s3("PUT", "/b/k"), s3("PUT", "/b/k"), s3("PUT", "/k", host="b.s3.localhost.localstack.cloud:4566")]
    assert plan(entries, drop_open_uploads=False) == set()


def test_unsigned_or_other_services_are_never_dropped() -> None:
    unsigned = s3("PUT", "/b/k")
    unsigned["headers"].pop("Authorization")
    assert plan([unsigned, dict(unsigned), dynamodb_put(), dynamodb_put()], drop_open_uploads=False) == set()


def test_the_delete_of_content_the_journal_does_not_hold_whole_is_kept() -> None:
    """An upload completed whose create the journal lacks: its parts stay, so must the delete that ends it."""
    entries = [s3("PUT", "/b/k", "partNumber=1&uploadId=zz"), s3("POST", "/b/k", "uploadId=zz"), s3("DELETE", "/b/k")]
    assert plan(entries, drop_open_uploads=True) == set()


def test_opening_cuts_off_a_half_written_line(tmp_path: Path) -> None:
    """Appended to, a line a kill left half-written would merge with the next write into one unreadable line."""
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"a": 1}\n{"method": "PU')
    journal = Journal(lambda *_: [b""], path)
    journal.open()
    assert path.read_bytes() == b'{"a": 1}\n'
    path.write_bytes(b"no newline at all")
    journal.open()
    assert path.read_bytes() == b""

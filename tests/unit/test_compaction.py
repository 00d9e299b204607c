"""What journal compaction drops and what it must keep (:func:`infra.compaction.plan`), on journal entries
in the shape :class:`infra.moto_server.Journal` writes them; the end-to-end check against a real moto is
``tests/integration/test_journal_compaction.py``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from infra.compaction import plan, trimmed
from infra.moto_server import Journal, _unconditional

S3_AUTH = "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/s3/aws4_request, SignedHeaders=host"


def s3(method: str, path: str, query: str = "", body: bytes = b"", host: str = "127.0.0.1:4566", **extra: Any) -> dict[str, Any]:
    headers = {"Host": host, "Authorization": S3_AUTH, **extra.pop("headers", {})}
    return {"method": method, "path": path, "query": query, "headers": headers, "body": base64.b64encode(body).decode(), **extra}


def dynamodb(operation: str, **body: Any) -> dict[str, Any]:
    auth = S3_AUTH.replace("/s3/", "/dynamodb/")
    return {"method": "POST", "path": "/", "query": "", "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "headers": {"Host": "127.0.0.1:4566", "Authorization": auth, "X-Amz-Target": f"DynamoDB_20120810.{operation}"}}  # fmt: skip


def dynamodb_put(key: str = "a", table: str = "t") -> dict[str, Any]:
    return dynamodb("PutItem", TableName=table, Item={"k": {"S": key}, "v": {"N": "1"}})


def create(table: str = "t") -> dict[str, Any]:
    return dynamodb("CreateTable", TableName=table, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])


def batch(*puts: tuple[str, str]) -> dict[str, Any]:
    items: dict[str, list[Any]] = {}
    for table, key in puts:
        items.setdefault(table, []).append({"PutRequest": {"Item": {"k": {"S": key}}}})
    return dynamodb("BatchWriteItem", RequestItems=items)


def multipart(path: str, upload: str, recorded: bool = True, end: str = "POST") -> list[dict[str, Any]]:
    create = s3("POST", path, "uploads=", **({"upload_id": upload} if recorded else {}))
    part = s3("PUT", path, f"partNumber=1&uploadId={upload}")
    return [create, part, s3(end, path, f"uploadId={upload}")]


def test_an_overwritten_or_deleted_object_is_dropped_with_its_delete() -> None:
    entries = [s3("PUT", "/b"), s3("PUT", "/b/k"), dynamodb_put(), s3("PUT", "/b/k"), s3("PUT", "/b/gone"), s3("DELETE", "/b/gone")]
    assert plan(entries, drop_open_uploads=False).drop == {1, 4, 5}


def test_a_multipart_upload_overwritten_or_aborted_is_dropped_whole_also_without_recorded_ids() -> None:
    for recorded in (True, False):
        entries = multipart("/b/data", "u1", recorded) + [s3("PUT", "/b/data")] + multipart("/b/x", "u2", recorded, end="DELETE")
        assert plan(entries, drop_open_uploads=False).drop == {0, 1, 2, 4, 5, 6}


def test_an_open_upload_is_kept_while_serving_and_dropped_at_a_start() -> None:
    entries = multipart("/b/data", "u1")[:2]
    assert plan(entries, drop_open_uploads=False).drop == set()
    assert plan(entries, drop_open_uploads=True).drop == {0, 1}


def test_a_batch_delete_ends_the_objects_it_names_and_is_kept() -> None:
    body = b"<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>"
    entries = [s3("PUT", "/b/a&b"), s3("PUT", "/b/c"), s3("PUT", "/b/d"), s3("POST", "/b", "delete=", body)]
    assert plan(entries, drop_open_uploads=False).drop == {0, 1}


def test_tags_go_with_the_content_they_were_set_on() -> None:
    entries = [s3("PUT", "/b/k"), s3("PUT", "/b/k", "tagging="), s3("PUT", "/b/k"), s3("PUT", "/b/k", "tagging=")]
    assert plan(entries, drop_open_uploads=False).drop == {0, 1}


def test_versioned_or_copied_from_buckets_are_left_whole() -> None:
    versioned = [s3("PUT", "/v", "versioning="), s3("PUT", "/v/k"), s3("PUT", "/v/k"), s3("PUT", "/b/k"), s3("PUT", "/b/k")]
    assert plan(versioned, drop_open_uploads=False).drop == {3}
    copied = [s3("PUT", "/src/k"), s3("PUT", "/dst/k", headers={"X-Amz-Copy-Source": "/src/k"}), s3("PUT", "/src/k")]
    assert plan(copied, drop_open_uploads=False).drop == set()


def test_nothing_is_dropped_when_a_bucket_is_named_in_the_host() -> None:
    entries = [s3("PUT", "/b/k"), s3("PUT", "/b/k"), s3("PUT", "/k", host="b.s3.localhost.localstack.cloud:4566")]
    assert plan(entries, drop_open_uploads=False).drop == set()


def test_unsigned_requests_and_tables_the_journal_did_not_create_are_never_dropped() -> None:
    unsigned = s3("PUT", "/b/k")
    unsigned["headers"].pop("Authorization")
    assert plan([unsigned, dict(unsigned), dynamodb_put(), dynamodb_put()], drop_open_uploads=False).drop == set()


def test_the_delete_of_content_the_journal_does_not_hold_whole_is_kept() -> None:
    """An upload completed whose create the journal lacks: its parts stay, so must the delete that ends it."""
    entries = [s3("PUT", "/b/k", "partNumber=1&uploadId=zz"), s3("POST", "/b/k", "uploadId=zz"), s3("DELETE", "/b/k")]
    assert plan(entries, drop_open_uploads=True).drop == set()


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


def test_the_next_compaction_is_due_at_twice_what_the_last_left_not_counting_the_tail(tmp_path: Path) -> None:
    """Writes that arrive while a compaction runs are appended after it, uncompacted: the next one is due
    when the journal doubles what the compaction left, however long that tail (measured: a busy journal's
    compactions began at 219, 767 and 1,584 MB, though each left 169 MB)."""
    path = tmp_path / "journal.jsonl"
    lines = [json.dumps(e) + "\n" for e in (s3("PUT", "/b"), *[s3("PUT", "/b/k", body=b"x" * 3000)] * 9)]
    path.write_text("".join(lines))
    journal = Journal(lambda *_: [b""], path)
    journal.open()
    upto = journal._size
    with path.open("a") as meanwhile:  # what came while the compaction read the journal
        meanwhile.write(json.dumps(s3("PUT", "/b/other", body=b"y" * 30000)) + "\n")
    journal._compacting.acquire()
    journal._compact_running()
    left = len(lines[0]) + len(lines[-1])
    assert journal._compacted == left < upto
    assert journal._size == path.stat().st_size > 2 * left
    assert not journal._compacting.locked()


def test_a_compaction_not_worth_a_rewrite_leaves_the_journal_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A skipped compaction read the whole journal, as a real one does: the log says so, and the next one
    is due at twice what it read."""
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in (s3("PUT", "/b"), s3("PUT", "/b/k"), s3("PUT", "/b/other"))))
    before = path.read_bytes()
    journal = Journal(lambda *_: [b""], path)
    journal.open()
    journal._compacting.acquire()
    journal._compact_running()
    assert path.read_bytes() == before
    assert journal._compacted == journal._size == len(before)
    assert "journal: compaction skipped: it would save 0.0 of 0.0 MB, under 10%" in capsys.readouterr().out
    assert journal.compact() is not None and path.read_bytes() == before  # at a start: the same, journal kept


def test_an_item_put_again_loses_its_earlier_writes_and_batches_are_trimmed() -> None:
    """What ingest writes: BatchWriteItems of whole items, the same (user, movie) item again each batch."""
    entries = [create(), create("u"), batch(("t", "a"), ("t", "b"), ("u", "a")), batch(("t", "a")), batch(("t", "b"), ("u", "a"))]
    done = plan(entries, drop_open_uploads=False)
    assert done.drop == {2} and done.trim == {}  # every request of the first batch came again later
    done = plan(entries[:4], drop_open_uploads=False)
    assert done.drop == set() and done.trim == {2: {("t", 0)}}
    kept = json.loads(base64.b64decode(json.loads(trimmed(json.dumps(entries[2]).encode(), done.trim[2]))["body"]))
    assert kept["RequestItems"] == {"t": [{"PutRequest": {"Item": {"k": {"S": "b"}}}}], "u": [{"PutRequest": {"Item": {"k": {"S": "a"}}}}]}


def test_updates_go_with_the_item_they_changed() -> None:
    update = dynamodb("UpdateItem", TableName="t", Key={"k": {"S": "a"}}, UpdateExpression="SET v = v + 1")
    entries = [create(), dynamodb_put(), update, dynamodb_put(), update]
    assert plan(entries, drop_open_uploads=False).drop == {1, 2}
    deleted = [create(), update, dynamodb("DeleteItem", TableName="t", Key={"k": {"S": "a"}})]
    assert plan(deleted, drop_open_uploads=False).drop == {1}  # the delete is kept
    table_gone = [create(), dynamodb_put(), dynamodb("DeleteTable", TableName="t"), create(), dynamodb_put("b")]
    assert plan(table_gone, drop_open_uploads=False).drop == {1}


def test_transactions_and_partiql_leave_every_item_write() -> None:
    entries = [create(), dynamodb_put(), dynamodb_put(), dynamodb("TransactWriteItems", TransactItems=[])]
    assert plan(entries, drop_open_uploads=False).drop == set()


def test_a_replayed_item_write_has_no_condition_and_keeps_the_placeholders_it_still_uses() -> None:
    """The offsets table's writes are conditional on the item they replace, which compaction may drop."""
    update = dynamodb("UpdateItem", TableName="t", Key={"k": {"S": "a"}}, ConditionExpression="#0 = :0",
                      UpdateExpression="SET #1 = :1", ExpressionAttributeNames={"#0": "last", "#1": "next"},
                      ExpressionAttributeValues={":0": {"N": "701"}, ":1": {"N": "702"}})  # fmt: skip
    _, body = _unconditional(update)
    assert json.loads(body) == {"TableName": "t", "Key": {"k": {"S": "a"}}, "UpdateExpression": "SET #1 = :1",
                                "ExpressionAttributeNames": {"#1": "next"}, "ExpressionAttributeValues": {":1": {"N": "702"}}}  # fmt: skip
    put = dynamodb("PutItem", TableName="t", Item={"k": {"S": "a"}}, ConditionExpression="attribute_not_exists (#0)",
                   ExpressionAttributeNames={"#0": "k"})  # fmt: skip
    assert json.loads(_unconditional(put)[1]) == {"TableName": "t", "Item": {"k": {"S": "a"}}}
    conditional_s3 = s3("PUT", "/b/k", headers={"If-Match": '"etag"'})
    assert "If-Match" not in _unconditional(conditional_s3)[0]


def test_metric_data_is_kept_as_long_as_cloudwatch_keeps_it() -> None:
    """15 days before the journal's newest write (not the clock: a journal read later is planned the same)."""
    def put_metric(day: int) -> dict[str, Any]:
        entry = dynamodb("PutMetricData", Namespace="movierec", MetricData=[])
        entry["headers"]["X-Amz-Target"] = "GraniteServiceVersion20100801.PutMetricData"
        entry["headers"]["X-Amz-Date"] = f"202612{day:02d}T120000Z"
        return entry

    alarm = put_metric(20)
    alarm["headers"]["X-Amz-Target"] = "GraniteServiceVersion20100801.PutMetricAlarm"
    assert plan([put_metric(1), put_metric(4), put_metric(6), alarm], drop_open_uploads=False).drop == {0, 1}
    assert plan([put_metric(1), put_metric(5)], drop_open_uploads=False).drop == set()

"""moto's journal compaction against a real journalled moto server: state is what it was, the journal smaller.

The expected state is kept by the test itself (an independent model of what each S3 key and table holds),
never read back from the journal, and compared with what a restarted server answers.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from infra.stack import LOCAL_CREDENTIALS, free_port, s3_answers
from tests.fixtures.timeouts import TEST_TIMEOUT_S, wait_until

BUCKET = "compaction"
TABLE = "compaction-items"
#: Objects above this size are uploaded by boto3 in 5 MB parts.
PARTS = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)


class Moto:
    """One journalled moto server of this test's own (``python -m infra.moto_server``), restartable."""

    def __init__(self, state: Path, compact_from_mb: float | None = None) -> None:
        self.state, self.port = state, free_port()
        self.extra = [] if compact_from_mb is None else ["--compact-from-mb", str(compact_from_mb)]
        self.log = state.parent / "moto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def journal(self) -> Path:
        return self.state / "journal.jsonl"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "infra.moto_server", "-p", str(self.port), "--state-dir", str(self.state), *self.extra]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **LOCAL_CREDENTIALS})
        assert wait_until(lambda: s3_answers(self.endpoint, "us-east-1")), self.log.read_text()[-2000:]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=TEST_TIMEOUT_S)

    def client(self, service: str):  # type: ignore[no-untyped-def]
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix)]


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
    server = Moto(tmp_path / "state")
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()


def _state(server: Moto) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every object of the bucket with its body, and every item of the table (key -> value)."""
    s3, dynamodb = server.client("s3"), server.client("dynamodb")
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
    items = {i["k"]["S"]: i["v"]["S"] for i in dynamodb.scan(TableName=TABLE)["Items"]}
    return objects, items


def _setup(server: Moto) -> None:
    server.client("s3").create_bucket(Bucket=BUCKET)
    server.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
    )  # fmt: skip


def _workload(server: Moto, objects: dict[str, bytes], items: dict[str, str], rng: random.Random, rounds: int) -> None:
    """What the stack does to its bucket, at random: tansu's small files rewritten again and again (most of
    them conditionally, ``If-Match`` the version it read, as tansu does), index
    versions uploaded in parts and later deleted one by one or in a batch, an upload aborted, table items
    written again and again (in batches, as ingest does; conditionally, as the offsets are). ``objects`` and ``items`` are the test's own record of what must be there."""
    s3, dynamodb = server.client("s3"), server.client("dynamodb")
    for r in range(rounds):
        for name in ("meta.json", "watermark.json", f"groups/g{r % 3}.json"):
            body = json.dumps({"round": r, "n": rng.random()}).encode()
            key = f"tansu/{name}"
            if key in objects and name != "watermark.json":  # as tansu writes: only over the version it read
                s3.put_object(Bucket=BUCKET, Key=key, Body=body, IfMatch=s3.head_object(Bucket=BUCKET, Key=key)["ETag"])
            else:
                s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            objects[key] = body
        version = f"index/v{r}/"
        big = rng.randbytes(6 * 2**20 + rng.randrange(2**20))
        s3.upload_fileobj(io.BytesIO(big), BUCKET, version + "data.lance", Config=PARTS)
        s3.put_object(Bucket=BUCKET, Key=version + "manifest.json", Body=f"v{r}".encode())
        objects[version + "data.lance"], objects[version + "manifest.json"] = big, f"v{r}".encode()
        if r >= 2:  # keep the last two versions: the older one goes, one object at a time or in a batch
            old = [k for k in objects if k.startswith(f"index/v{r - 2}/")]
            if r % 2:
                s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in old]})
            else:
                for key in old:
                    s3.delete_object(Bucket=BUCKET, Key=key)
            for key in old:
                del objects[key]
        aborted = s3.create_multipart_upload(Bucket=BUCKET, Key=f"aborted/{r}")
        s3.upload_part(Bucket=BUCKET, Key=f"aborted/{r}", UploadId=aborted["UploadId"], PartNumber=1, Body=b"x" * 1024)
        s3.abort_multipart_upload(Bucket=BUCKET, Key=f"aborted/{r}", UploadId=aborted["UploadId"])
        for key in (f"user-{r}", "pointer"):
            value = f"{r}-{rng.random()}"
            dynamodb.put_item(TableName=TABLE, Item={"k": {"S": key}, "v": {"S": value}})
            items[key] = value
        # As ingest writes: whole items in batches, the same keys again round after round, now and then one deleted.
        batch = {f"item-{(r + n) % 7}": f"{r}-{n}" for n in range(5)}
        dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": {"k": {"S": k}, "v": {"S": v}}}}
                                                        for k, v in batch.items()]})  # fmt: skip
        items.update(batch)
        if r % 3 == 2:
            dynamodb.delete_item(TableName=TABLE, Key={"k": {"S": f"item-{r % 7}"}})
            items.pop(f"item-{r % 7}", None)
        # As the offsets table is written: each write conditional on the item it replaces.
        old, new = items.get("offset"), str(r)
        if old is None:
            dynamodb.put_item(TableName=TABLE, Item={"k": {"S": "offset"}, "v": {"S": new}}, ConditionExpression="attribute_not_exists(k)")
        elif r % 2:
            dynamodb.update_item(TableName=TABLE, Key={"k": {"S": "offset"}}, ConditionExpression="#v = :old",
                                 UpdateExpression="SET #v = :new", ExpressionAttributeNames={"#v": "v"},
                                 ExpressionAttributeValues={":old": {"S": old}, ":new": {"S": new}})  # fmt: skip
        else:
            dynamodb.put_item(TableName=TABLE, Item={"k": {"S": "offset"}, "v": {"S": new}}, ConditionExpression="#v = :old",
                              ExpressionAttributeNames={"#v": "v"}, ExpressionAttributeValues={":old": {"S": old}})  # fmt: skip
        items["offset"] = new


def test_a_start_compacts_the_journal_and_the_state_is_what_it_was(moto: Moto) -> None:
    rng = random.Random(7)
    objects: dict[str, bytes] = {}
    items: dict[str, str] = {}
    _setup(moto)
    _workload(moto, objects, items, rng, rounds=5)
    s3 = moto.client("s3")  # an upload a kill cuts off: no client can complete it after the restart
    s3.upload_part(Bucket=BUCKET, Key="cut-off", PartNumber=1, Body=b"y" * 1024,
                   UploadId=s3.create_multipart_upload(Bucket=BUCKET, Key="cut-off")["UploadId"])  # fmt: skip
    assert _state(moto) == (objects, items)
    before = moto.journal.stat().st_size
    with open(moto.journal, "ab") as journal:  # a write cut off by the kill, half on disk
        journal.write(b'{"method": "PUT", "path": "/compaction/half')

    moto.kill()
    moto.start()
    assert _state(moto) == (objects, items)
    [compacted] = moto.lines("journal: compacted")
    [_, replayed] = [line for line in moto.lines("journal: ") if "writes replayed" in line]
    assert "(0 refused)" in replayed, moto.log.read_text()[-2000:]
    after = moto.journal.stat().st_size
    assert after < before / 2, (before, after, compacted)  # 5 versions of 6-7 MB written, 2 left
    assert not any(b'"path": "/compaction/aborted/' in line or b"/cut-off" in line for line in moto.journal.read_bytes().splitlines())

    # The compacted journal keeps being written to, and a second start finds it all again.
    _workload(moto, objects, items, rng, rounds=2)
    moto.kill()
    moto.start()
    assert _state(moto) == (objects, items)


def test_a_running_server_compacts_while_it_is_written_to(tmp_path: Path) -> None:
    """Past ``--compact-from-mb`` a serving moto compacts in the background; writes go on meanwhile, and
    a restart (after a SIGKILL) finds everything."""
    server = Moto(tmp_path / "state", compact_from_mb=15)
    server.start()
    try:
        rng = random.Random(11)
        objects: dict[str, bytes] = {}
        items: dict[str, str] = {}
        _setup(server)
        _workload(server, objects, items, rng, rounds=6)
        assert wait_until(lambda: server.lines("journal: compacted")), server.log.read_text()[-2000:]
        assert not server.lines("journal: compaction failed")
        assert _state(server) == (objects, items)
        _workload(server, objects, items, rng, rounds=1)
        server.kill()
        server.start()
        assert _state(server) == (objects, items)
        assert not any("refused on replay" in line for line in server.lines("journal: "))
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()

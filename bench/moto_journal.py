"""What moto's write journal costs: PutItem rate with and without it, journal size, replay time at restart,
and what compaction leaves once every item was written twice.

Runs two moto servers of the local stack on free ports (one with ``--state-dir``), writes the same items
to each, then SIGKILLs the journalled one and times its restart (replay) until S3 answers again; writes
every item again, SIGKILLs it, and times the next start (compaction, then replay).
``python bench/moto_journal.py [--items 2000]``; prints the figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from infra.stack import LOCAL_CREDENTIALS, free_port, s3_answers


def _start(port: int, state: Path | None) -> tuple[subprocess.Popen[bytes], float]:
    cmd = [sys.executable, "-m", "infra.moto_server", "-p", str(port)] + (["--state-dir", str(state)] if state else [])
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not s3_answers(f"http://127.0.0.1:{port}", "us-east-1"):
        time.sleep(0.05)
    return proc, time.monotonic() - started


def _writes(port: int, items: int, create: bool = True) -> float:
    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
    if create:
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])  # fmt: skip
    started = time.monotonic()
    for i in range(items):
        client.put_item(TableName="t", Item={"k": {"S": str(i)}, "v": {"S": "x" * 200}})
    return items / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update(LOCAL_CREDENTIALS)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        plain_port, journal_port = free_port(), free_port()
        plain, _ = _start(plain_port, None)
        journalled, _ = _start(journal_port, state)
        try:
            plain_rate = _writes(plain_port, args.items)
            journal_rate = _writes(journal_port, args.items)
        finally:
            plain.terminate()
            plain.wait()
        journalled.send_signal(signal.SIGKILL)
        journalled.wait()
        size_mb = (state / "journal.jsonl").stat().st_size / 1e6
        restarted, replay_s = _start(journal_port, state)
        _writes(journal_port, args.items, create=False)  # every item written again: the first writes are moot
        restarted.send_signal(signal.SIGKILL)
        restarted.wait()
        rewritten_mb = (state / "journal.jsonl").stat().st_size / 1e6
        compacted, compact_s = _start(journal_port, state)
        compacted.terminate()
        compacted.wait()
        compacted_mb = (state / "journal.jsonl").stat().st_size / 1e6
    print(f"PutItem, {args.items} items of ~200 B, one client: plain moto {plain_rate:.0f}/s, "
          f"with journal {journal_rate:.0f}/s ({100 * (1 - journal_rate / plain_rate):.0f}% slower)")
    print(f"journal {size_mb:.2f} MB for {args.items + 1} writes; restart after SIGKILL answers in {replay_s:.1f}s "
          f"(replay included)")
    print(f"every item written again: journal {rewritten_mb:.2f} MB; the next start compacts it to {compacted_mb:.2f} MB "
          f"and answers in {compact_s:.1f}s (compaction and replay included)")


if __name__ == "__main__":
    main()

"""What moto's write journal costs: PutItem rate with and without it, journal size, replay time at restart,
and what compaction leaves once every item was written twice.

Runs two moto servers of the local stack on free ports (one with ``--state-dir``), writes the same items
to each, then SIGKILLs the journalled one and times its restart (replay) until S3 answers again; writes
every item again, SIGKILLs it, and times the next start (compaction, then replay).
``python bench/moto_journal.py [--items 2000]``; prints the figures.

``--while-compacting`` instead measures what a compaction while serving costs the reads that serving does
(DynamoDB GetItem, two clients without pause): a journalled moto (compacting from ``--compact-from-mb``)
receives 4 MB S3 objects, first ``--objects`` distinct keys (the live data a compaction keeps, as index
versions are), then the same keys again until it has compacted ``--compactions`` times; the reads made
while a compaction ran (its window read from the server's log line: end time and duration) are compared
with the others, and the writes' latencies are printed too (a write waits while the tail is copied).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
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


#: A compaction's log line (infra/compaction.py ``Compaction.line``): its sizes and duration; a skipped one's
#: (it read the whole journal too): what it would have saved, the size, and the duration.
_COMPACTED = re.compile(r"journal: compacted .*\(.*; ([0-9.]+) MB -> ([0-9.]+) MB\) in ([0-9.]+)s")
_SKIPPED = re.compile(r"journal: compaction skipped: it would save ([0-9.]+) of ([0-9.]+) MB.*\(read in ([0-9.]+)s\)")


def _percentiles(ms: list[float]) -> str:
    if not ms:
        return "none"
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return f"{len(ms)} reads, p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(ms):.1f} ms"


def while_compacting(objects: int, compactions: int, compact_from_mb: float) -> None:
    """Read latency during and outside compactions while serving (module doc)."""
    with tempfile.TemporaryDirectory() as tmp:
        port, state = free_port(), Path(tmp) / "state"
        cmd = [sys.executable, "-m", "infra.moto_server", "-p", str(port), "--state-dir", str(state),
               "--compact-from-mb", str(compact_from_mb)]  # fmt: skip
        server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        windows: list[tuple[float, float, str]] = []  # (start, end, "a -> b MB") of each compaction

        def log() -> None:
            assert server.stdout is not None
            for line in server.stdout:
                end = time.monotonic()
                if m := _COMPACTED.search(line):
                    windows.append((end - float(m.group(3)), end, f"{m.group(1)} -> {m.group(2)} MB in {m.group(3)} s"))
                elif m := _SKIPPED.search(line):
                    windows.append((end - float(m.group(3)), end, f"{m.group(2)} MB read, skipped, in {m.group(3)} s"))

        threading.Thread(target=log, daemon=True).start()
        reads: list[tuple[float, float]] = []  # (start, ms)
        stop = threading.Event()
        readers: list[threading.Thread] = []
        try:
            while not s3_answers(f"http://127.0.0.1:{port}", "us-east-1"):
                time.sleep(0.05)
            _writes(port, 1000)

            def reader(seed: int) -> None:
                client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
                i = seed
                while not stop.is_set():
                    i = (i * 7919 + 1) % 1000
                    started = time.monotonic()
                    client.get_item(TableName="t", Key={"k": {"S": str(i)}})
                    reads.append((started, 1000 * (time.monotonic() - started)))

            readers += [threading.Thread(target=reader, args=(n,)) for n in (1, 2)]
            for t in readers:
                t.start()
            s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
            s3.create_bucket(Bucket="bench-journal")
            body, puts, written = os.urandom(4 << 20), [], 0
            while sum("skipped" not in w for _, _, w in windows) < compactions and written < 40 * objects:
                started = time.monotonic()
                s3.put_object(Bucket="bench-journal", Key=f"v/{written % objects}", Body=body)
                puts.append(1000 * (time.monotonic() - started))
                written += 1
            time.sleep(1.0)  # reads after the last compaction too
        finally:
            stop.set()
            for t in readers:
                t.join()
            server.terminate()
            server.wait()
    during = [ms for at, ms in reads if any(a <= at <= b for a, b, _ in windows)]
    outside = [ms for at, ms in reads if not any(a <= at <= b for a, b, _ in windows)]
    print(f"{written} PutObject of 4 MB over {objects} keys; compactions while serving (skipped ones too): "
          + ("; ".join(w for _, _, w in windows) or "none"))
    print(f"GetItem while a compaction ran: {_percentiles(during)}")
    print(f"GetItem otherwise:              {_percentiles(outside)}")
    print(f"PutObject (4 MB):               {_percentiles(puts).replace('reads', 'writes')}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--while-compacting", action="store_true", help="read latency during compactions while serving")
    parser.add_argument("--objects", type=int, default=30, help="--while-compacting: distinct 4 MB objects (live data)")
    parser.add_argument("--compactions", type=int, default=3, help="--while-compacting: stop after this many")
    parser.add_argument("--compact-from-mb", type=float, default=64.0, help="--while-compacting: the server's threshold")
    args = parser.parse_args()
    os.environ.update(LOCAL_CREDENTIALS)
    if args.while_compacting:
        while_compacting(args.objects, args.compactions, args.compact_from_mb)
        return
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

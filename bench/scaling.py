"""Scaling benchmark: end-to-end events/s Kafka (tansu) -> DynamoDB (moto) with 1, 2, 4 worker processes.

    .venv/bin/python bench/scaling.py [--limit 8000] [--minutes 3] [--workers 1,2,4] [--json FILE]

For each worker count: a fresh moto + tansu on free ports (never the default ones), the same MovieLens
lines (course format, keyed by user, 4 partitions) produced into Kafka, then the real workers
(``infra.ingest_workers``: ``movierec ingest --partitions ...`` processes) until every partition's
watermark reached the end. Prints events/s, item writes per event, and where the CPU went (moto, tansu,
the workers; from /proc), because on this machine moto itself is expected to be the limit. ``--json``
writes the figures for ``bench/capacity.py``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import tempfile
import time
from pathlib import Path

from movierec.config import Settings, get_settings

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


def _settings(run: Path) -> Settings:
    from infra.stack import LOCAL_CREDENTIALS, free_port

    moto_port, kafka_port = free_port(), free_port()
    os.environ.update({
        "MOVIEREC_MOTO_PORT": str(moto_port), "MOVIEREC_KAFKA_PORT": str(kafka_port),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "MOVIEREC_PREFIX": "scale",
        "MOVIEREC_RUN_DIR": str(run), "MOVIEREC_TANSU_STORAGE": "memory://", **LOCAL_CREDENTIALS,
    })  # fmt: skip
    get_settings.cache_clear()
    return get_settings()


def run_one(workers: int, lines: list[bytes], batch_size: int) -> dict[str, float]:
    from infra.bootstrap import bootstrap
    from infra.ingest_workers import IngestWorkers
    from infra.replay import produce
    from infra.stack import Stack
    from infra.wait import wait_until
    from movierec.dal.offsets import read_watermark, source_of
    from movierec.dal.tables import Tables

    run = Path(tempfile.mkdtemp(prefix=f"movierec-scale-{workers}-"))
    settings = dataclasses.replace(_settings(run), ingest_workers=workers, batch_size=batch_size, batch_window_s=0.5)
    stack = Stack(settings)
    stack.up()
    try:
        bootstrap(settings)
        produce(settings, lines, progress=False)
        tables = Tables(settings)
        pids = {name: pid for name, _, pid, _ in stack.status() if pid}
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        group = IngestWorkers(settings)
        started = time.perf_counter()
        group.start()

        def applied() -> int:
            return sum(read_watermark(tables, source_of(settings.kafka_topic, p)) or 0
                       for p in range(settings.kafka_partitions))  # fmt: skip

        wait_until(lambda: applied() >= len(lines), timeout_s=3600, every_s=0.2)
        seconds = time.perf_counter() - started
        worker_cpu = sum(cpu_s(proc.pid) for proc in group.procs)
        after = {name: cpu_s(pid) for name, pid in pids.items()}
        group.stop()
        writes = 0
        for i in range(len(group.shares)):
            found = re.findall(r"(\d+) item writes", group.log_path(i).read_text())
            writes += int(found[-1]) if found else 0
        sizes = item_sizes(settings)
    finally:
        stack.down()
    return {
        "workers": workers, "events": len(lines), "seconds": seconds, "events_per_s": len(lines) / seconds,
        "item_writes": writes, "writes_per_event": writes / len(lines),
        "cpu_moto_s": after.get("moto", 0.0) - before.get("moto", 0.0),
        "cpu_tansu_s": after.get("tansu", 0.0) - before.get("tansu", 0.0), "cpu_workers_s": worker_cpu,
        "item_bytes": sizes,
    }  # fmt: skip


def value_bytes(value: dict) -> int:
    """DynamoDB's size of one typed attribute value: strings in UTF-8, binaries raw, numbers about one
    byte per two digits, lists and maps their members plus 3 bytes."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "B":
        return len(v)
    if kind == "N":
        return len(v) // 2 + 1
    if kind == "L":
        return 3 + sum(value_bytes(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k) + value_bytes(x) for k, x in v.items())
    if kind in ("SS", "NS", "BS"):
        return sum(len(x) for x in v)
    return 1  # BOOL, NULL


def item_sizes(settings: Settings) -> dict[str, dict[str, float]]:
    """Per table: items and their mean size in bytes (attribute names + values, as DynamoDB sizes an
    item): what a write costs in write units (1 per started KB)."""
    from movierec import aws
    from movierec.config import TABLES

    client = aws.client("dynamodb", settings)
    out: dict[str, dict[str, float]] = {}
    for logical in TABLES:
        sizes = [sum(len(name) + value_bytes(value) for name, value in item.items())
                 for page in client.get_paginator("scan").paginate(TableName=settings.table(logical))
                 for item in page["Items"]]  # fmt: skip
        out[logical] = {"items": len(sizes), "mean_bytes": sum(sizes) / len(sizes) if sizes else 0.0}
    return out


def main() -> None:
    from infra.replay import movielens_lines

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=8000, help="MovieLens ratings, first by time (default 8000)")
    parser.add_argument("--minutes", type=int, default=3, help="watch lines per rating (default 3)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=2000, help="records per handler invocation")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here (bench/capacity.py)")
    args = parser.parse_args()

    lines = list(movielens_lines(args.minutes, args.limit, get_settings()))
    print(f"{len(lines):,} events ({args.limit:,} MovieLens ratings, {args.minutes} watch lines each + the rate line), "
          f"4 partitions keyed by user, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        r = run_one(workers, lines, args.batch_size)
        results.append(r)
        total = r["cpu_moto_s"] + r["cpu_tansu_s"] + r["cpu_workers_s"]
        print(f"workers={workers}: {r['events_per_s']:,.0f} events/s ({r['seconds']:.1f}s); "
              f"{r['writes_per_event']:.3f} item writes/event; CPU moto {r['cpu_moto_s']:.1f}s "
              f"({100 * r['cpu_moto_s'] / total:.0f}%), workers {r['cpu_workers_s']:.1f}s, tansu {r['cpu_tansu_s']:.1f}s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load": os.getloadavg()[0], "runs": results}, indent=2))


if __name__ == "__main__":
    main()

"""Ingest benchmark: parser lines/s on one core; end-to-end events/s Kafka (tansu) -> DynamoDB (moto).

    .venv/bin/python bench/ingest.py [--minutes 5] [--limit N] [--batch-size 10000]

Starts its own moto + tansu on free ports (never the default ones), replays MovieLens ml-latest-small in
the course format into Kafka, then runs the real poller and ingest handler in this process until every
line is applied, and prints where the time went. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import threading
import time

from movierec.config import get_settings
from movierec.datasets import data_path
from movierec.logic.parser import parse_line


def bench_parser(repeats: int = 5) -> dict[str, float]:
    """Best-of-``repeats`` parse rate over every real sample line (CPU time of this one thread)."""
    lines: list[bytes] = []
    for name in ("cmu_f24_rate_lines.txt", "cmu_s25_rate_lines.txt", "cmu_s25_watch_lines.txt"):
        lines += data_path("stream", name).read_bytes().splitlines()
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        for line in lines:
            parse_line(line)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return {"lines": len(lines), "cpu_lines_per_s": len(lines) / best_cpu, "wall_lines_per_s": len(lines) / best_wall}


def bench_end_to_end(minutes: int, limit: int | None, batch_size: int) -> dict[str, float]:
    from infra.bootstrap import bootstrap
    from infra.handlers import load_handler
    from infra.poller import Poller
    from infra.replay import movielens_lines, produce
    from infra.stack import LOCAL_CREDENTIALS, Stack, free_port
    from movierec.dal.history import scan_states
    from movierec.dal.tables import Tables
    from movierec.observability import emf_output

    moto_port, kafka_port = free_port(), free_port()
    os.environ.update({
        "MOVIEREC_MOTO_PORT": str(moto_port), "MOVIEREC_KAFKA_PORT": str(kafka_port),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "MOVIEREC_PREFIX": "bench",
        "MOVIEREC_RUN_DIR": tempfile.mkdtemp(prefix="movierec-bench-"), **LOCAL_CREDENTIALS,
    })
    get_settings.cache_clear()
    settings = dataclasses.replace(get_settings(), batch_size=batch_size, batch_window_s=0.5)
    stack = Stack(settings)
    stack.up()
    emf_output().attach(lambda doc: None)  # metrics documents are not what we measure here
    try:
        bootstrap(settings)
        lines = list(movielens_lines(minutes, limit, settings))
        started = time.perf_counter()
        sent = produce(settings, lines, progress=False)
        produce_s = time.perf_counter() - started

        handler = load_handler("ingest")
        totals = {"records": 0, "handler": 0.0, "parse": 0.0, "read": 0.0, "write": 0.0, "batches": 0, "chunks": 0}
        writes: dict[str, int] = {}
        done = threading.Event()

        def timed(event: dict, context: object) -> dict:
            t = time.perf_counter()
            summary = handler(event, context)
            totals["handler"] += time.perf_counter() - t
            totals["batches"] += 1
            totals["records"] += summary["records"]
            totals["chunks"] += summary["chunks"]
            for phase in ("parse", "read", "write"):
                totals[phase] += summary["seconds"].get(phase, 0.0)
            for table, n in summary["writes"].items():
                writes[table] = writes.get(table, 0) + n
            if totals["records"] >= sent:
                done.set()
            return summary

        poller = Poller(settings, handler=timed)
        started = time.perf_counter()
        poller.start()
        done.wait(timeout=1800)
        e2e_s = time.perf_counter() - started
        poller.stop()
        histories = dict(scan_states(Tables(settings)))
    finally:
        emf_output().attach(None)
        stack.down()
    other = totals["handler"] - totals["parse"] - totals["read"] - totals["write"]
    return {
        "events": sent, "users": len(histories), "pairs": sum(len(h) for h in histories.values()), "writes": writes, "produce_s": produce_s, "produce_per_s": sent / produce_s,
        "e2e_s": e2e_s, "e2e_events_per_s": totals["records"] / e2e_s, "batches": totals["batches"], "chunks": totals["chunks"],
        "parse_s": totals["parse"], "read_s": totals["read"], "write_s": totals["write"], "handler_other_s": other,
        "kafka_and_poller_s": e2e_s - totals["handler"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=5, help="watch lines per MovieLens rating")
    parser.add_argument("--limit", type=int, default=None, help="only the first N ratings (default: all 100,836)")
    parser.add_argument("--batch-size", type=int, default=10000,
                        help="records per handler invocation (10,000 = the largest Kafka BatchSize Lambda takes)")
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()

    p = bench_parser()
    print(f"parser: {p['lines']} real sample lines; {p['cpu_lines_per_s']:,.0f} lines/s (CPU time, one core), "
          f"{p['wall_lines_per_s']:,.0f} lines/s (wall)")
    if args.skip_e2e:
        return
    r = bench_end_to_end(args.minutes, args.limit, args.batch_size)
    print(f"replay: {r['events']:,} events ({args.minutes} watch lines + 1 rate line per rating) produced in "
          f"{r['produce_s']:.1f}s = {r['produce_per_s']:,.0f} lines/s")
    print(f"end to end: {r['events']:,} events applied in {r['e2e_s']:.1f}s = {r['e2e_events_per_s']:,.0f} events/s "
          f"({r['batches']} batches of <= {args.batch_size}; {r['users']:,} users, {r['pairs']:,} (user, movie) histories)")
    items = sum(r["writes"].values())
    print(f"item writes: {items:,} ({', '.join(f'{t} {n:,}' for t, n in sorted(r['writes'].items()))}) "
          f"= {r['events'] / items:.1f} events per item written, plus an intent and a watermark write for each of "
          f"{r['chunks']} chunks")
    print(f"where the time went: handler parse {r['parse_s']:.1f}s, DynamoDB reads + folding {r['read_s']:.1f}s, "
          f"DynamoDB writes {r['write_s']:.1f}s, other handler {r['handler_other_s']:.1f}s, "
          f"Kafka fetch + poller {r['kafka_and_poller_s']:.1f}s")


if __name__ == "__main__":
    main()

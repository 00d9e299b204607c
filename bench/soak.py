"""Soak benchmark: 100,000 requests to GET /recommend; the serving process's memory every 10,000.

    .venv/bin/python bench/soak.py [--requests 100000] [--every 10000] [--clients 4]

Runs the API under ``chalice local`` exactly as ``make up`` does (its own private stack, the course
catalog's index, users with histories of 0..200 movies) and sends requests round-robin from ``--clients``
keep-alive connections in parallel. The resident memory (RSS) of the ``chalice local`` process is sampled
after the warm-up and every ``--every`` requests. Target: growth from the first sample (10k) to the last
(100k) <= 5% (the starting design died after ~25k requests from a memory leak). Every answer is also
logged to the ``recommendations`` table by the server, so the answer log's queue is part of what is
measured.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._recommend_setup import Client, api_server, local_system, percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="parallel keep-alive connections (default 4)")
    parser.add_argument("--users-per-length", type=int, default=1, help="users per history length (default 1)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with local_system(args.users_per_length) as system, api_server(system.settings) as server:
        [(_, _, pid, _)] = server.status()
        process = psutil.Process(pid)
        users = sorted(system.users)
        warm = Client(system.settings)
        for user in users:
            warm.get(f"/recommend/{user}")
        warm.close()
        print(f"after warm-up ({len(users)} users): RSS {process.memory_info().rss / 2**20:.1f} MiB", flush=True)
        tickets = itertools.count(1)
        done = itertools.count(1)
        latencies: list[float] = []
        errors: list[int] = []
        finished = [0]

        def client_loop() -> None:
            client = Client(system.settings)
            try:
                while (n := next(tickets)) <= args.requests:
                    t = time.perf_counter()
                    status, _ = client.get(f"/recommend/{users[n % len(users)]}")
                    latencies.append((time.perf_counter() - t) * 1000)
                    if status != 200:
                        errors.append(status)
                    finished[0] = next(done)
            finally:
                client.close()

        threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples: list[tuple[int, int]] = []
        mark = args.every
        while mark <= args.requests:
            while finished[0] < mark and any(t.is_alive() for t in threads):
                time.sleep(0.05)
            rss = process.memory_info().rss
            samples.append((finished[0], rss))
            window = latencies[-args.every :]
            print(f"{finished[0]:>7} requests  RSS {rss / 2**20:7.1f} MiB  window p50 {percentile(window, 50):.1f} "
                  f"p99 {percentile(window, 99):.1f} ms  errors {len(errors)}  "
                  f"{finished[0] / (time.monotonic() - started):.0f} req/s", flush=True)  # fmt: skip
            mark += args.every
        for thread in threads:
            thread.join()
    growth = (samples[-1][1] - samples[0][1]) / samples[0][1] * 100
    ok = growth <= 5 and not errors
    print(f"\nRSS growth from {samples[0][0]:,} to {samples[-1][0]:,} requests: {growth:+.2f}% (target <= 5%); "
          f"errors {len(errors)}; overall p50 {percentile(latencies, 50):.1f} p99 {percentile(latencies, 99):.1f} ms: "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Soak benchmark: 100,000 requests to GET /recommend; the serving process's memory every 10,000.

    .venv/bin/python bench/soak.py [--requests 100000] [--every 10000]

Runs the API under ``chalice local`` exactly as ``make up`` does (its own private stack, the course
catalog's index, users with histories of 0..200 movies) and sends requests round-robin over one
keep-alive connection. The resident memory (RSS) of the ``chalice local`` process is sampled after the
warm-up and every ``--every`` requests. Target: growth from 10k to 100k requests <= 5% (the starting
design died after ~25k requests from a memory leak). Every answer is also logged to the
``recommendations`` table by the server, so the answer log's queue is part of what is measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._recommend_setup import Client, api_server, local_system, percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with local_system() as system, api_server(system.settings) as server:
        [(_, _, pid, _)] = server.status()
        process = psutil.Process(pid)
        users = sorted(system.users)
        client = Client(system.settings)
        for user in users:
            client.get(f"/recommend/{user}")
        samples = [(0, process.memory_info().rss)]
        print(f"after warm-up ({len(users)} users): RSS {samples[0][1] / 2**20:.1f} MiB")
        latencies: list[float] = []
        errors = 0
        started = time.monotonic()
        for n in range(1, args.requests + 1):
            t = time.perf_counter()
            status, _ = client.get(f"/recommend/{users[n % len(users)]}")
            latencies.append((time.perf_counter() - t) * 1000)
            errors += status != 200
            if n % args.every == 0:
                rss = process.memory_info().rss
                samples.append((n, rss))
                window = latencies[-args.every :]
                print(f"{n:>7} requests  RSS {rss / 2**20:7.1f} MiB  window p50 {percentile(window, 50):.2f} "
                      f"p99 {percentile(window, 99):.2f} ms  errors {errors}  {n / (time.monotonic() - started):.0f} req/s",
                      flush=True)  # fmt: skip
        client.close()
    rss = dict(samples)
    first = rss.get(args.every) or samples[1][1]
    growth = (samples[-1][1] - first) / first * 100
    print(f"\nRSS growth from {args.every:,} to {samples[-1][0]:,} requests: {growth:+.2f}% "
          f"(target <= 5%): {'PASS' if growth <= 5 else 'FAIL'}; errors {errors}; "
          f"overall p50 {percentile(latencies, 50):.2f} p99 {percentile(latencies, 99):.2f} ms")  # fmt: skip
    return 0 if growth <= 5 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

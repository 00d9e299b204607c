"""Benchmark of GET /recommend: warm latency over HTTP, cold start, and the starting design's method.

    .venv/bin/python bench/recommend.py [--requests 1000] [--cold-starts 3] [--cold-embeddings]

1. Builds (or reuses) the course catalog's index on a private local stack and writes users with
   histories of 0..200 movies; the build time is printed (embeddings come from the on-disk cache unless
   ``--cold-embeddings``).
2. Warm latency: ``--requests`` GETs over one keep-alive loopback connection to ``chalice local``,
   round-robin across the users; p50/p95/p99 overall and per history length.
3. Cold start: a new ``chalice local`` process with an empty index cache (the index is pulled from S3),
   timed from process start to the first answer.
4. The same users ranked in-process three ways: ours (precomputed exact neighbour lists), per-request
   matrix products (seeds x catalog), and the starting design (one LanceDB search per watched movie,
   on a local copy of the table); timings, ratios and agreement with ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._recommend_setup import HISTORY_LENGTHS, Client, api_server, local_system, percentile  # noqa: E402
from movierec.dal.history import get_history  # noqa: E402
from movierec.dal.tables import Tables  # noqa: E402
from movierec.dal.index_store import download_version  # noqa: E402
from movierec.index.loaded import MovieIndex, load_index  # noqa: E402
from movierec.index.manifest import TABLE_NAME  # noqa: E402
from movierec.index.neighbours import neighbours_of  # noqa: E402
from movierec.models.ranking import Interaction  # noqa: E402
from movierec.ranking.content import ContentRanker, seed_weight  # noqa: E402
from movierec.ranking.scores import popularity_scores, top_rows  # noqa: E402
from infra.api_server import api_service  # noqa: E402


def summary(values_ms: list[float]) -> str:
    return (f"p50 {percentile(values_ms, 50):6.2f}  p95 {percentile(values_ms, 95):6.2f}  "
            f"p99 {percentile(values_ms, 99):6.2f}  max {max(values_ms):6.2f} ms")  # fmt: skip


def warm_latency(system, requests: int) -> None:
    users = sorted(system.users)
    client = Client(system.settings)
    for user in users:  # warm-up: every user once
        client.get(f"/recommend/{user}")
    by_length: dict[int, list[float]] = defaultdict(list)
    all_ms: list[float] = []
    for n in range(requests):
        user = users[n % len(users)]
        started = time.perf_counter()
        status, body = client.get(f"/recommend/{user}")
        ms = (time.perf_counter() - started) * 1000
        assert status == 200 and len(body.split(b",")) == 20, (status, body[:200])
        all_ms.append(ms)
        by_length[system.users[user]].append(ms)
    client.close()
    print(f"\nwarm latency over HTTP, {requests} requests, {len(users)} users: {summary(all_ms)}")
    for length in HISTORY_LENGTHS:
        print(f"  history {length:>3} movies: {summary(by_length[length])}")


def cold_starts(system, times: int) -> None:
    settings = system.settings
    service = api_service(settings)
    user = next(u for u, n in system.users.items() if n == 20)
    results = []
    for _ in range(times):
        cache = settings.index_cache_dir
        for version_dir in cache.glob("*"):
            shutil.rmtree(version_dir)
        started = time.perf_counter()
        proc = subprocess.Popen(service.command, env=os.environ | service.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{settings.api_url}/recommend/{user}", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.01)
                if time.perf_counter() - started > 60:
                    raise RuntimeError("no answer within 60 s")
            results.append(time.perf_counter() - started)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(10)
    print(f"\ncold start (new process, empty index cache, index from S3 -> first answer): "
          f"{', '.join(f'{s:.2f}' for s in results)} s; median {sorted(results)[len(results) // 2]:.2f} s")  # fmt: skip


def starting_design(index: MovieIndex, table, history: list[Interaction], k: int = 20, per_seed: int = 50):
    """One LanceDB search per watched movie, then the same weighting as ranker v1 (the old method)."""
    pop = popularity_scores(index.popularity) * 0.1
    scores = pop.copy()
    seeds = [(index.row_of[h.movie_id], seed_weight(h.rating)) for h in history if h.movie_id in index.row_of]
    norm = sum(abs(w) for _, w in seeds)
    for row, w in seeds:
        query = table.search(index.vectors[row]).distance_type("cosine").limit(per_seed + 1)
        hits = query.select(["id", "_distance"]).to_arrow()
        for movie_id, distance in zip(hits["id"].to_pylist(), hits["_distance"].to_pylist()):
            other = index.row_of[movie_id]
            if other != row:
                scores[other] += w * (1 - distance) / norm
    for row, _ in seeds:
        scores[row] = -np.inf
    return [index.ids[r] for r in top_rows(scores, k)]


def matmul_per_request(index: MovieIndex, history: list[Interaction], k: int = 20, per_seed: int = 50):
    """Neighbours found per request with (seeds x catalog) matrix products, then the same weighting."""
    scores = popularity_scores(index.popularity) * 0.1
    seeds = [(index.row_of[h.movie_id], seed_weight(h.rating)) for h in history if h.movie_id in index.row_of]
    if seeds:
        rows = np.array(sorted(r for r, _ in seeds))
        weights = np.array([w for _, w in sorted(seeds)])
        idx, sim = neighbours_of(rows, index.vectors, per_seed)
        scores = scores + np.bincount(idx.ravel(), weights=(weights[:, None] * sim).ravel() / np.abs(weights).sum(),
                                      minlength=len(index))  # fmt: skip
        scores[rows] = -np.inf
    return [index.ids[r] for r in top_rows(scores, k)]


def compare_methods(system) -> None:
    import lancedb

    settings = system.settings
    folder = download_version(system.manifest.version, settings)
    # The starting design searched the version's LanceDB table: the same local copy the API reads.
    table = lancedb.connect(str(folder)).open_table(TABLE_NAME)
    index = load_index(folder)
    ours = ContentRanker(index)
    times: dict[str, dict[int, list[float]]] = {m: defaultdict(list) for m in ("ours", "matmul", "lancedb")}
    overlap = []
    query_ms: list[float] = []
    tables = Tables(system.settings)
    for user, length in sorted(system.users.items()):
        started = time.perf_counter()
        history = get_history(tables, user)
        query_ms.append((time.perf_counter() - started) * 1000)
        if length == 0:
            continue
        for name, fn in (("ours", lambda: [s.movie_id for s in ours.rank(history, 20)]),
                         ("matmul", lambda: matmul_per_request(index, history)),
                         ("lancedb", lambda: starting_design(index, table, history))):  # fmt: skip
            started = time.perf_counter()
            answer = fn()
            times[name][length].append((time.perf_counter() - started) * 1000)
            if name == "ours":
                mine = answer
            elif name == "lancedb":
                overlap.append(len(set(mine) & set(answer)) / 20)
    print("\nranking cost in-process (same users, same weighting, 50 neighbours per watched movie), median ms:")
    print(f"  {'history':>7} {'ours':>8} {'matmul':>8} {'lancedb/seed':>13} {'lancedb/ours':>13}")
    for length in HISTORY_LENGTHS[1:]:
        med = {m: float(np.median(times[m][length])) for m in times}
        print(f"  {length:>7} {med['ours']:8.3f} {med['matmul']:8.2f} {med['lancedb']:13.1f} "
              f"{med['lancedb'] / med['ours']:12.0f}x")  # fmt: skip
    all_ = {m: [v for vs in times[m].values() for v in vs] for m in times}
    print(f"  all users: ours {summary(all_['ours'])}\n             matmul {summary(all_['matmul'])}\n"
          f"             lancedb {summary(all_['lancedb'])}")  # fmt: skip
    print(f"  history read (one DynamoDB Query on moto; {len(system.users)} users, "
          f"{sum(system.users.values())} (user, movie) entries in the table): "
          f"{summary(query_ms)}")
    print(f"  starting design / ours, mean time: {np.mean(all_['lancedb']) / np.mean(all_['ours']):.0f}x; "
          f"top-20 agreement with ours: mean {np.mean(overlap):.3f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--users-per-length", type=int, default=3, help="users per history length (default 3)")
    parser.add_argument("--cold-embeddings", action="store_true", help="embed the catalog from scratch")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with local_system(args.users_per_length, cold_embeddings=args.cold_embeddings) as system:
        m = system.manifest
        print(f"index {m.version}: {m.rows} movies, build+publish {system.build_s:.1f} s "
              f"({m.build.get('embedded')} texts embedded now, embed {m.build.get('embed_s')} s, "
              f"build total {m.build.get('total_s')} s)")  # fmt: skip
        with api_server(system.settings):
            warm_latency(system, args.requests)
        cold_starts(system, args.cold_starts)
        compare_methods(system)
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the recommend function's index read, Lance table (pylance) vs the former Arrow IPC snapshot.

    .venv/bin/python bench/index_format.py [--rows 16960] [--runs 5] [--requests 2000]

Writes one index version of the course catalog's shape (``--rows`` movies, 384-float vectors, 50 exact
neighbours per movie, the base columns) twice into a temporary folder: as the LanceDB table the index
job writes (``movies.lance``, lancedb's writer) and as the uncompressed Arrow IPC file the API used to
memory-map (``serving.arrow``). Vectors are random unit vectors (format costs do not depend on them).

- cold: a NEW Python process per run: import the reader, open the version, build the served
  ``MovieIndex`` and ranker, rank one history (what a fresh server does before its first answer);
- cold over HTTP (``--http-cold N``): the version published to a private moto server, then N times a new
  ``chalice local`` process with an empty index cache, timed from process start to the first 200 of
  ``/recommend/1`` (the product's path: Lance only, the Arrow reader no longer exists there);
- warm: in one process, ``--requests`` rankings of 20-movie histories on the loaded index (the per-request
  cost after loading: both readers end as the same numpy arrays, so this should agree).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from movierec.index.table import to_arrow, write_lancedb  # noqa: E402
from movierec.models.movie import Movie  # noqa: E402

_COLD = r"""
import json, sys, time
started = time.perf_counter()
fmt, folder = sys.argv[1], sys.argv[2]
if fmt == "lance":
    import lance
    table = lance.dataset(folder + "/movies.lance").to_table()
else:
    import pyarrow as pa
    table = pa.ipc.open_file(pa.memory_map(folder + "/serving.arrow")).read_all()
opened = time.perf_counter()
from movierec.index.loaded import MovieIndex
from movierec.index.manifest import Manifest
from movierec.models.ranking import Interaction
from movierec.ranking.content import ContentRanker
index = MovieIndex(Manifest.read(__import__("pathlib").Path(folder)), table)
ranker = ContentRanker.from_index(index)
ranker.rank([Interaction(index.ids[i], 4.0) for i in range(20)], 20)
done = time.perf_counter()
print(json.dumps({"open_s": opened - started, "total_s": done - started}))
"""


def write_version(folder: Path, rows: int, k: int = 50) -> None:
    from movierec.index.manifest import Manifest

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((rows, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    nbr_idx = rng.integers(0, rows, (rows, k), dtype=np.int32)
    nbr_sim = rng.random((rows, k), dtype=np.float32)
    movies = [Movie(id=f"movie+{i}", title=f"Movie {i}", year=1950 + i % 70, genres=("Drama",), overview="x" * 200,
                    popularity=float(rng.random() * 50)) for i in range(rows)]  # fmt: skip
    table = to_arrow(movies, [f"{i:032x}" for i in range(rows)], vectors, nbr_idx, nbr_sim)
    folder.mkdir(parents=True)
    write_lancedb(table, folder)
    with pa.OSFile(str(folder / "serving.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    Manifest("20260101T000000Z-00000000", "synthetic", 384, rows, "synthetic", "", "", "content-v1", k,
             table.column_names).write(folder)  # fmt: skip


def cold(fmt: str, folder: Path, runs: int) -> list[dict[str, float]]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        line = subprocess.run([sys.executable, "-c", _COLD, fmt, str(folder)], env=env, capture_output=True,
                              text=True, check=True).stdout.strip().splitlines()[-1]  # fmt: skip
        out.append(json.loads(line) | {"process_s": time.perf_counter() - started})
    return out


def warm(fmt: str, folder: Path, requests: int) -> list[float]:
    from movierec.index.loaded import MovieIndex
    from movierec.index.manifest import Manifest
    from movierec.models.ranking import Interaction
    from movierec.ranking.content import ContentRanker

    if fmt == "lance":
        import lance

        table = lance.dataset(str(folder / "movies.lance")).to_table()
    else:
        table = pa.ipc.open_file(pa.memory_map(str(folder / "serving.arrow"))).read_all()
    index = MovieIndex(Manifest.read(folder), table)
    ranker = ContentRanker.from_index(index)
    rng = np.random.default_rng(1)
    times = []
    for _ in range(requests):
        history = [Interaction(index.ids[r], 4.0) for r in rng.integers(0, len(index), 20)]
        started = time.perf_counter()
        ranker.rank(history, 20)
        times.append((time.perf_counter() - started) * 1000)
    return times


def cold_http(folder: Path, runs: int) -> list[float]:
    import dataclasses
    import shutil
    import urllib.request

    from movierec.config import Settings
    from movierec.index.publish import publish
    from infra.api_server import api_service
    from infra.bootstrap import ensure_bucket, ensure_tables
    from infra.stack import LOCAL_CREDENTIALS, Stack, free_port

    os.environ.update(LOCAL_CREDENTIALS)
    port = free_port()
    tmp = folder.parent
    settings = dataclasses.replace(Settings.from_env(), prefix="benchfmt", moto_port=port,
                                   aws_endpoint_url=f"http://127.0.0.1:{port}", run_dir=tmp / "run",
                                   index_cache_dir=tmp / "cache", api_port=free_port())  # fmt: skip
    stack = Stack(settings)
    stack.services = [svc for svc in stack.services if svc.name == "moto"]
    stack.up()
    out = []
    try:
        ensure_tables(settings)
        ensure_bucket(settings)
        publish(folder, "20260101T000000Z-00000000", settings)
        service = api_service(settings)
        for _ in range(runs):
            shutil.rmtree(settings.index_cache_dir, ignore_errors=True)
            started = time.perf_counter()
            proc = subprocess.Popen(service.command, env=os.environ | service.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            try:
                while time.perf_counter() - started < 120:
                    try:
                        with urllib.request.urlopen(f"{settings.api_url}/recommend/1", timeout=5) as r:
                            if r.status == 200:
                                break
                    except OSError:
                        time.sleep(0.01)
                out.append(time.perf_counter() - started)
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(10)
    finally:
        stack.down()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=16_960)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--http-cold", type=int, default=3, help="cold starts of chalice local (0: skip)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "v"
        write_version(folder, args.rows)
        size = {f: sum(p.stat().st_size for p in (folder / f).rglob("*") if p.is_file()) if (folder / f).is_dir()
                else (folder / f).stat().st_size for f in ("movies.lance", "serving.arrow")}  # fmt: skip
        print(f"{args.rows} rows; movies.lance {size['movies.lance'] / 1e6:.1f} MB, "
              f"serving.arrow {size['serving.arrow'] / 1e6:.1f} MB")  # fmt: skip
        print(f"{'format':<14} {'cold: open (s)':>16} {'cold: to 1st rank (s)':>22} {'process (s)':>12} "
              f"{'warm rank p50/p99 (ms)':>24}")  # fmt: skip
        for fmt, name in (("lance", "lance"), ("arrow", "arrow IPC")):
            runs = cold(fmt, folder, args.runs)
            ms = warm(fmt, folder, args.requests)
            med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
            print(f"{name:<14} {med['open_s']:16.3f} {med['total_s']:22.3f} {med['process_s']:12.3f} "
                  f"{np.percentile(ms, 50):11.3f} / {np.percentile(ms, 99):.3f}")  # fmt: skip
            print(f"{'':<14} runs (to 1st rank): {', '.join(format(r['total_s'], '.2f') for r in runs)}")
        if args.http_cold:
            times = cold_http(folder, args.http_cold)
            print(f"cold start over HTTP (new chalice local, empty cache, Lance table from moto S3 -> first "
                  f"answer): {', '.join(f'{t:.2f}' for t in times)} s; median {float(np.median(times)):.2f} s")
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the recommend benchmarks share: a private local stack, the catalog index, users, the API process.

Everything runs on free ports with its own run folder, prefix and index cache, so a benchmark never
touches a stack started by ``make up`` (or another helper's), and everything it started is stopped at
the end (:func:`local_system` is a context manager).
"""

from __future__ import annotations

import http.client
import os
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from movierec.config import Settings, get_settings
from movierec.dal.tables import Tables
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.index_job import build_and_publish, catalog_movies
from movierec.index.manifest import Manifest
from infra.api_server import ApiServer
from infra.bootstrap import bootstrap
from infra.stack import LOCAL_CREDENTIALS, Stack, free_port

#: History lengths of the benchmark users (0 = a cold user, answered by the popular fallback).
HISTORY_LENGTHS = (0, 1, 5, 20, 50, 100, 200)


@dataclass(frozen=True)
class LocalSystem:
    settings: Settings
    manifest: Manifest
    build_s: float
    #: user id -> number of movies in the user's history
    users: dict[int, int]


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def local_system(users_per_length: int, cold_embeddings: bool = False) -> Iterator[LocalSystem]:
    """Stack up, index built (or reused) and published, users written; everything torn down after.

    SIGTERM and SIGINT both unwind through the cleanup (a background run ignores SIGINT).
    """
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="movierec-bench-"))
    env = {
        "MOVIEREC_MOTO_PORT": str(free_port()), "MOVIEREC_KAFKA_PORT": str(free_port()),
        "MOVIEREC_API_PORT": str(free_port()), "MOVIEREC_RUN_DIR": str(work / "run"),
        "MOVIEREC_INDEX_CACHE": str(work / "index-cache"), "MOVIEREC_PREFIX": "bench",
        "MOVIEREC_STAGE": "bench", "AWS_DEFAULT_REGION": "us-east-1", **LOCAL_CREDENTIALS,
    }  # fmt: skip
    if cold_embeddings:
        env["MOVIEREC_EMBED_CACHE"] = str(work / "embeddings")
    os.environ.update(env)
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{env['MOVIEREC_MOTO_PORT']}"
    get_settings.cache_clear()
    settings = get_settings()
    stack = Stack(settings)
    stack.up()
    try:
        bootstrap(settings)
        started = time.monotonic()
        manifest, _ = build_and_publish(catalog_movies("course", settings), settings, catalog="course")
        build_s = time.monotonic() - started
        users = write_users(manifest, settings, users_per_length)
        yield LocalSystem(settings, manifest, build_s, users)
    finally:
        stack.down()
        shutil.rmtree(work, ignore_errors=True)


def write_users(manifest: Manifest, settings: Settings, per_length: int) -> dict[int, int]:
    """Users with histories of :data:`HISTORY_LENGTHS` movies, ratings mixed (unrated, 1-5), seeded."""
    from movierec.dal.index_store import download_version
    from movierec.index.loaded import load_index

    ids = load_index(download_version(manifest.version, settings)).ids
    rng = random.Random(4)
    users: dict[int, int] = {}
    histories: dict[int, dict[str, HistoryState]] = {}
    for length in HISTORY_LENGTHS:
        for n in range(per_length):
            user = 100_000 + length * 1_000 + n
            users[user] = length
            histories[user] = {
                movie_id: HistoryState(rating=rng.choice([None, None, None, 1, 2, 3, 4, 5]),
                                       max_minute=rng.randint(1, 120), first_seen=1, last_seen=rng.randint(2, 10_000))
                for movie_id in rng.sample(ids, length)
            }  # fmt: skip
    save_histories(Tables(settings), histories)
    return users


@contextmanager
def api_server(settings: Settings) -> Iterator[ApiServer]:
    server = ApiServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Client:
    """One keep-alive HTTP connection to the API (what a load generator or the course's client does)."""

    def __init__(self, settings: Settings) -> None:
        self.conn = http.client.HTTPConnection(settings.api_host, settings.api_port, timeout=10)

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]

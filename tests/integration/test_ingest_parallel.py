"""Partitions applied in parallel processes, killed independently, equal one uninterrupted serial run.

Lambda's Kafka mapping invokes the ingest function once per partition in parallel; locally the workers
(:mod:`infra.ingest_workers`) do the same. Each worker is SIGKILLed at its own moment, mid-apply, and
started again; the tables must end up item for item what one poller applying every partition in
sequence writes (movie counters included: each partition owns its shard of them).
"""

from __future__ import annotations

import dataclasses
import random
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from infra.bootstrap import ensure_tables
from infra.ingest_workers import IngestWorkers, shares, start_worker
from infra.replay import movielens_lines
from movierec.config import Settings, get_settings
from movierec.dal.movie_stats import scan_movie_stats
from movierec.dal.tables import Tables
from movierec.logic.parser import parse_line
from movierec.models.events import RateEvent
from tests.fixtures.ingest import applied_offsets, caught_up, end_offsets, produce_lines, run_poller_to_end, snapshot, wait_until
from tests.fixtures.timeouts import TEST_TIMEOUT_S

NOISE = [b"2022-1k0-28T04:23:23,90586,GET /data/m/heat+1995/155.mpg", b""]


def _small_batches(settings: Settings) -> Settings:
    return dataclasses.replace(settings, batch_size=100, batch_window_s=0.2, kafka_group=f"g-{uuid.uuid4().hex[:8]}")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(TEST_TIMEOUT_S)


def test_parallel_partitions_killed_independently_equal_a_serial_run(
    isolated: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kill comes before the next part of the stream is produced, so it lands mid-replay by construction.

    Producing the whole topic first raced the workers: on a fast machine a worker could finish its
    partitions between two polls of the watermark, and its kill proved nothing.
    """
    s = _small_batches(isolated)
    lines = list(movielens_lines(minutes_per_rating=2, limit=900, settings=s))
    lines[200:200] = NOISE
    parts = [lines[i * len(lines) // 4:(i + 1) * len(lines) // 4] for i in range(4)]
    produce_lines(s, parts[0])
    produced = len(parts[0])

    split = shares(s.kafka_partitions, 2)  # two processes, two partitions each
    procs = [start_worker(s, share, tmp_path / f"worker-{i}.log") for i, share in enumerate(split)]
    rng = random.Random(11)
    at_kills: list[dict[int, int]] = []
    try:
        for part in parts[1:]:  # three kills, each of a worker drawn at random, while the stream goes on
            victim = rng.randrange(len(procs))
            assert wait_until(lambda: sum(applied_offsets(s, range(s.kafka_partitions)).values()) >= produced // 2,
                              every_s=0.05)
            _kill(procs[victim])
            at_kills.append(applied_offsets(s, split[victim]))
            produce_lines(s, part)
            produced += len(part)
            procs[victim] = start_worker(s, split[victim], tmp_path / f"worker-{victim}.log")
        ends = end_offsets(s, len(lines))
        assert sum(1 for end in ends.values() if end > 0) == s.kafka_partitions  # keyed by user: all partitions used
        assert wait_until(lambda: caught_up(s, ends)), (tmp_path / "worker-0.log").read_text()[-2000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(TEST_TIMEOUT_S) for proc in procs]
    assert codes == [0, 0]  # the last ones stopped cleanly
    assert all(any(offset < ends[p] for p, offset in at_kill.items()) for at_kill in at_kills)  # none had finished
    parallel = snapshot(s)

    monkeypatch.setenv("MOVIEREC_PREFIX", s.prefix + "-serial")
    get_settings.cache_clear()
    serial = _small_batches(get_settings())
    ensure_tables(serial)
    run_poller_to_end(serial, len(lines))
    assert snapshot(serial) == parallel
    # The shards sum to the totals of the stream itself.
    events = [parse_line(line) for line in lines]
    rated = {(e.user_id, e.movie_id) for e in events if isinstance(e, RateEvent)}
    assert sum(ratings for _, _, ratings in scan_movie_stats(Tables(s))) == len(rated)
    assert {m["shard"] for m in parallel["movies"]} == {f"{s.kafka_topic}-{p}" for p in range(s.kafka_partitions)}


def test_the_workers_component_restarts_a_dead_worker_and_stops_cleanly(isolated: Settings) -> None:
    s = dataclasses.replace(_small_batches(isolated), ingest_workers=2)
    lines = list(movielens_lines(minutes_per_rating=1, limit=200, settings=s))
    produce_lines(s, lines)
    ends = end_offsets(s, len(lines))
    workers = IngestWorkers(s, restart_backoff_s=0.2)
    workers.start()
    try:
        first = workers.procs[0]
        _kill(first)
        assert wait_until(lambda: workers.restarts[0] == 1 and workers.procs[0] is not first)
        assert wait_until(lambda: caught_up(s, ends))
    finally:
        workers.stop()
    assert all(proc.returncode == 0 for proc in workers.procs)  # SIGTERM: a clean stop, not a kill

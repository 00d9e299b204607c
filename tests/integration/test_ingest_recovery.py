"""Crash and outage recovery, end to end: SIGKILL of the poller process, and a broker restart."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from infra.bootstrap import bootstrap, ensure_tables
from infra.poller import Poller
from infra.replay import movielens_lines
from infra.stack import Stack, free_port
from movierec.config import REPO_ROOT, Settings, get_settings
from movierec.dal.history import scan_states
from movierec.dal.tables import Tables
from movierec.logic.parser import parse_line
from movierec.models.events import RateEvent, WatchEvent
from tests.fixtures.ingest import applied_offsets, caught_up, end_offsets, produce_lines, run_poller_to_end, snapshot, wait_until
from tests.fixtures.timeouts import SHORT_S, TEST_TIMEOUT_S
NOISE = [b"2022-1k0-28T04:23:23,90586,GET /data/m/heat+1995/155.mpg", b"",
         b"2022-10-28T04:23:24,5521777,GET /data/m/the+shawshank+redemption+1994/69.mpg"]


def _group(settings: Settings) -> Settings:
    return dataclasses.replace(settings, batch_size=250, batch_window_s=0.2, kafka_group=f"g-{uuid.uuid4().hex[:8]}")


def _start_ingest(log: Path, group: str) -> subprocess.Popen:
    env = os.environ | {"MOVIEREC_GROUP": group, "MOVIEREC_BATCH_SIZE": "250", "MOVIEREC_BATCH_WINDOW_S": "0.2"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "infra.cli", "ingest", "--report-every", "1"],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_sigkill_mid_replay_then_restart_equals_clean_run(
    isolated: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poller is killed while the stream is still arriving, so the kill lands mid-replay by construction.

    Producing the whole topic first and killing once a quarter was applied raced the poller: on a fast
    machine it applied all of it between two polls of the watermark, and the kill proved nothing. Here the
    first two thirds arrive in small chunks while the poller runs (it is kept busy when the kill comes), and
    the last third is produced only after the kill, so the killed poller cannot have finished.
    """
    lines = list(movielens_lines(minutes_per_rating=2, limit=400, settings=isolated))
    lines[100:100] = NOISE
    live, after_kill = lines[: 2 * len(lines) // 3], lines[2 * len(lines) // 3:]
    chunks = [live[i:i + 50] for i in range(0, len(live), 50)]
    partitions = range(isolated.kafka_partitions)
    failed: list[BaseException] = []

    def stream() -> None:
        try:
            for chunk in chunks:
                produce_lines(isolated, chunk)
                time.sleep(SHORT_S / 10)
        except BaseException as exc:  # seen by the test thread below, not lost with this one
            failed.append(exc)

    producer = threading.Thread(target=stream)
    group = f"g-kill-{uuid.uuid4().hex[:6]}"

    proc = _start_ingest(tmp_path / "ingest.log", group)
    producer.start()
    try:
        assert wait_until(lambda: failed or sum(applied_offsets(isolated, partitions).values()) >= len(lines) // 4,
                          every_s=0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(TEST_TIMEOUT_S)
        producer.join(TEST_TIMEOUT_S)
    assert not failed, failed
    at_kill = sum(applied_offsets(isolated, partitions).values())
    assert len(lines) // 4 <= at_kill <= len(live)
    produce_lines(isolated, after_kill)
    ends = end_offsets(isolated, len(lines))

    proc = _start_ingest(tmp_path / "ingest.log", group)
    try:
        assert wait_until(lambda: caught_up(isolated, ends)), (tmp_path / "ingest.log").read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TEST_TIMEOUT_S) == 0
    killed = snapshot(isolated)

    # The same topic applied by an uninterrupted poller into a second set of tables.
    monkeypatch.setenv("MOVIEREC_PREFIX", isolated.prefix + "-clean")
    get_settings.cache_clear()
    clean = get_settings()
    ensure_tables(clean)
    run_poller_to_end(_group(clean), len(lines))
    assert snapshot(clean) == killed
    assert len(killed["quarantine"]) == len(NOISE)
    assert sum(page["movies"] for page in killed["history"]) == 400  # every (user, movie) of the slice, once


def test_broker_restart_during_consumption_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tansu on s3:// storage (moto) keeps the log and group offsets across a restart; the poller rides it out."""
    moto_port, kafka_port = free_port(), free_port()
    prefix = f"restart-{uuid.uuid4().hex[:6]}"
    env = {
        "MOVIEREC_MOTO_PORT": str(moto_port),
        "MOVIEREC_KAFKA_PORT": str(kafka_port),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "MOVIEREC_RUN_DIR": str(tmp_path / "run"),
        "MOVIEREC_PREFIX": prefix,
        "MOVIEREC_TOPIC": "movielog",
        # bootstrap creates the bucket before the topic, so tansu can store the topic there
        "MOVIEREC_TANSU_STORAGE": f"s3://{prefix}-index/",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = _group(get_settings())
    stack = Stack(settings)
    stack.up()
    poller: Poller | None = None
    try:
        bootstrap(settings)
        tables = Tables(settings)
        lines = list(movielens_lines(minutes_per_rating=2, limit=500, settings=settings))
        first, second = lines[: len(lines) // 2], lines[len(lines) // 2:]
        produce_lines(settings, first)
        ends = end_offsets(settings, len(first))
        poller = Poller(settings, max_backoff_s=2.0)
        poller.start()
        assert wait_until(lambda: sum(applied_offsets(settings, ends).values()) >= 300, every_s=0.1)
        assert stack.down(only=["tansu"]) == ["tansu"]
        wait_until(lambda: False, 2 * SHORT_S)  # the broker stays down for a while; the poller keeps trying
        assert stack.up() == ["tansu"]
        produce_lines(settings, second)
        ends = end_offsets(settings, len(lines))
        assert sum(ends.values()) == len(lines)  # nothing of the first half was lost by the broker
        assert wait_until(lambda: caught_up(settings, ends))
        events = [parse_line(line) for line in lines]
        rated = {(e.user_id, e.movie_id) for e in events if isinstance(e, RateEvent)}
        watched = {(e.user_id, e.movie_id, e.minute) for e in events if isinstance(e, WatchEvent)}
        assert sum(int(m.ratings_count) for m in tables.movies.scan()) == len(rated)
        assert sum(len(s.minutes) for _, h in scan_states(tables) for s in h.values()) == len(watched)
    finally:
        if poller is not None:
            poller.stop()
        stack.down()
        get_settings.cache_clear()

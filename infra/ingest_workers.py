"""Ingest as wide as the topic: one poller process per share of the partitions, side by side.

On AWS, Lambda's Kafka event-source mapping invokes the ingest function once per partition, in
parallel. Locally, ``MOVIEREC_INGEST_WORKERS=N`` (N > 1) runs N ``movierec ingest --partitions ...``
processes, worker i owning the partitions p with ``p % N == i``. Processes, not threads, because that is
what Lambda's containers are: the handler keeps one writer (tables, item cache) and one metrics object
per process, and a worker killed by the OS takes only its own partitions with it. Partitions may apply
in parallel because no item has two writers (movie counters are sharded by partition; users and their
histories follow the user key; see docs/ingest.md). A worker that dies is started again after a short
backoff, as the mapping retries; it resumes at its partitions' watermarks, so nothing is lost or doubled.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from infra.api_server import function_env
from infra.poller import Poller
from movierec.config import REPO_ROOT, Settings

log = logging.getLogger("movierec.ingest_workers")


def shares(partitions: int, workers: int) -> list[list[int]]:
    """The partitions of each worker (worker i owns p with p % workers == i); no worker without one."""
    if partitions < 1 or workers < 1:
        raise ValueError(f"need at least one partition and one worker, got {partitions} and {workers}")
    return [list(range(i, partitions, workers)) for i in range(min(workers, partitions))]


def worker_env(settings: Settings) -> dict[str, str]:
    """What a worker process reads from its environment: the function's settings plus the stream's."""
    return function_env(settings) | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap,
        "MOVIEREC_TOPIC": settings.kafka_topic,
        "MOVIEREC_PARTITIONS": str(settings.kafka_partitions),
        "MOVIEREC_GROUP": settings.kafka_group,
        "MOVIEREC_BATCH_SIZE": str(settings.batch_size),
        "MOVIEREC_BATCH_WINDOW_S": str(settings.batch_window_s),
        "MOVIEREC_RUN_DIR": str(settings.run_dir),
    }


def start_worker(settings: Settings, partitions: list[int], log_path: Path) -> subprocess.Popen:
    """One ``movierec ingest --partitions ...`` process, its output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "infra.cli", "ingest", "--partitions", ",".join(map(str, partitions))]
    with open(log_path, "ab") as out:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=os.environ | worker_env(settings), stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


class IngestWorkers:
    """A :class:`~infra.up.Component`: the workers, restarted when one dies, stopped with SIGTERM."""

    name = "ingest-workers"

    def __init__(self, settings: Settings, restart_backoff_s: float = 2.0, stop_timeout_s: float = 15.0) -> None:
        self.settings = settings
        self.shares = shares(settings.kafka_partitions, settings.ingest_workers)
        self.restart_backoff_s = restart_backoff_s
        self.stop_timeout_s = stop_timeout_s
        self.procs: list[subprocess.Popen] = []
        #: How often each worker was started again after it died.
        self.restarts = [0] * len(self.shares)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def log_path(self, worker: int) -> Path:
        return self.settings.run_dir / "logs" / f"ingest-{worker}.log"

    def start(self) -> None:
        self._stop.clear()
        self.procs = [start_worker(self.settings, share, self.log_path(i)) for i, share in enumerate(self.shares)]
        for i, share in enumerate(self.shares):
            log.info("ingest worker %d (pid %d) applies partitions %s", i, self.procs[i].pid, share)
        self._watcher = threading.Thread(target=self._watch, name=self.name, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.restart_backoff_s):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self._stop.is_set():
                    log.warning("ingest worker %d (partitions %s) exited with %s; starting it again",
                                i, self.shares[i], proc.returncode)  # fmt: skip
                    self.restarts[i] += 1
                    self.procs[i] = start_worker(self.settings, self.shares[i], self.log_path(i))

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=self.stop_timeout_s)
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def ingest_component(settings: Settings) -> IngestWorkers | Poller:
    """What ``make up`` runs for ingest: one in-process poller, or the workers when more than one."""
    return IngestWorkers(settings) if settings.ingest_workers > 1 else Poller(settings)

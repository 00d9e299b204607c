"""Replay stream lines into Kafka: the real course samples as they are, or MovieLens in the course format.

Each line is one Kafka message value; the key is the line's user field (``str(user_id)``), so a user's
lines share one partition and stay in order (the evaluation's replay loop keys the same way). With
``speed`` 0 lines go as fast as the producer takes them; with ``speed`` N the gaps between line
timestamps are kept, divided by N (a line whose timestamp does not parse keeps the previous pace).
"""

from __future__ import annotations

import ast
import csv
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator

from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError
from tqdm import tqdm

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.catalog.movielens_stream import movie_ids, movielens_ratings
from movierec.logic.parser import parse_line
from movierec.logic.stream_format import format_line, ratings_as_events
from movierec.models.events import RateEvent, Rejection, WatchEvent

log = logging.getLogger("movierec.replay")

#: The real course sample files under ``<data>/stream/``, replayed in this order by default.
SAMPLE_FILES = (
    "mcgill_f22_kafka_dump_sample.csv",
    "cmu_f24_rate_lines.txt",
    "cmu_s25_rate_lines.txt",
    "cmu_s25_watch_lines.txt",
)


class ReplayError(RuntimeError):
    """The replay cannot run or some lines did not reach the broker (it must not pretend it sent them)."""


def sample_lines(paths: Iterable[Path]) -> Iterator[bytes]:
    """Every line of the sample files, byte for byte (the Kafka dump's ``value=b'...'`` column for .csv).

    Raises :class:`ReplayError` naming the first file that is missing, before any line is read.
    """
    paths = list(paths)
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise ReplayError(f"no such file: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return _lines_of(paths)


def _lines_of(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        if path.suffix == ".csv":  # kafka-python's printout: topic,partition,offset,timestamp,...,value,...
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.reader(f):
                    yield ast.literal_eval(row[6])
        else:
            with open(path, "rb") as f:
                for line in f:
                    yield line.rstrip(b"\r\n")


def default_sample_paths(settings: Settings) -> list[Path]:
    return [data_path("stream", name, settings=settings) for name in SAMPLE_FILES]


def movielens_events(
    minutes_per_rating: int = 3, limit: int | None = None, settings: Settings | None = None
) -> Iterator[WatchEvent | RateEvent]:
    """Every MovieLens rating (the first ``limit`` in time order) as watch events then a rate event, by time."""
    return ratings_as_events(movielens_ratings(limit, settings), movie_ids(settings), minutes_per_rating)


def movielens_lines(minutes_per_rating: int = 3, limit: int | None = None, settings: Settings | None = None) -> Iterator[bytes]:
    """MovieLens ml-latest-small as course stream lines, in time order."""
    for event in movielens_events(minutes_per_rating, limit, settings):
        yield format_line(event).encode()


def key_of(line: bytes) -> bytes | None:
    """The Kafka key of a stream line: its user field, so one user's lines share a partition."""
    parts = line.split(b",", 2)
    return parts[1] if len(parts) == 3 else None


def produce(
    settings: Settings,
    lines: Iterable[bytes],
    speed: float = 0.0,
    total: int | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Send every line to the stream topic (until ``stop``); return how many, all acknowledged.

    Raises :class:`ReplayError` when no broker answers or the broker did not acknowledge some lines.
    """
    no_broker = ReplayError(
        f"no Kafka broker answers at {settings.kafka_bootstrap}: start the local stack (`make up`) "
        f"or set KAFKA_BOOTSTRAP_SERVERS"
    )
    if not _any_listener(settings.kafka_bootstrap):  # at once, not after the client's 30 s bootstrap wait
        raise no_broker
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            compression_type="gzip",  # the only codec tansu takes from kafka-python
            linger_ms=20,
            batch_size=256 * 1024,
        )  # defaults kept: idempotent, acks=all, retried until delivery_timeout_ms
    except KafkaTimeoutError:  # something listens but does not speak Kafka in time
        raise no_broker from None
    failed: list[BaseException] = []
    sent = 0
    first: tuple[float, float] | None = None  # (line time, wall time) of the first paced line
    try:
        with tqdm(total=total, unit="line", disable=not progress, mininterval=1.0) as bar:
            for line in lines:
                if stop is not None and stop.is_set():
                    break
                if speed > 0:
                    first = _pace(line, speed, first, stop)
                producer.send(settings.kafka_topic, key=key_of(line), value=line).add_errback(failed.append)
                sent += 1
                if sent % 1000 == 0:
                    bar.update(1000)
            bar.update(sent % 1000)
        producer.flush()
    finally:
        producer.close()
    if failed:
        raise ReplayError(f"{len(failed)} of {sent} lines were not acknowledged by the broker: {failed[0]!r}")
    return sent


def _any_listener(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a TCP connection to at least one ``host:port`` of the bootstrap list succeeds."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _pace(line: bytes, speed: float, first: tuple[float, float] | None, stop: threading.Event | None) -> tuple[float, float] | None:
    """Sleep until ``line`` is due at ``speed`` x real time; return the (line time, wall time) origin."""
    parsed = parse_line(line)
    if isinstance(parsed, Rejection):
        return first
    if first is None:
        return parsed.at, time.monotonic()
    due = first[1] + (parsed.at - first[0]) / speed
    delay = due - time.monotonic()
    if delay > 0:
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)
    return first


class Replay:
    """A ``make up`` component: replays a source into Kafka once, on a thread; ``stop()`` ends it early."""

    def __init__(self, settings: Settings, source: str = "movielens", speed: float = 0.0, minutes_per_rating: int = 3) -> None:
        if source not in ("movielens", "samples"):
            raise ValueError(f"replay source must be 'movielens' or 'samples', got {source!r}")
        self.settings = settings
        self.source = source
        self.speed = speed
        self.minutes_per_rating = minutes_per_rating
        self.name = f"replay ({source})"
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lines(self) -> Iterator[bytes]:
        if self.source == "samples":
            return sample_lines(default_sample_paths(self.settings))
        return movielens_lines(self.minutes_per_rating, settings=self.settings)

    def _run(self) -> None:
        started = time.monotonic()
        try:
            self.sent = produce(self.settings, self.lines(), self.speed, progress=False, stop=self._stop)
        except Exception:  # a missing data folder or a broker outage must not end `make up`
            log.exception("%s failed", self.name)
            return
        print(f"{self.name}: sent {self.sent} lines in {time.monotonic() - started:.0f}s", flush=True)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

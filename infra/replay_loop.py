"""Closing the loop locally: replay MovieLens users into Kafka and ask the REAL API along the way.

MovieLens users are replayed in time order through the ingest helper's conversion
(:func:`infra.replay.movielens_events`: each rating becomes watch events then a rate
event, with course movie ids). Whenever a user starts a new session (``gap_s`` since their previous
event, default one hour) and before that session's first event is sent, the loop asks the running API
``GET /recommend/<user>`` over HTTP. Then the user's real later events show whether they watched what we
recommended: ``movierec eval online`` measures it.

No peeking at the future, by construction and by check:

- events are sent in time order and the question is asked BEFORE the session's first event, so nothing
  the user does from then on is in Kafka yet;
- before asking, the loop waits until ingest has applied everything this user sent so far (the
  ``offsets`` watermark of the user's partition passes the offset of their last record — events are keyed
  by user, so a user's events share one partition in order), so the API sees all that was known then
  (a wait that times out is counted in ``stale_asks``: the API then knew less, never more).

Each answer is written back into the stream as the course does it:
``<time>,<user>,recommendation request replay-<index version>, status <code>, result: <ids>, <n> ms``
at the simulated request time (one second before the session's first event), so ingest stores it as a
``stream:replay-<version>`` recommendation on MovieLens' clock, where it can be joined with the watches.
(The API also logs its own ``api`` row, stamped with the wall clock, which cannot meet MovieLens'
1996-2018 watches: read the ``stream:replay-*`` rows, ``movierec eval online --source stream:replay``.)
A request that got no HTTP answer is written with status 0.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator

from infra.replay import ReplayError
from movierec.config import Settings
from movierec.models.events import RateEvent, RecommendationEvent, WatchEvent

Event = WatchEvent | RateEvent
#: The server name written into the stream for the loop's answers: ``replay-<index version>``.
SERVER = "replay"


@dataclass(frozen=True)
class Ask:
    """Ask the API for ``user_id``'s recommendations at simulated time ``at``."""

    user_id: int
    at: float


def timeline(events: Iterable[Event], gap_s: float = 3600.0, max_asks_per_user: int | None = None) -> Iterator[Event | Ask]:
    """The events, with an :class:`Ask` one second before the first event of every session but the first."""
    last: dict[int, float] = {}
    asks: Counter[int] = Counter()
    for event in events:
        previous = last.get(event.user_id)
        if previous is not None and event.at - previous >= gap_s:
            if max_asks_per_user is None or asks[event.user_id] < max_asks_per_user:
                asks[event.user_id] += 1
                yield Ask(event.user_id, event.at - 1.0)
        last[event.user_id] = event.at
        yield event


def choose_users(n: int | Collection[int] | None, seed: int, settings: Settings) -> set[int] | None:
    """``n`` MovieLens users drawn with ``seed``, or exactly the ids given (None = everyone)."""
    if n is None or not isinstance(n, int):
        return None if n is None else set(n)
    from movierec.evaluation.interactions import load_movielens

    users = sorted(load_movielens(settings).users)
    return set(random.Random(seed).sample(users, min(n, len(users))))


@dataclass
class LoopStats:
    events_sent: int = 0
    asks: int = 0
    answered: int = 0
    failed: int = 0
    stale_asks: int = 0
    wait_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = lat[len(lat) // 2] if lat else 0.0
        return (f"sent {self.events_sent} events, asked {self.asks} times: {self.answered} answered, "
                f"{self.failed} failed, {self.stale_asks} asked before ingest caught up; waited "
                f"{self.wait_s:.1f} s for ingest; median latency {p50:.1f} ms")  # fmt: skip


class ReplayLoop:
    """Runs :func:`timeline` against Kafka, ingest's watermark and the API (``movierec replay loop``, beside
    a running ``make up``; Ctrl-C stops it, the producer is closed on the way out)."""

    def __init__(
        self,
        settings: Settings,
        users: int | Collection[int] | None = 20,
        seed: int = 0,
        gap_s: float = 3600.0,
        max_asks_per_user: int | None = 10,
        ingest_timeout_s: float = 60.0,
        http_timeout_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.users, self.seed = users, seed
        self.gap_s, self.max_asks_per_user = gap_s, max_asks_per_user
        self.ingest_timeout_s, self.http_timeout_s = ingest_timeout_s, http_timeout_s
        self.stats = LoopStats()
        self._last_sent: dict[int, object] = {}  # user -> future of their last record
        self._unacknowledged: list[BaseException] = []

    def run(self) -> LoopStats:
        from kafka import KafkaProducer

        from infra.replay import movielens_events

        chosen = choose_users(self.users, self.seed, self.settings)
        events = (e for e in movielens_events(settings=self.settings) if chosen is None or e.user_id in chosen)
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, compression_type="gzip",
                                 linger_ms=20)  # fmt: skip
        try:
            for step in timeline(events, self.gap_s, self.max_asks_per_user):
                if isinstance(step, Ask):
                    self._ask(producer, step)
                else:
                    self._send(producer, step.user_id, step)
                    self.stats.events_sent += 1
            # The last answers are in the stream too: done when ingest has applied everything sent.
            self._wait_for_ingest(producer, list(self._last_sent))
        finally:
            producer.close()
        if self._unacknowledged:
            raise ReplayError(f"{len(self._unacknowledged)} of {self.stats.events_sent + self.stats.asks} lines "
                              f"were not acknowledged by the broker: {self._unacknowledged[0]!r}")  # fmt: skip
        return self.stats

    def _send(self, producer, user_id: int, event: Event | RecommendationEvent) -> None:
        from movierec.logic.stream_format import format_line

        future = producer.send(self.settings.kafka_topic, key=str(user_id).encode(), value=format_line(event).encode())
        future.add_errback(self._unacknowledged.append)
        self._last_sent[user_id] = future

    def _wait_applied(self, topic: str, partition: int, offset: int) -> bool:
        """True once ingest's watermark of the partition passed ``offset``; False on timeout."""
        from movierec.dal.offsets import read_watermark, source_of
        from movierec.dal.tables import Tables

        tables, source = Tables(self.settings), source_of(topic, partition)
        started = time.monotonic()
        try:
            while time.monotonic() - started < self.ingest_timeout_s:
                watermark = read_watermark(tables, source)
                if watermark is not None and watermark > offset:
                    return True
                time.sleep(0.1)
            return False
        finally:
            self.stats.wait_s += time.monotonic() - started

    def _wait_for_ingest(self, producer, users: Iterable[int]) -> bool:
        """True once ingest applied the last record sent for each of ``users``."""
        producer.flush()
        last: dict[tuple[str, int], int] = {}
        for user_id in users:
            future = self._last_sent.get(user_id)
            if future is not None:
                meta = future.get(timeout=self.ingest_timeout_s)
                key = (meta.topic, meta.partition)
                last[key] = max(last.get(key, -1), meta.offset)
        return all([self._wait_applied(topic, partition, offset) for (topic, partition), offset in last.items()])

    def _ask(self, producer, ask: Ask) -> None:
        import requests

        from movierec.serving.api import VERSION_HEADER

        if not self._wait_for_ingest(producer, [ask.user_id]):
            self.stats.stale_asks += 1
        self.stats.asks += 1
        started = time.perf_counter()
        try:
            response = requests.get(f"{self.settings.api_url}/recommend/{ask.user_id}", timeout=self.http_timeout_s)
            status, body, version = response.status_code, response.text, response.headers.get(VERSION_HEADER, "none")
        except requests.RequestException:
            status, body, version = 0, "", "none"
        latency_ms = (time.perf_counter() - started) * 1000
        ids = tuple(m for m in body.strip().split(",") if m) if status == 200 else ()
        if status == 200:
            self.stats.answered += 1
            self.stats.latencies_ms.append(latency_ms)
        else:
            self.stats.failed += 1
        line = RecommendationEvent(ask.at, ask.user_id, f"{SERVER}-{version}", status, ids, round(latency_ms))
        self._send(producer, ask.user_id, line)

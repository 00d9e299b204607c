"""The log of served answers (``recommendations`` table, source ``api``), written off the request path.

Online evaluation joins these answers with what users watch afterwards, so every served answer should
be recorded, but a DynamoDB write (~9 ms on the local emulator) must not sit in the request's latency.
Requests put a small record on a bounded queue; one daemon thread drains it with batch writes. A full
queue drops the record and counts it (:meth:`AnswerLog.take_dropped`), so memory stays bounded under any load; records
still queued at exit are flushed by :meth:`AnswerLog.close` (registered with ``atexit``).
"""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import threading
import time
from dataclasses import dataclass

from movierec.dal.tables import Tables
from movierec.observability import make_logger

logger = make_logger("answer-log")


@dataclass(frozen=True)
class LoggedAnswer:
    user_id: int
    at_ms: int
    status: int
    movie_ids: tuple[str, ...]
    latency_ms: float
    version: str | None
    #: The caller address the API saw (API Gateway's sourceIp), for the security audit.
    caller: str | None = None
    experiment: str | None = None
    arm: str | None = None
    #: The reason when the answer was degraded to the popular list (a canary's failures show as these).
    degraded: str | None = None


class AnswerLog:
    def __init__(self, tables: Tables, maxsize: int = 10_000, batch: int = 25) -> None:
        self.tables = tables
        self._queue: queue.Queue[LoggedAnswer | None] = queue.Queue(maxsize=maxsize)
        self.batch = batch
        self._dropped = 0
        self._dropped_lock = threading.Lock()
        self.written = 0
        self.failed = 0
        self._seq = itertools.count()
        self._tag = f"{os.getpid():x}"
        self._thread = threading.Thread(target=self._run, name="answer-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def record(self, answer: LoggedAnswer) -> bool:
        """Queue ``answer`` for writing; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(answer)
        except queue.Full:
            with self._dropped_lock:
                self._dropped += 1
            return False
        return True

    def take_dropped(self) -> int:
        """Records dropped since the last call (for a metric), resetting the count."""
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, 0
        return dropped

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (waiting up to ``timeout_s``) and stop the writer."""
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout_s)  # None ends the writer
            except queue.Full:
                return
            self._thread.join(timeout_s)

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            while len(items) < self.batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._write(items)
                    return
                items.append(nxt)
            self._write(items)

    def _write(self, answers: list[LoggedAnswer]) -> None:
        try:
            model = self.tables.recommendations
            with model.batch_write() as batch:
                for a in answers:
                    batch.save(
                        model(
                            a.user_id,
                            f"{a.at_ms:013d}#api#{self._tag}-{next(self._seq)}",
                            at=a.at_ms / 1000,
                            source="api",
                            status=a.status,
                            movie_ids=",".join(a.movie_ids),
                            latency_ms=round(a.latency_ms, 3),
                            version=a.version,
                            caller=a.caller,
                            experiment=a.experiment,
                            arm=a.arm,
                            degraded=a.degraded,
                        )
                    )
            self.written += len(answers)
        except Exception:
            self.failed += len(answers)
            logger.exception("could not write served answers", extra={"count": len(answers)})


def now_ms() -> int:
    return int(time.time() * 1000)

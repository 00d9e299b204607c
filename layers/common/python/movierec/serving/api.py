"""``GET /recommend/{user_id}`` as plain Python: validation, content negotiation, errors, metrics, logging.

The Chalice handler only adapts this to its request/response objects, so the same code answers under
``chalice local``, on Lambda behind API Gateway, and in tests without any server.

- 200 ``text/plain``: up to 20 comma-separated movie ids (the course contract); with
  ``Accept: application/json``: ids, titles, scores, ranker, index version, fallback flag.
- 400 JSON ``{"error": ...}`` for a user id that is not a plain non-negative integer of at most 10 digits.
- 500 JSON ``{"error": ...}`` for any internal failure, logged with its traceback and counted.
- Every response carries ``X-Index-Version`` (provenance; ``none`` before an index is loaded); while an
  experiment runs, answers also carry ``X-Experiment: <name>/<arm>`` (see :mod:`movierec.serving.experiments`).
- Metrics (EMF, namespace ``movierec``, function ``recommend``): ``Requests``, ``Requests2xx|4xx|5xx``,
  ``Latency`` (ms), ``Fallback``, ``ColdStart`` (first request of the process), ``AnswerLogDropped``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from movierec.config import Settings
from movierec.dal import tables
from movierec.dal.answer_log import AnswerLog, LoggedAnswer, now_ms
from movierec.dal.history import get_history
from movierec.dal.index_store import IndexStore
from movierec.dal.periodic import Periodic
from movierec.observability import MetricUnit, make_logger, make_metrics
from movierec.serving.experiments import EXPERIMENT_HEADER, ExperimentRouter
from movierec.serving.service import Answer, Recommender, ingested_popularity

USER_ID = re.compile(r"[0-9]{1,10}")
VERSION_HEADER = "X-Index-Version"
RANKER_HEADER = "X-Ranker"
#: DynamoDB calls on the request path fail fast instead of hanging (pynamodb defaults: 15 s / 30 s).
REQUEST_PATH_TIMEOUTS = {"connect_timeout_seconds": 1, "read_timeout_seconds": 2, "max_retry_attempts": 2}

logger = make_logger("recommend")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def wants_json(accept: str | None) -> bool:
    return accept is not None and "application/json" in accept.lower()


def _json(status: int, payload: dict[str, Any], version: str | None) -> HttpAnswer:
    return HttpAnswer(status, json.dumps(payload), {"Content-Type": "application/json", VERSION_HEADER: version or "none"})


def render(answer: Answer, as_json: bool) -> HttpAnswer:
    headers = {VERSION_HEADER: answer.version, RANKER_HEADER: answer.ranker}
    if as_json:
        body = json.dumps(
            {
                "user_id": answer.user_id,
                "version": answer.version,
                "ranker": answer.ranker,
                "fallback": answer.fallback,
                "movies": [
                    {"id": s.movie_id, "title": t, "score": round(s.score, 6)}
                    for s, t in zip(answer.items, answer.titles)
                ],
            }
        )
        return HttpAnswer(200, body, {**headers, "Content-Type": "application/json"})
    return HttpAnswer(200, ",".join(s.movie_id for s in answer.items), {**headers, "Content-Type": "text/plain"})


class RecommendApi:
    def __init__(self, recommender: Recommender, answer_log: AnswerLog | None,
                 router: ExperimentRouter | None = None) -> None:  # fmt: skip
        self.recommender = recommender
        self.answer_log = answer_log
        self.router = router
        self.metrics = make_metrics("recommend")
        self._metrics_lock = threading.Lock()
        self._cold = True

    def get(self, raw_user_id: str, accept: str | None = None) -> HttpAnswer:
        started = time.perf_counter()
        answer: Answer | None = None
        assignment = None
        if not USER_ID.fullmatch(raw_user_id or ""):
            result = _json(
                400,
                {"error": f"user id must be a non-negative integer of at most 10 digits, got {raw_user_id[:40]!r}"},
                self.recommender.store.loaded_version,
            )
        else:
            try:
                # Experiments: the arm picks the index version; None outside experiments.
                if self.router is not None:
                    assignment = self.router.assign(int(raw_user_id))
                    answer = self.recommender.recommend(int(raw_user_id), self.router.index_for(assignment))
                else:
                    answer = self.recommender.recommend(int(raw_user_id))
                result = render(answer, wants_json(accept))
                if assignment is not None:
                    result.headers[EXPERIMENT_HEADER] = assignment.header
            except Exception as exc:
                logger.exception("recommend failed", extra={"user_id": raw_user_id})
                result = _json(500, {"error": f"internal error: {type(exc).__name__}: {exc}"},
                               self.recommender.store.loaded_version)  # fmt: skip
        latency_ms = (time.perf_counter() - started) * 1000
        # An experiment's failed answers are logged too: the arm's error rate is a canary guardrail.
        if (answer is not None or assignment is not None) and self.answer_log is not None:
            self.answer_log.record(
                LoggedAnswer(int(raw_user_id), now_ms(), result.status,
                             tuple(s.movie_id for s in answer.items) if answer else (), latency_ms,
                             answer.version if answer else assignment.version,  # type: ignore[union-attr]
                             assignment.experiment if assignment else None, assignment.arm if assignment else None)
            )  # fmt: skip
        self._count(result.status, latency_ms, answer is not None and answer.fallback)
        return result

    def _count(self, status: int, latency_ms: float, fallback: bool) -> None:
        with self._metrics_lock:
            m = self.metrics
            if self._cold:
                m.add_metric(name="ColdStart", unit=MetricUnit.Count, value=1)
                self._cold = False
            m.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
            m.add_metric(name=f"Requests{status // 100}xx", unit=MetricUnit.Count, value=1)
            m.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=round(latency_ms, 3))
            if fallback:
                m.add_metric(name="Fallback", unit=MetricUnit.Count, value=1)
            dropped = self.answer_log.take_dropped() if self.answer_log is not None else 0
            if dropped:
                m.add_metric(name="AnswerLogDropped", unit=MetricUnit.Count, value=dropped)
            m.flush_metrics()


def build_api(settings: Settings, log_answers: bool = True) -> RecommendApi:
    """The API of one process: tables bound with request-path timeouts, index store, popularity, answer log."""
    tables.bind(settings, timeouts=REQUEST_PATH_TIMEOUTS)
    store = IndexStore(settings)
    popularity = Periodic(ingested_popularity, settings.index_refresh_s, "popularity")
    recommender = Recommender(store, get_history, popularity)
    router = ExperimentRouter(settings, store)
    router.refresh()  # at process start, so no request pays the first read of the experiment config
    return RecommendApi(recommender, AnswerLog() if log_answers else None, router)

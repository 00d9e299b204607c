"""``GET /recommend/{user_id}`` as plain Python: validation, content negotiation, errors, metrics, logging.

The Chalice handler only adapts this to its request/response objects, so the same code answers under
``chalice local``, on Lambda behind API Gateway, and in tests without any server.

- 200 ``text/plain``: up to 20 comma-separated movie ids (the course contract); with
  ``Accept: application/json``: ids, titles, scores, ranker, index version, fallback flag.
- Degrade, don't fail (the course prefers a low-quality answer to none): history read and ranking get
  ``request_budget_ms``; when they fail or run out of time the answer is the in-memory popular list,
  still 200, marked ``X-Degraded: <reason>``, counted (``Degraded``) and logged with the cause.
- 400 JSON ``{"error", "request_id"}`` for a user id that is not a plain non-negative integer of at most
  10 digits; 503 JSON ``{"error", "request_id"}`` with ``Retry-After`` only when not even a popular list
  is in memory. Error bodies are short public messages: exception text, endpoints, table names go to the
  log only, under the same request id.
- Every response carries ``X-Index-Version`` (provenance; ``none`` before an index is loaded) and
  ``X-Request-Id``; while an experiment runs, answers also carry ``X-Experiment: <name>/<arm>`` (see
  :mod:`movierec.serving.experiments`).
- Metrics (EMF, namespace ``movierec``, function ``recommend``, names from :mod:`movierec.metrics`):
  ``Requests``, ``Requests2xx|4xx|5xx``, ``Latency`` (ms), ``Fallback``, ``Degraded``, ``ColdStart``
  (first request of the process), ``AnswerLogDropped``.

This is the request logic the Lambda function (and the local server) runs; starting and stopping that
server locally as a child process is :mod:`infra.api_server`'s job, which holds no request logic.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as BudgetExceeded
from dataclasses import dataclass, field

from movierec.config import Settings
from movierec.dal.answer_log import AnswerLog, LoggedAnswer, now_ms
from movierec.dal.history import get_history
from movierec.dal.index_store import IndexStore, read_pointer
from movierec.reloaded import ReloadedValue
from movierec.dal.tables import Tables, Timeouts
from movierec.index.loaded import MovieIndex
from movierec.metrics import (
    ANSWER_LOG_DROPPED, COLD_START_METRIC, DEGRADED, FALLBACK, LATENCY, REQUESTS, requests_by_status,
)  # fmt: skip
from movierec.observability import MetricUnit, make_logger, make_metrics
from movierec.serving.experiments import EXPERIMENT_HEADER, Assignment, ExperimentRouter
from movierec.serving.service import Answer, Degrade, Recommender, Unavailable, ingested_popularity

USER_ID = re.compile(r"[0-9]{1,10}")
VERSION_HEADER = "X-Index-Version"
RANKER_HEADER = "X-Ranker"
DEGRADED_HEADER = "X-Degraded"
REQUEST_ID_HEADER = "X-Request-Id"
#: Set by the local server to the moment a request had fully arrived (``t=<epoch ms>``), so time spent
#: waiting for a handler thread counts against the budget.
QUEUE_HEADER = "X-Request-Start"
#: Seconds a client should wait before retrying a 503 (the index or popularity check runs this often at most).
RETRY_AFTER_S = 5
#: DynamoDB calls on the request path fail fast instead of hanging (pynamodb defaults: 15 s / 30 s).
REQUEST_PATH_TIMEOUTS = Timeouts(connect_s=1, read_s=2, retries=2)

logger = make_logger("recommend")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def wants_json(accept: str | None) -> bool:
    return accept is not None and "application/json" in accept.lower()


def _error(status: int, message: str, request_id: str, version: str | None) -> HttpAnswer:
    """A JSON error with a short public ``message`` (never exception text) and the request id."""
    body = json.dumps({"error": message, "request_id": request_id})
    return HttpAnswer(status, body, {"Content-Type": "application/json", VERSION_HEADER: version or "none"})


def render(answer: Answer, as_json: bool) -> HttpAnswer:
    headers = {VERSION_HEADER: answer.version, RANKER_HEADER: answer.ranker}
    if answer.degraded:
        headers[DEGRADED_HEADER] = answer.degraded
    if as_json:
        body = json.dumps(
            {
                "user_id": answer.user_id,
                "version": answer.version,
                "ranker": answer.ranker,
                "fallback": answer.fallback,
                "degraded": answer.degraded,
                "movies": [
                    {"id": s.movie_id, "title": t, "score": round(s.score, 6)}
                    for s, t in zip(answer.items, answer.titles)
                ],
            }
        )
        return HttpAnswer(200, body, {**headers, "Content-Type": "application/json"})
    return HttpAnswer(200, ",".join(s.movie_id for s in answer.items), {**headers, "Content-Type": "text/plain"})


class RecommendApi:
    """One process's request handling: :meth:`answer` chooses the answer, :meth:`get` renders, logs, counts."""

    def __init__(self, recommender: Recommender, answer_log: AnswerLog | None, budget_ms: int, tables: Tables,
                 router: ExperimentRouter | None, workers: int) -> None:  # fmt: skip
        """``workers``: full answers computed at once (``Settings.recommend_workers``). A request that
        finds them all taken is answered degraded at once (``overload``) instead of queueing behind them:
        a queued answer would mostly miss its budget anyway and finish in the background for nothing,
        taking the CPU from the answers that can still make it. It also bounds the threads stuck on a
        slow storage call whose own timeout (``REQUEST_PATH_TIMEOUTS``) is longer than the budget."""
        self.recommender = recommender
        self.tables = tables  # what /health checks
        self.answer_log = answer_log
        self.budget_s = budget_ms / 1000
        self.router = router
        self.metrics = make_metrics("recommend")
        self._metrics_lock = threading.Lock()
        self._cold = True
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="recommend")
        #: Full answers submitted and not finished (running, on time or already given up on).
        self._in_flight = threading.BoundedSemaphore(workers)

    def get(
        self, raw_user_id: str, accept: str | None = None, request_id: str | None = None, queued_s: float = 0.0,
        caller: str | None = None,
    ) -> HttpAnswer:
        """``queued_s``: how long the request already waited before this call (a server's queue), counted
        against the budget, so an overloaded server answers late requests with the cheap popular list.
        ``caller`` (the client address) goes only into the answer log (the security audit reads it)."""
        started = time.perf_counter() - max(0.0, queued_s)
        request_id = request_id or uuid.uuid4().hex
        answer: Answer | None = None
        assignment = None
        version = self.recommender.store.loaded_version
        if not USER_ID.fullmatch(raw_user_id or ""):
            message = f"user id must be a non-negative integer of at most 10 digits, got {raw_user_id[:40]!r}"
            result = _error(400, message, request_id, version)
        else:
            user_id = int(raw_user_id)
            # Experiments: the arm picks the index version; None outside experiments.
            assignment = self.router.assign(user_id) if self.router is not None else None
            answer = self.answer(user_id, request_id, started, assignment)
            if answer is None:
                result = _error(503, "no recommendations available yet; retry later", request_id, version)
                result.headers["Retry-After"] = str(RETRY_AFTER_S)
            else:
                result = render(answer, wants_json(accept))
                if assignment is not None:
                    result.headers[EXPERIMENT_HEADER] = assignment.header
        result.headers[REQUEST_ID_HEADER] = request_id
        latency_ms = (time.perf_counter() - started) * 1000
        # An experiment's failed answers are logged too: the arm's error rate is a canary guardrail.
        if (answer is not None or assignment is not None) and self.answer_log is not None:
            self.answer_log.record(
                LoggedAnswer(int(raw_user_id), now_ms(), result.status,
                             tuple(s.movie_id for s in answer.items) if answer else (), latency_ms,
                             answer.version if answer else assignment.version,  # type: ignore[union-attr]
                             caller, assignment.experiment if assignment else None,
                             assignment.arm if assignment else None, answer.degraded if answer else None)
            )  # fmt: skip
        self._count(result.status, latency_ms, answer)
        return result

    def answer(self, user_id: int, request_id: str, started: float, assignment: Assignment | None = None) -> Answer | None:
        """The full answer within the budget (counted from ``started``), else the popular list, else None.

        In an experiment the arm's version ranks (``assignment``); a degraded answer is the popular list
        whatever the arm (the header and the answer log still name the arm)."""
        remaining = self.budget_s - (time.perf_counter() - started)
        pinned = self.router.index_for(assignment) if self.router is not None and assignment is not None else None
        future = self._start(user_id, pinned) if remaining > 0 else None
        try:
            if future is None:  # the budget went by in the server's queue, or every worker is taken
                raise BudgetExceeded("timeout" if remaining <= 0 else "overload")
            return future.result(timeout=remaining)
        except BudgetExceeded as exc:
            if future is not None:
                future.cancel()  # still queued: never runs; running: finishes in the background, result dropped
            reason = exc.args[0] if exc.args else "timeout"
            logger.warning("recommend over budget; answering popular", extra={"user_id": user_id,
                           "request_id": request_id, "budget_ms": self.budget_s * 1000,
                           "reason": reason})  # fmt: skip
        except Degrade as exc:
            reason = exc.reason
            logger.error("recommend degraded", exc_info=exc.__cause__,
                         extra={"user_id": user_id, "request_id": request_id, "reason": reason})  # fmt: skip
        except Exception:
            reason = "internal-error"
            logger.exception("recommend failed", extra={"user_id": user_id, "request_id": request_id})
        try:
            return self.recommender.popular_answer(user_id, reason)
        except Unavailable:
            logger.error("no popular list in memory: 503", extra={"user_id": user_id, "request_id": request_id,
                         "reason": reason})  # fmt: skip
            return None

    def _start(self, user_id: int, pinned: MovieIndex | None) -> Future[Answer] | None:
        """The full answer started on a free worker, or None when every worker is taken (overload)."""
        if not self._in_flight.acquire(blocking=False):
            return None
        future = self._pool.submit(self.recommender.recommend, user_id, pinned)
        future.add_done_callback(lambda _: self._in_flight.release())
        return future

    def _count(self, status: int, latency_ms: float, answer: Answer | None) -> None:
        with self._metrics_lock:
            m = self.metrics
            if self._cold:
                m.add_metric(name=COLD_START_METRIC, unit=MetricUnit.Count, value=1)
                self._cold = False
            m.add_metric(name=REQUESTS, unit=MetricUnit.Count, value=1)
            m.add_metric(name=requests_by_status(status), unit=MetricUnit.Count, value=1)
            m.add_metric(name=LATENCY, unit=MetricUnit.Milliseconds, value=round(latency_ms, 3))
            if answer is not None and answer.fallback and not answer.degraded:
                m.add_metric(name=FALLBACK, unit=MetricUnit.Count, value=1)
            if answer is not None and answer.degraded:
                m.add_metric(name=DEGRADED, unit=MetricUnit.Count, value=1)
            dropped = self.answer_log.take_dropped() if self.answer_log is not None else 0
            if dropped:
                m.add_metric(name=ANSWER_LOG_DROPPED, unit=MetricUnit.Count, value=dropped)
            m.flush_metrics()


#: The tables a request touches (history read, popularity scan, answer log), by logical name.
SERVING_TABLES = ("history", "movies", "recommendations")


def health(api: RecommendApi) -> HttpAnswer:
    """What serving needs, each checked now: tables exist, an index is loaded, storage answers.

    200 when all hold, else 503; the body names each problem in public words (logical table names, no
    endpoint or exception text, which go to the log).
    """
    problems: dict[str, str] = {}
    missing = []
    for logical in SERVING_TABLES:
        try:
            if not getattr(api.tables, logical).exists():
                missing.append(logical)
        except Exception:
            logger.exception("health: table check failed", extra={"table": logical})
            problems["storage"] = "DynamoDB does not answer"
            break
    if missing:
        problems["tables"] = f"missing: {', '.join(missing)} (make up creates them)"
    try:
        pointer = read_pointer(api.recommender.store.settings)
        if pointer is None:
            problems["published"] = "no index published (movierec index build)"
    except Exception:
        logger.exception("health: index pointer check failed")
        problems.setdefault("storage", "S3 does not answer or the index pointer is invalid")
        pointer = None
    loaded = api.recommender.store.loaded_version
    if loaded is None:
        problems["index"] = "no index loaded"
    body = {"ok": not problems, "index_version": loaded, "published_version": pointer, "problems": problems}
    return HttpAnswer(200 if not problems else 503, json.dumps(body), {"Content-Type": "application/json"})


def build_api(settings: Settings, log_answers: bool = True) -> RecommendApi:
    """The API of one process: its own tables with request-path timeouts, index store, popularity, answer log."""
    tables = Tables(settings, REQUEST_PATH_TIMEOUTS)
    store = IndexStore(settings)
    popularity = ReloadedValue(lambda old: ingested_popularity(tables, old), settings.index_refresh_s, "popularity")
    recommender = Recommender(store, lambda user_id: get_history(tables, user_id), popularity)
    router = ExperimentRouter(settings, store)
    router.refresh()  # at process start, so no request pays the first read of the experiment config
    return RecommendApi(recommender, AnswerLog(tables) if log_answers else None, settings.request_budget_ms, tables,
                        router, settings.recommend_workers)  # fmt: skip

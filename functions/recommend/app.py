"""The recommend function: ``GET /recommend/{user_id}`` (Chalice; logic in ``movierec.serving``).

The API object (settings, index store, popularity, answer log) is built once per process, at import:
on Lambda that is the init phase, under ``chalice local`` the server start. The index is loaded here too
when it is published already, so the first request is fast; if it is not there yet a request tries to
load it within its budget and answers the ingested popular list meanwhile (503 when there is none).
"""

from __future__ import annotations

import time

from chalice import Chalice, Response

from movierec.config import get_settings
from movierec.observability import make_logger
from movierec.serving.api import QUEUE_HEADER, build_api, health

app = Chalice(app_name="movierec-recommend")
api = build_api(get_settings())

try:
    api.recommender.rankers()
except Exception:  # serve anyway: each request retries and reports what is missing
    make_logger("recommend").exception("index not loaded at start")


def _queued_s() -> float:
    """Seconds the request waited in the local server's queue (``X-Request-Start: t=<epoch ms>``, set by
    infra/chalice_local.py, which drops any client-sent value); 0 where no such header exists (AWS)."""
    raw = app.current_request.headers.get(QUEUE_HEADER.lower(), "")
    try:
        return max(0.0, time.time() - int(raw.removeprefix("t=")) / 1000)
    except ValueError:
        return 0.0


@app.route("/recommend/{user_id}", methods=["GET"])
def recommend(user_id: str) -> Response:
    request = app.current_request
    request_id = getattr(app.lambda_context, "aws_request_id", None)  # Lambda's id (chalice local makes one too)
    caller = (request.context.get("identity") or {}).get("sourceIp")  # recorded for the security audit
    answer = api.get(user_id, request.headers.get("accept"), request_id, _queued_s(), caller)
    return Response(body=answer.body, status_code=answer.status, headers=answer.headers)


@app.route("/health", methods=["GET"])
def check_health() -> Response:
    """200 when serving has all it needs (tables, a loaded index, storage answering), else 503 saying what
    is missing (the local runner's readiness check)."""
    answer = health(api)
    return Response(body=answer.body, status_code=answer.status, headers=answer.headers)

"""The recommend API as a local child process: ``chalice local`` in ``functions/recommend``.

Run with ``--no-autoreload`` (chalice's reloader respawns the server under a new pid, which breaks pid
tracking and doubles memory). It reuses the stack's process handling (:class:`infra.stack.Stack`): pid
file and log under the run folder (``api.pid``, ``logs/api.log`` — the function's EMF metric lines land
there too), readiness by a real HTTP request (``GET /health`` answers 200 once the index is loaded),
SIGTERM then SIGKILL on stop, and a clear error when the port is taken.

It exists because locally nothing runs the function for us (API Gateway and Lambda do on AWS); it holds
no request logic. What a request does is :mod:`movierec.serving.api`, the code inside that process.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from movierec.config import REPO_ROOT, Settings
from infra.stack import LOCAL_CREDENTIALS, Service, Stack

FUNCTION_DIR = REPO_ROOT / "functions" / "recommend"


def api_answers(url: str, timeout: float = 2.0) -> bool:
    """True when ``GET <url>/health`` answers 200 (the server is up and has an index loaded)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def function_env(settings: Settings) -> dict[str, str]:
    """What the function reads from its environment, taken from ``settings`` (the child sees the same stack)."""
    endpoint = settings.aws_endpoint_url or f"http://{settings.moto_host}:{settings.moto_port}"
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": settings.region,
        "MOVIEREC_PREFIX": settings.prefix,
        "MOVIEREC_STAGE": settings.stage,
        "MOVIEREC_INDEX_CACHE": str(settings.index_cache_dir),
        "MOVIEREC_INDEX_REFRESH_S": str(settings.index_refresh_s),
        "MOVIEREC_REQUEST_BUDGET_MS": str(settings.request_budget_ms),
        "MOVIEREC_RECOMMEND_WORKERS": str(settings.recommend_workers),
        "MOVIEREC_API_WORKERS": str(settings.api_workers),
        "MOVIEREC_API_READ_TIMEOUT_S": str(settings.api_read_timeout_s),
        "MOVIEREC_DATA_DIR": str(settings.data_dir),
        **LOCAL_CREDENTIALS,
    }


def api_service(settings: Settings) -> Service:
    return Service(
        name="api",
        host=settings.api_host,
        port=settings.api_port,
        command=[
            sys.executable, "-m", "infra.chalice_local", "--project-dir", str(FUNCTION_DIR), "local", "--no-autoreload",
            "--host", settings.api_host, "--port", str(settings.api_port),
        ],  # fmt: skip
        healthy=lambda: api_answers(settings.api_url),
        env=function_env(settings),
    )


class ApiServer(Stack):
    """A :class:`~infra.up.Component` (``start``/``stop``) running only the API service."""

    name = "api"

    def __init__(self, settings: Settings, start_timeout_s: float = 60.0) -> None:
        super().__init__(settings, start_timeout_s)
        self.services = [api_service(settings)]

    def start(self) -> None:
        self.up()

    def stop(self) -> None:
        self.down()

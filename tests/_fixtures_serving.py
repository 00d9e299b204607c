"""Fixtures of the serving tests: a moto server of the test's own (so it can be frozen or killed) and
``chalice local`` processes on it, plus HTTP helpers that return error answers instead of raising.

The session stack (``tests/conftest.py``) is shared by every test, so a test that stops storage starts
its own moto server; it is stopped at the end of the test whatever happened.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.config import Settings
from infra.api import ApiServer
from infra.bootstrap import ensure_bucket, ensure_tables
from infra.stack import LOCAL_CREDENTIALS, Stack, free_port
from tests.timeouts import TEST_TIMEOUT_S



@dataclasses.dataclass
class OwnMoto:
    """A moto server only this test uses; ``freeze``/``thaw``/``kill`` simulate slow and stopped storage."""

    settings: Settings
    stack: Stack

    @property
    def pid(self) -> int:
        pid = self.stack.pid(self.stack.services[0])
        assert pid is not None, "own moto server is not running"
        return pid

    def freeze(self) -> None:
        os.killpg(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        self.thaw()
        self.stack.down()


@pytest.fixture
def own_moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnMoto]:
    """A fresh moto server on a free port with the tables and the bucket of a prefix of its own."""
    for key, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    port = free_port()
    settings = dataclasses.replace(
        Settings.from_env(),
        prefix=f"srv{os.getpid()}",
        moto_port=port,
        aws_endpoint_url=f"http://127.0.0.1:{port}",
        run_dir=tmp_path / "run",
        index_cache_dir=tmp_path / "index-cache",
        api_port=free_port(),
    )
    stack = Stack(settings, start_timeout_s=TEST_TIMEOUT_S)
    stack.services = [s for s in stack.services if s.name == "moto"]
    stack.up()
    moto = OwnMoto(settings, stack)
    try:
        ensure_tables(settings)
        ensure_bucket(settings)
        yield moto
    finally:
        try:
            moto.thaw()
        except (AssertionError, ProcessLookupError):
            pass
        stack.down()


@pytest.fixture
def api_process(own_moto: OwnMoto) -> Iterator[ApiServer]:
    """``chalice local`` on ``own_moto`` (started by the test with ``start_api``), always stopped after."""
    servers: list[ApiServer] = []
    yield servers  # type: ignore[misc]
    for server in servers:
        server.stop()


def start_api(servers: list[ApiServer], settings: Settings, wait_for_index: bool = True) -> ApiServer:
    """Start ``chalice local`` for ``settings``; ready when /health is 200 (or, without an index, when
    the server answers HTTP at all)."""
    server = ApiServer(settings, start_timeout_s=TEST_TIMEOUT_S)
    if not wait_for_index:
        [svc] = server.services
        server.services = [dataclasses.replace(svc, healthy=lambda: get(f"{settings.api_url}/health", 2.0)[0] > 0)]
    servers.append(server)
    server.start()
    return server


def get(url: str, timeout: float = TEST_TIMEOUT_S, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; status 0 when nothing answered."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except OSError:
        return 0, {}, b""


def assert_no_internals(body: bytes, settings: Settings) -> None:
    """An error body is a short public message: no exception text, endpoint, table/bucket name or ARN."""
    text = body.decode(errors="replace")
    for leak in ("http://", "127.0.0.1", str(settings.moto_port), settings.prefix, "arn:", "Error", "Traceback",
                 "Exception", "timeout on endpoint", "/tmp"):  # fmt: skip
        assert leak not in text, f"error body leaks {leak!r}: {text}"
    payload = json.loads(text)
    assert set(payload) <= {"error", "request_id", "message"} and len(text) < 300, text

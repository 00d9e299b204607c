"""The local API survives bad clients (real sockets on loopback against a real ``chalice local``):
connections that never finish their headers or their body, and idle ones, neither pin handler threads
nor block a normal request, and are closed after the read timeout; unknown routes answer 404."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.config import Settings
from movierec.index.build import BuildResult
from infra.api_server import ApiServer
from infra.stack import free_port
from tests.fixtures.serving import get
from tests.fixtures.timeouts import TEST_TIMEOUT_S
SLOW_CLIENTS = 300
#: Short against TEST_TIMEOUT_S, long enough for a loopback request on a loaded machine.
READ_TIMEOUT_S = TEST_TIMEOUT_S / 100


@pytest.fixture
def server(published: BuildResult, settings: Settings, tmp_path: Path) -> Iterator[ApiServer]:
    s = dataclasses.replace(settings, api_port=free_port(), run_dir=tmp_path / "run", api_workers=2,
                            api_read_timeout_s=READ_TIMEOUT_S)  # fmt: skip
    api = ApiServer(s, start_timeout_s=TEST_TIMEOUT_S)
    api.start()
    try:
        yield api
    finally:
        api.stop()


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def _connect(settings: Settings, payload: bytes) -> socket.socket:
    sock = socket.create_connection((settings.api_host, settings.api_port), timeout=TEST_TIMEOUT_S)
    if payload:
        sock.sendall(payload)
    return sock


def test_slow_and_idle_clients_do_not_block_a_normal_request(server: ApiServer) -> None:
    s = server.settings
    [(_, _, pid, _)] = server.status()
    assert pid
    unfinished = [_connect(s, b"GET /recommend/1 HTTP/1.1\r\nHost: x\r\nAccept: te") for _ in range(SLOW_CLIENTS)]
    short_body = [_connect(s, b"POST /recommend/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc") for _ in range(20)]
    idle = [_connect(s, b"") for _ in range(50)]
    try:
        status, headers, body = get(f"{s.api_url}/recommend/5")
        assert status == 200 and len(body.split(b",")) == 20
        assert _threads(pid) < 100  # not one thread per open connection (370 are open)
        status, _, body = get(f"{s.api_url}/no/such/route")
        assert status == 404 and json.loads(body) == {"error": "not found"}
        status, _, body = get(f"{s.api_url}/recommend/5/extra")
        assert status == 404
        # The server closes every slow connection after the read timeout (408 for a half-sent request).
        for sock in unfinished + short_body:
            answer = sock.recv(1024)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
        for sock in idle:
            assert sock.recv(1024) == b""
    finally:
        for sock in unfinished + short_body + idle:
            sock.close()


def test_keep_alive_connection_serves_many_requests(server: ApiServer) -> None:
    s = server.settings
    sock = _connect(s, b"")
    try:
        reader = sock.makefile("rb")
        for user in range(3):
            sock.sendall(f"GET /recommend/{user} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status_line = reader.readline()
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers["content-length"]))
            assert status_line.startswith(b"HTTP/1.1 200") and len(body.split(b",")) == 20
    finally:
        sock.close()

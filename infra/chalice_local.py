"""``chalice local`` hardened against bad clients: bounded handler threads, read timeouts, 404s.

chalice's own local server is ``http.server`` with a thread per connection and no timeouts: 300 clients
that open a connection and never finish their headers pin 300 threads forever, and a client that sends
half a body holds its thread until it goes away. Here one selector thread reads every connection without
blocking and hands a request to a handler thread (a fixed pool of ``MOVIEREC_API_WORKERS``) only once its
head and body are complete; a request must arrive whole within ``MOVIEREC_API_READ_TIMEOUT_S`` of its
first byte, and an idle keep-alive connection is closed after the same time. A slow reader of the answer
holds a handler at most that long too (socket timeout while writing). Idle and half-sent connections
therefore cost a file descriptor and a buffer, never a thread.

Two more differences from chalice's server, both for clients of the course: Nagle's algorithm is off
(chalice writes headers and body in separate sends; with Nagle the body waited ~40 ms for the client's
delayed ACK on every keep-alive answer), and a path no route matches answers 404 ``{"error": "not
found"}`` instead of API Gateway's 403 "Missing Authentication Token"; and each request carries
``X-Request-Start: t=<epoch ms>`` (the moment it had arrived whole; a client's own value is dropped), so
the app counts time spent waiting for a handler thread against its answer budget. The event's
``identity.sourceIp`` is the connection's real peer (chalice hard-codes ``127.0.0.1``; the security audit
counts requests per caller, and local clients can differ: any 127.x.y.z is loopback). Everything else is
the unmodified chalice CLI (``python -m infra.chalice_local --project-dir ... local ...``).
"""

from __future__ import annotations

import io
import queue
import selectors
import socket
import socketserver
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import local
from chalice.cli import main as chalice_main

from movierec.config import get_settings
from movierec.serving.api import QUEUE_HEADER

#: Largest request head (request line + headers) accepted; larger gets 431 and the connection closed.
MAX_HEAD_BYTES = 64 * 1024
#: Largest request body accepted (the API takes no bodies); larger gets 413 and the connection closed.
MAX_BODY_BYTES = 1024 * 1024
#: Open connections beyond this are closed at once (file descriptors are finite too).
MAX_CONNECTIONS = 2000
_NOT_FOUND = b'{"error": "not found"}'


@dataclass
class _Connection:
    sock: socket.socket
    address: Any
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)
    #: True while a request has begun arriving (its deadline runs from its first byte).
    receiving: bool = False


def _request_size(buffer: bytearray) -> int | None:
    """Bytes of the first complete request in ``buffer`` (head + Content-Length body), or None yet.

    Raises ValueError for a head or body over the limits or a malformed Content-Length.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise ValueError("431 Request Header Fields Too Large")
        return None
    length = 0
    for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            if not value.strip().isdigit():
                raise ValueError("400 Bad Request")
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding":
            raise ValueError("411 Length Required")  # chalice local reads Content-Length bodies only
    if length > MAX_BODY_BYTES:
        raise ValueError("413 Content Too Large")
    size = end + 4 + length
    return size if len(buffer) >= size else None


class BoundedServer:
    """An HTTP/1.1 server for chalice's request handler: one selector thread, ``workers`` handler threads."""

    def __init__(self, address: tuple[str, int], handler: Callable[..., Any], workers: int, read_timeout_s: float) -> None:
        self.handler = handler
        self.read_timeout_s = read_timeout_s
        self.socket = socket.create_server(address, backlog=1024)
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="http")
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ, "accept")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._returned: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        self._waiting: dict[int, _Connection] = {}  # connections the selector reads (not in a handler)
        self._open = 0
        self._open_lock = threading.Lock()
        self._stop = threading.Event()
        self._stopped = threading.Event()

    # --- the selector thread ---------------------------------------------------------------------------
    def serve_forever(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=0.5):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._take_returned()
                    else:
                        self._read(key.data)
                self._expire()
        finally:
            self._stopped.set()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            with self._open_lock:
                if self._open >= MAX_CONNECTIONS:
                    sock.close()
                    continue
                self._open += 1
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._watch(_Connection(sock, address, time.monotonic() + self.read_timeout_s))

    def _watch(self, conn: _Connection) -> None:
        self._waiting[conn.sock.fileno()] = conn
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _take_returned(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                conn = self._returned.get_nowait()
            except queue.Empty:
                return
            conn.sock.setblocking(False)
            conn.deadline = time.monotonic() + self.read_timeout_s
            self._watch(conn)
            if conn.buffer:  # a pipelined request arrived with the previous one
                self._dispatch_if_complete(conn)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if not conn.receiving:
            conn.receiving = True
            conn.deadline = time.monotonic() + self.read_timeout_s  # the whole request within the timeout
        conn.buffer += data
        self._dispatch_if_complete(conn)

    def _dispatch_if_complete(self, conn: _Connection) -> None:
        try:
            size = _request_size(conn.buffer)
        except ValueError as exc:
            self._reject(conn, str(exc))
            return
        if size is None:
            return
        request, conn.buffer = bytes(conn.buffer[:size]), conn.buffer[size:]
        conn.receiving = bool(conn.buffer)
        self._unwatch(conn)
        self._pool.submit(self._handle, conn, request, time.time())

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in [c for c in self._waiting.values() if c.deadline <= now]:
            if conn.receiving:
                self._reject(conn, "408 Request Timeout")
            else:
                self._close(conn)

    def _reject(self, conn: _Connection, status: str) -> None:
        try:
            conn.sock.send(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        except OSError:
            pass
        self._close(conn)

    def _unwatch(self, conn: _Connection) -> None:
        self._waiting.pop(conn.sock.fileno(), None)
        self._selector.unregister(conn.sock)

    def _close(self, conn: _Connection) -> None:
        if conn.sock.fileno() in self._waiting:
            self._unwatch(conn)
        self._shut(conn)

    def _shut(self, conn: _Connection) -> None:
        conn.sock.close()
        with self._open_lock:
            self._open -= 1

    # --- handler threads -------------------------------------------------------------------------------
    def _handle(self, conn: _Connection, request: bytes, arrived: float) -> None:
        keep = False
        try:
            conn.sock.settimeout(self.read_timeout_s)  # a client that does not read the answer cannot hold us
            handler = self.handler((conn.sock, request, arrived), conn.address, self)
            keep = not handler.close_connection
        except Exception:  # the handler logged what it could; the connection is not reusable
            keep = False
        if keep and not self._stop.is_set():
            self._returned.put(conn)
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        else:
            self._shut(conn)

    # --- what chalice's LocalDevServer calls -----------------------------------------------------------
    def handle_request(self) -> None:
        raise NotImplementedError("chalice's single-request mode is not used")

    def shutdown(self) -> None:
        self._stop.set()
        self._stopped.wait()
        self._pool.shutdown(wait=True)
        self.socket.close()


class RequestHandler(local.ChaliceRequestHandler):
    """chalice's handler for exactly one request read ahead by :class:`BoundedServer`; 404 for unknown paths."""

    def setup(self) -> None:
        sock, request, self.arrived = self.request
        self.connection = sock
        self.rfile = io.BytesIO(request)
        self.wfile = socketserver._SocketWriter(sock)  # type: ignore[attr-defined]
        # The real peer as the event's identity.sourceIp, as API Gateway gives it (one handler per request).
        self.local_gateway.event_converter.LOCAL_SOURCE_IP = self.client_address[0]

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        self.wfile.flush()

    def _generic_handle(self) -> None:
        try:
            self.server.routes.match_route(self.path)
        except ValueError:
            self._send_http_response(404, {"Content-Type": "application/json"}, _NOT_FOUND)
            return
        # When the request had fully arrived: the app counts the wait for this thread against its budget.
        del self.headers[QUEUE_HEADER]
        self.headers[QUEUE_HEADER] = f"t={int(self.arrived * 1000)}"
        super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle


def create_local_server(app_obj: Any, config: Any, host: str, port: int) -> local.LocalDevServer:
    """chalice's ``create_local_server`` with :class:`BoundedServer` and :class:`RequestHandler`."""
    local.CustomLocalChalice.__bases__ = (local.LocalChalice, app_obj.__class__)
    app_obj.__class__ = local.CustomLocalChalice
    settings = get_settings()

    def server(address: tuple[str, int], handler: Callable[..., Any]) -> BoundedServer:
        bounded = BoundedServer(address, handler, settings.api_workers, settings.api_read_timeout_s)
        bounded.routes = local.RouteMatcher(list(app_obj.routes))  # type: ignore[attr-defined]
        return bounded

    return local.LocalDevServer(app_obj, config, host, port, handler_cls=RequestHandler, server_cls=server)


def main() -> int:
    local.create_local_server = create_local_server  # what chalice's CLI factory calls
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main())

"""``chalice local`` with Nagle's algorithm off on its connections.

chalice's local server (``http.server`` with HTTP/1.1 keep-alive) writes a response's headers and body in
separate sends; with Nagle's algorithm on, the body waits for the client's delayed ACK of the headers,
which adds ~40 ms to every answer on a keep-alive connection (measured: an empty-history answer took
52 ms, most of it this wait). ``socketserver`` has a switch for exactly this. It also passes the real
caller address to the app (:func:`_setup_with_peer`). Everything else is the unmodified chalice CLI
(``python -m infra.chalice_local --project-dir ... local ...``).
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main as chalice_main


def _setup_with_peer(self: local.ChaliceRequestHandler) -> None:
    """Put the connection's real peer address into ``identity.sourceIp``, as API Gateway does.

    chalice local hard-codes ``127.0.0.1``; the security audit counts requests per caller address, and
    local clients can differ (any 127.x.y.z is loopback). Runs once per connection, before any request.
    """
    _setup(self)
    self.local_gateway.event_converter.LOCAL_SOURCE_IP = self.client_address[0]


_setup = local.ChaliceRequestHandler.setup


def main() -> int:
    local.ChaliceRequestHandler.disable_nagle_algorithm = True
    local.ChaliceRequestHandler.setup = _setup_with_peer  # type: ignore[method-assign]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main())

"""``chalice local`` with Nagle's algorithm off on its connections.

chalice's local server (``http.server`` with HTTP/1.1 keep-alive) writes a response's headers and body in
separate sends; with Nagle's algorithm on, the body waits for the client's delayed ACK of the headers,
which adds ~40 ms to every answer on a keep-alive connection (measured: an empty-history answer took
52 ms, most of it this wait). ``socketserver`` has a switch for exactly this. Everything else is the
unmodified chalice CLI (``python -m infra.chalice_local --project-dir ... local ...``).
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main as chalice_main


def main() -> int:
    local.ChaliceRequestHandler.disable_nagle_algorithm = True
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main())

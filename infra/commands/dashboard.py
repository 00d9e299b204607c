"""``movierec dashboard``: the live dashboard page on 127.0.0.1:3000 (docs/observability.md)."""

from __future__ import annotations

import argparse

from movierec.config import get_settings


def _dashboard(args: argparse.Namespace) -> int:
    from infra.dashboard_server import MAX_MINUTES, DashboardServer, PageOptions

    if not 1 <= args.minutes <= MAX_MINUTES or args.refresh <= 0:
        print(f"--minutes must be from 1 to {MAX_MINUTES} and --refresh above 0")
        return 2
    server = DashboardServer(get_settings(), args.host, args.port, PageOptions(args.refresh, args.minutes))
    print(f"movierec dashboard on {server.url} (stage {server.settings.stage}; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from infra.dashboard_server import DEFAULT_HOST, DEFAULT_MINUTES, DEFAULT_PORT, DEFAULT_REFRESH_S

    parser = sub.add_parser("dashboard", epilog="example: movierec dashboard --port 3000 --refresh 10", help="serve the live dashboard page (charts from CloudWatch, alarm states)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--refresh", type=float, default=DEFAULT_REFRESH_S, metavar="S", help=f"the page redraws every S seconds (default {DEFAULT_REFRESH_S:g})")
    parser.add_argument("--minutes", type=int, default=DEFAULT_MINUTES, help=f"span of the charts (default {DEFAULT_MINUTES})")
    parser.set_defaults(func=_dashboard)

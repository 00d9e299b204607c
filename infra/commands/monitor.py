"""``movierec monitor``: live figures and alarm states of the local system; ``--png FILE`` for a picture."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from movierec.config import get_settings
from infra.monitor import draw_png, render_text
from infra.percentiles import PercentileStore


def _monitor(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.png:
        path = draw_png(settings, PercentileStore.in_run_dir(settings.run_dir), Path(args.png), minutes=args.minutes)
        print(f"wrote {path}")
        return 0
    while True:
        text = render_text(settings, PercentileStore.in_run_dir(settings.run_dir))
        if args.watch:
            print("\033[2J\033[H" + text, flush=True)  # clear the screen, then draw
            time.sleep(args.watch)
        else:
            print(text)
            return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("monitor", epilog="example: movierec monitor --watch 5", help="current metrics and alarm states (or --png FILE: a dashboard picture)")
    parser.add_argument("--png", metavar="FILE", help="draw the dashboard (request rate, success, latency, ingest, memory)")
    parser.add_argument("--minutes", type=int, default=60, help="span of the PNG (default 60)")
    parser.add_argument("--watch", type=float, metavar="S", help="redraw every S seconds until Ctrl-C")
    parser.set_defaults(func=_monitor)

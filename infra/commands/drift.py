"""``movierec drift``: the current window of the stream against its reference window (docs/observability.md)."""

from __future__ import annotations

import argparse

from movierec.config import get_settings


def _drift(args: argparse.Namespace) -> int:
    from infra.emf import MetricsPublisher
    from movierec.drift.job import run_drift
    from movierec.drift.stats import format_report

    publisher = MetricsPublisher(get_settings()) if args.emit else None
    if publisher is not None:
        publisher.start()
    try:
        report = run_drift(get_settings(), args.window_hours, args.reference_hours, args.end, emit=args.emit)
    finally:
        if publisher is not None:
            publisher.stop()
    print(f"current window {args.window_hours:g} h vs the {args.reference_hours:g} h before it (event time)")
    print(format_report(report))
    if args.emit:
        print(f"emitted {', '.join(f'{k}={v:g}' for k, v in report.metrics().items())}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("drift", epilog="example: movierec drift --window-hours 1 --reference-hours 24", help="data drift of the latest window against a reference window")
    parser.add_argument("--window-hours", type=float, default=1.0)
    parser.add_argument("--reference-hours", type=float, default=24.0)
    parser.add_argument("--end", type=float, default=None, help="end of the current window, epoch s (default: latest event)")
    parser.add_argument("--emit", action="store_true", help="also emit the figures as CloudWatch metrics")
    parser.set_defaults(func=_drift)

"""``movierec metrics``: the local EMF publisher and alarm evaluator, on whatever endpoint is configured.

``make up`` runs both as components of its main job. When the functions run otherwise (LocalStack from
localstack-compose.yml, ``chalice local`` or ``movierec ingest`` started by hand), this command plays the
part CloudWatch plays on AWS: it follows the log files of those processes, publishes their EMF
documents with PutMetricData, and evaluates the alarms that the endpoint itself does not (moto evaluates
none; LocalStack's community CloudWatch not the metric-math and percentile ones: docs/deploy.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from movierec.config import get_settings
from infra.signals import stop_on_signals, wait_for_stop


def _metrics(args: argparse.Namespace) -> int:
    from infra.alarm_evaluator import AlarmEvaluator
    from infra.emf import MetricsPublisher

    settings = get_settings()
    stop = stop_on_signals()
    publisher = MetricsPublisher(settings, interval_s=args.interval)
    for path in args.follow:
        publisher.follow(Path(path))
    parts = [publisher] + ([] if args.no_alarms else [AlarmEvaluator(settings, store=publisher.percentiles)])
    for part in parts:
        part.start()
    print(f"publishing EMF metrics of {', '.join(args.follow) or 'no file'} to {settings.aws_endpoint_url or 'AWS'}"
          f"{'' if args.no_alarms else ' and evaluating the alarms'}; Ctrl-C stops", flush=True)  # fmt: skip
    wait_for_stop(stop)
    for part in reversed(parts):
        part.stop()
    print(f"published {publisher.stats.data_published} metric data from {publisher.stats.documents} documents", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "metrics",
        epilog="example: movierec metrics --follow .run/logs/api.log",
        help="publish the EMF metrics of function logs and evaluate the alarms (for stacks not run by make up)",
        description="Follows log files (a function's stdout), publishes their EMF documents with PutMetricData and "
        "evaluates the alarms, until Ctrl-C. Example, with LocalStack: "
        "movierec metrics --follow api.log --follow ingest.log",
    )
    parser.add_argument("--follow", action="append", default=[], metavar="FILE",
                        help="a log file whose new EMF lines are metrics (repeatable)")  # fmt: skip
    parser.add_argument("--interval", type=float, default=5.0, metavar="S", help="publish every S seconds (default 5)")
    parser.add_argument("--no-alarms", action="store_true", help="only publish; the endpoint evaluates the alarms")
    parser.set_defaults(func=_metrics)

"""``movierec invoke <LogicalId> -e events/<file>``: run one function of template.yaml once, like ``sam local invoke``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from movierec.config import get_settings


def _invoke(args: argparse.Namespace) -> int:
    from infra.invoke import InvokeError, function_spec, invoke, publish_metrics

    settings = get_settings()
    bad = [item for item in (*args.env, *args.parameter_overrides) if "=" not in item]
    if bad:
        print(f"movierec invoke: --env and --parameter-overrides take NAME=VALUE, got {', '.join(bad)}", file=sys.stderr)
        return 2
    try:
        parameters = dict(item.split("=", 1) for item in args.parameter_overrides)
        spec = function_spec(args.logical_id, settings, parameters=parameters)
        event = json.loads(Path(args.event).read_text()) if args.event else {}
    except (InvokeError, ValueError, OSError) as exc:  # JSONDecodeError and a parameter a deploy refuses are ValueErrors
        print(f"movierec invoke: {exc}", file=sys.stderr)
        return 2
    overrides = dict(item.split("=", 1) for item in args.env)
    done = invoke(spec, event, env=overrides)
    sys.stderr.write(done.log)  # the log first, on stderr; the result alone on stdout (as sam local invoke)
    if not args.no_metrics:
        try:
            sent = publish_metrics(settings, done.log)
        except Exception as exc:  # metrics are a by-product: a missing CloudWatch must not hide the result
            print(f"movierec invoke: metrics not published ({exc})", file=sys.stderr)
        else:
            print(f"published {sent} EMF documents as metrics to {settings.aws_endpoint_url or 'AWS'}", file=sys.stderr)
    print(json.dumps(done.result))
    return 1 if done.failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "invoke",
        epilog="example: movierec invoke RecommendFunction -e events/recommend-api.json",
        help="run one function of template.yaml on an event, in a fresh Lambda-like process",
        description="Reads template.yaml (handler, environment, layers, timeout, memory), runs the handler once "
        "in a fresh process with a Lambda-like context, prints its log (stderr) and result (stdout), and "
        "publishes the EMF metrics of its log. Example: movierec invoke IngestFunction -e events/ingest-msk.json",
    )
    parser.add_argument("logical_id", metavar="LogicalId", help="the function's logical id, e.g. IngestFunction")
    parser.add_argument("-e", "--event", help="JSON event file (default: {}), e.g. events/recommend-api.json")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="override one environment variable of the function (repeatable)")  # fmt: skip
    parser.add_argument("--parameter-overrides", nargs="+", default=[], metavar="NAME=VALUE",
                        help="template parameters, as sam local invoke takes them, e.g. TrainPrior=snapshots/<sha256>.json.gz")  # fmt: skip
    parser.add_argument("--no-metrics", action="store_true", help="do not publish the log's EMF metrics")
    parser.set_defaults(func=_invoke)

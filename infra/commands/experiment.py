"""``movierec experiment start | status | stop | report | guard``: A/B tests and canaries of index versions."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from movierec.config import get_settings
from movierec.evaluation.online import WINDOW_H


def _start(args: argparse.Namespace) -> int:
    from movierec.dal.experiment_store import ExperimentError, start_experiment
    from movierec.models.experiment import Guardrails

    guardrails = Guardrails(args.max_error_increase, args.max_p99_ratio, args.p99_slack_ms, args.min_requests)
    try:
        e = start_experiment(get_settings(), args.name, args.control, args.treatment, args.share, args.canary, guardrails)
    except ExperimentError as exc:
        print(f"movierec experiment start: {exc}")
        return 1
    kind = "canary" if e.canary else "experiment"
    print(f"started {kind} {e.name}: control {e.control}, treatment {e.treatment} for {e.share:.0%} of users "
          f"(salt {e.salt}); running APIs pick it up within MOVIEREC_INDEX_REFRESH_S = {get_settings().index_refresh_s:g} s")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from movierec.dal.experiment_store import ExperimentError, stop_experiment

    try:
        e = stop_experiment(get_settings(), args.reason)
    except ExperimentError as exc:
        print(f"movierec experiment stop: {exc}")
        return 1
    print(f"stopped {e.name} ({e.stop_reason}); every user gets the current version again")
    return 0


def _status(args: argparse.Namespace) -> int:
    from movierec.dal.experiment_store import list_experiments
    from movierec.experiments.analysis import check_guardrails
    from movierec.experiments.guard import experiment_requests

    settings = get_settings()
    experiments = list_experiments(settings)
    if not experiments:
        print("no experiment was ever started")
        return 0
    for e in experiments:
        state = "RUNNING" if e.running else f"stopped: {e.stop_reason}"
        print(f"{e.name}: {e.control} (control) vs {e.treatment} (treatment, share {e.share:g})"
              f"{' canary' if e.canary else ''} — {state}")
        if e.running:
            requests = experiment_requests(e.name, settings)
            arms = {arm: sum(r.arm == arm for r in requests) for arm in ("control", "treatment")}
            print(f"  API answers so far: {arms}; guardrails: {check_guardrails(e, requests).reason}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from movierec.dal.experiment_store import list_experiments, read_experiment
    from movierec.evaluation.online import load_online
    from movierec.experiments.analysis import analyse
    from movierec.experiments.report import markdown, plot

    settings = get_settings()
    e = read_experiment(args.name, settings) if args.name else next(iter(reversed(list_experiments(settings))), None)
    if e is None:
        print(f"movierec experiment report: no experiment {args.name or ''}".rstrip())
        return 1
    requests, watches = load_online(settings)
    if args.source:
        requests = [r for r in requests if r.source.startswith(args.source)]
    a = analyse(e, requests, watches, window_h=args.window_hours, looks=args.looks, min_effect=args.min_effect)
    text = markdown(a)
    png = plot(a, args.out / f"experiment-{e.name}.png")
    print(text)
    (args.out / f"experiment-{e.name}.md").write_text(text)
    print(f"wrote {args.out / f'experiment-{e.name}.md'} and {png}")
    if args.emit:
        _emit(a.metrics())
    return 0


def _emit(values: dict[str, float]) -> None:
    """The arms' conversion as CloudWatch metrics (function ``experiment``), published before returning."""
    from infra.emf import emit_now
    from movierec.experiments.guard import FUNCTION

    emit_now(get_settings(), FUNCTION, values)
    print(f"emitted {', '.join(f'{k}={v:g}' for k, v in values.items())}")


def _guard(args: argparse.Namespace) -> int:
    from infra.emf import MetricsPublisher
    from movierec.experiments.guard import guard

    publisher = MetricsPublisher(get_settings())  # the rollback metric reaches CloudWatch like make up's
    publisher.start()
    try:
        while True:
            outcome = guard(get_settings())
            if outcome.experiment is None:
                print("no experiment is running")
            elif outcome.verdict is None:
                print(f"{outcome.experiment.name} is not a canary: no automatic rollback")
            else:
                done = "ROLLED BACK to control" if outcome.rolled_back else "ok"
                print(f"{outcome.experiment.name}: {done} — {outcome.verdict.reason}")
            if not args.watch:
                return 0
            time.sleep(args.watch)
    finally:
        publisher.stop()


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("experiment", epilog="example: movierec experiment status", help="A/B experiments and canaries between two index versions")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    start = verbs.add_parser("start", epilog="example: movierec experiment start --name v2-vs-v1 --control VERSION_A --treatment VERSION_B --share 0.5", help="serve TREATMENT to a hash-assigned share of users, CONTROL to the rest")
    start.add_argument("--name", required=True)
    start.add_argument("--control", required=True, help="index version of the control arm")
    start.add_argument("--treatment", required=True, help="index version of the treatment arm")
    start.add_argument("--share", type=float, default=0.5, help="share of users in the treatment arm (default 0.5)")
    start.add_argument("--canary", action="store_true", help="roll back automatically when a guardrail is breached")
    start.add_argument("--max-error-increase", type=float, default=0.01, help="guardrail: error rate over control's")
    start.add_argument("--max-p99-ratio", type=float, default=1.5, help="guardrail: p99 latency factor over control's")
    start.add_argument("--p99-slack-ms", type=float, default=50.0, help="guardrail: p99 slack in ms")
    start.add_argument("--min-requests", type=int, default=50, help="guardrails judge from this many answers per arm")
    start.set_defaults(func=_start)
    stop = verbs.add_parser("stop", epilog="example: movierec experiment stop", help="stop the running experiment")
    stop.add_argument("--reason", default="stopped by hand")
    stop.set_defaults(func=_stop)
    verbs.add_parser("status", epilog="example: movierec experiment status", help="every experiment, the running one's answers and guardrails").set_defaults(func=_status)
    report = verbs.add_parser("report", epilog="example: movierec experiment report --out reports", help="per-arm figures and statistics; writes markdown and a PNG")
    report.add_argument("name", nargs="?", help="experiment name (default: the latest)")
    report.add_argument("--window-hours", type=float, default=WINDOW_H)
    report.add_argument("--looks", type=int, default=24, help="sequential looks in the plot (default 24)")
    report.add_argument("--min-effect", type=float, default=0.02, help="effect for the sample size (default 0.02)")
    report.add_argument("--emit", action="store_true", help="also emit each arm's conversion as a CloudWatch metric")
    report.add_argument("--source", default="", help="only requests whose source starts with this (api, stream:replay)")
    report.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    report.set_defaults(func=_report)
    g = verbs.add_parser("guard", epilog="example: movierec experiment guard --watch 60", help="check the running canary's guardrails; roll back when breached")
    g.add_argument("--watch", type=float, default=0, help="repeat every S seconds")
    g.set_defaults(func=_guard)

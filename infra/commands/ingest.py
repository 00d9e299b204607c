"""``movierec ingest | replay | history``: run the poller, feed the stream, look at what was stored."""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from movierec.config import get_settings
from infra.signals import stop_on_signals


def _ingest(args: argparse.Namespace) -> int:
    from infra.emf import MetricsPublisher
    from infra.poller import Poller

    settings = get_settings()
    stop = stop_on_signals()
    poller = Poller(settings, event_source=args.event_source, partitions=args.partitions)
    which = "every partition" if args.partitions is None else "partitions " + ",".join(map(str, args.partitions))
    print(f"ingesting {which} of {settings.kafka_topic} on {settings.kafka_bootstrap} as group "
          f"{settings.kafka_group} into tables {settings.prefix}-*; Ctrl-C stops", flush=True)
    reporter = threading.Thread(target=_report, args=(poller, stop, args.report_every), daemon=True)
    reporter.start()
    # The handler's and the poller's metrics reach the endpoint's CloudWatch (moto or LocalStack), as under make up.
    publisher = MetricsPublisher(settings)
    publisher.start()
    try:
        poller.run(stop)
    finally:
        publisher.stop()
    s = poller.stats
    print(f"stopped after {s.batches} batches, {s.records} records, {sum(s.item_writes.values())} item writes",
          flush=True)
    return 0


def _partitions(text: str) -> list[int]:
    try:
        out = sorted({int(p) for p in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected partition numbers like 0,2, got {text!r}") from None
    if not out or out[0] < 0:
        raise argparse.ArgumentTypeError(f"expected partition numbers >= 0 like 0,2, got {text!r}")
    return out


def _report(poller, stop: threading.Event, every_s: float) -> None:
    """A progress line every ``every_s`` seconds while records flow."""
    seen = 0
    while not stop.wait(every_s):
        s = poller.stats
        if s.records != seen:
            seen = s.records
            print(f"{time.strftime('%H:%M:%S')} batches={s.batches} records={s.records} lag={s.lag} "
                  f"failures={s.failures}", flush=True)


def _replay(args: argparse.Namespace) -> int:
    from movierec.datasets import DataMissingError
    from infra.replay import ReplayError, default_sample_paths, movielens_lines, produce, sample_lines

    settings = get_settings()
    started = time.monotonic()
    try:  # a missing file or no broker is one line, not a traceback
        if args.source == "samples":
            lines, total = sample_lines([Path(p) for p in args.files] or default_sample_paths(settings)), None
        else:
            lines = movielens_lines(args.minutes, args.limit, settings)
            total = None if args.limit is None else args.limit * (args.minutes + 1)
        sent = produce(settings, lines, speed=args.speed, total=total, progress=not args.quiet)
    except (ReplayError, DataMissingError) as exc:
        print(f"movierec replay {args.source}: {exc}")
        return 1
    print(f"sent {sent} lines to {settings.kafka_topic} in {time.monotonic() - started:.1f}s", flush=True)
    return 0


def _replay_loop(args: argparse.Namespace) -> int:
    from infra.replay import ReplayError
    from infra.replay_loop import ReplayLoop

    loop = ReplayLoop(get_settings(), users=args.users, seed=args.seed, gap_s=args.gap_hours * 3600,
                      max_asks_per_user=args.max_asks_per_user)  # fmt: skip
    try:
        print(loop.run().summary())
    except ReplayError as exc:
        print(f"movierec replay loop: {exc}")
        return 1
    return 0


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _history(args: argparse.Namespace) -> int:
    from movierec.dal.history import get_states
    from movierec.dal.tables import Tables

    tables = Tables(get_settings())
    rows = [
        {
            "movie_id": movie_id,
            "max_minute": state.max_minute,
            "watch_count": len(state.minutes),
            "rating": state.rating,
            "first_seen": _iso(state.first_seen),
            "last_seen": _iso(state.last_seen),
        }
        for movie_id, state in get_states(tables, args.user_id).items()
    ]
    rows.sort(key=lambda r: (r["last_seen"] or "", r["movie_id"]))
    print(json.dumps({"user_id": args.user_id, "movies": rows}, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ingest = sub.add_parser("ingest", epilog="example: movierec ingest --partitions 0,2", help="run the event-source poller: Kafka -> ingest handler -> DynamoDB")
    ingest.add_argument("--event-source", choices=["SelfManagedKafka", "aws:kafka"], default="SelfManagedKafka",
                        help="the Lambda event shape to build (default: SelfManagedKafka)")
    ingest.add_argument("--report-every", type=float, default=5.0, help="seconds between progress lines")
    ingest.add_argument("--partitions", type=_partitions, default=None, metavar="P[,P...]",
                        help="apply only these partitions (one of several pollers side by side, as Lambda runs "
                             "one invocation per partition); default: every partition, through the group")
    ingest.set_defaults(func=_ingest)

    replay = sub.add_parser("replay", epilog="example: movierec replay movielens --limit 1000", help="produce stream lines into Kafka (course samples, MovieLens, or the loop)")
    sources = replay.add_subparsers(dest="source", required=True, metavar="SOURCE")
    paced = argparse.ArgumentParser(add_help=False)
    paced.add_argument("--speed", type=float, default=0.0,
                       help="N x real time (keeps the gaps between line timestamps); 0 = as fast as possible")
    paced.add_argument("--quiet", action="store_true", help="no progress bar")
    samples = sources.add_parser("samples", epilog="example: movierec replay samples", parents=[paced], help="the real course stream files as they are")
    samples.add_argument("files", nargs="*", help="sample files (default: every file under <data>/stream/)")
    samples.set_defaults(func=_replay)
    movielens = sources.add_parser("movielens", epilog="example: movierec replay movielens --minutes 3 --limit 1000 --speed 0", parents=[paced], help="ml-latest-small in the course format")
    movielens.add_argument("--minutes", type=int, default=3, help="watch lines per rating (default 3)")
    movielens.add_argument("--limit", type=int, default=None, help="only the first N ratings by time")
    movielens.set_defaults(func=_replay)
    loop = sources.add_parser("loop", epilog="example: movierec replay loop --users 20", help="MovieLens users in time order, asking the running API on the way "
                              "(closing the loop for online evaluation)")
    loop.add_argument("--users", type=int, default=20, help="how many MovieLens users (seeded draw; default 20)")
    loop.add_argument("--seed", type=int, default=0, help="seed of the user draw (default 0)")
    loop.add_argument("--gap-hours", type=float, default=1.0, help="a new session after this idle time (1)")
    loop.add_argument("--max-asks-per-user", type=int, default=10, help="requests per user at most (10)")
    loop.set_defaults(func=_replay_loop)

    history = sub.add_parser("history", epilog="example: movierec history 1", help="print a user's stored history as JSON")
    history.add_argument("user_id", type=int, help="the course user id (an integer)")
    history.set_defaults(func=_history)

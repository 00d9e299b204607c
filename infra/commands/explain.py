"""``movierec explain USER [REQUEST_KEY | --at TIME]``: where one logged recommendation came from."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from movierec.config import get_settings


def _time(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return datetime.fromisoformat(raw).replace(tzinfo=timezone.utc).timestamp()


def _explain(args: argparse.Namespace) -> int:
    from movierec.provenance import explain, find_answer

    settings = get_settings()
    item = find_answer(args.user, settings, args.request_key, None if args.at is None else _time(args.at))
    if item is None:
        print(f"movierec explain: no logged answer for user {args.user} "
              f"{'key ' + args.request_key if args.request_key else 'at or before ' + str(args.at or 'now')}")
        return 1
    print(json.dumps(explain(item, settings).as_dict(), indent=2, default=str))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("explain", epilog="example: movierec explain 42 --at 2025-02-12T05:15:00", help="provenance of a logged recommendation: version, code, data, arm, history")
    parser.add_argument("user", type=int)
    parser.add_argument("request_key", nargs="?", help="the answer's request key (default: the latest answer)")
    parser.add_argument("--at", help="the latest answer at or before this time (epoch s or ISO, UTC)")
    parser.set_defaults(func=_explain)

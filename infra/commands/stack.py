"""``movierec up | down | status``: the local system's life cycle."""

from __future__ import annotations

import argparse
import os
import sys

from movierec.config import get_settings
from infra.api_server import ApiServer
from infra.bootstrap import serving_problems
from infra.stack import Stack, StackError


def _up(args: argparse.Namespace) -> int:
    from infra.up import run_up

    try:
        rc = run_up(get_settings())
    except StackError as exc:
        print(f"movierec up: {exc}")
        return 1
    # Everything this run started is stopped now (children, threads at their safe points, files closed).
    # The interpreter's own teardown of the native libraries loaded on the way (lance, pyarrow, scipy,
    # kafka) took 4.7 s more after that on a loaded 2-core machine: too much of the 15 s Ctrl-C budget,
    # and a background step still inside an uncancellable call (an upload) would only be abandoned at
    # the end anyway. So leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def _down(args: argparse.Namespace) -> int:
    stopped = ApiServer(get_settings()).down() + Stack(get_settings()).down()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = Stack(get_settings()).status() + ApiServer(get_settings()).status()
    for name, address, pid, ok in rows:
        print(f"{name:<6} {address:<21} {'pid ' + str(pid) if pid else 'not started by us':<20} "
              f"{'answers' if ok else 'DOWN'}")
    problems = serving_problems(get_settings()) if rows[0][3] else []  # rows[0]: moto (storage)
    for problem in problems:
        print(f"serving: {problem}")
    if not problems and rows[0][3]:
        print("serving: tables, bucket and index pointer present")
    return 0 if all(ok for *_, ok in rows) and not problems else 1


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("up", epilog="example: movierec up", help="start the local system in the foreground (Ctrl-C stops it)").set_defaults(func=_up)
    sub.add_parser("down", epilog="example: movierec down", help="stop every service of the local stack").set_defaults(func=_down)
    sub.add_parser("status", epilog="example: movierec status", help="each component, its address and whether it answers").set_defaults(func=_status)

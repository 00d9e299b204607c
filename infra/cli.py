"""``movierec``: the command line of the local system (see ``movierec --help``)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from botocore.exceptions import EndpointConnectionError

from infra import commands
from infra.localenv import use_local_stack


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movierec", description="movierec: local stack, jobs and tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command's own ``--help`` the one-line summary its parent lists (argparse shows none)."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        summaries = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            if child.description is None:
                child.description = summaries.get(name)
            _describe(child)


def main(argv: list[str] | None = None) -> int:
    """Parse, point at the local stack unless configured otherwise, run the command's ``func(args)``.

    An AWS endpoint that does not answer (the local stack not started, a wrong ``AWS_ENDPOINT_URL``) is
    one line for every command, here in one place, not a botocore traceback from whichever call met it."""
    args = build_parser().parse_args(argv)
    settings = use_local_stack()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except EndpointConnectionError:
        where = settings.aws_endpoint_url or "AWS"
        print(f"movierec {args.command}: no AWS endpoint answers at {where}: start the local stack (`make up`) "
              "or set AWS_ENDPOINT_URL")  # fmt: skip
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""``movierec data fetch-movielens``: get the evaluation data set into the data folder."""

from __future__ import annotations

import argparse

from movierec.config import get_settings
from movierec.fetch import MOVIELENS_URL, FetchError, fetch_movielens


def _fetch_movielens(args: argparse.Namespace) -> int:
    settings = get_settings()
    existed = (settings.data_dir / "movielens" / "ml-latest-small").exists()
    try:
        folder = fetch_movielens(args.url, settings, force=args.force)
    except FetchError as exc:
        print(f"movierec data fetch-movielens: {exc}")
        return 1
    print(f"{'kept existing' if existed and not args.force else 'unpacked'} {folder}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", epilog="example: movierec data fetch-movielens", help="data sets in the data folder (MOVIEREC_DATA_DIR)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    fetch = verbs.add_parser("fetch-movielens", epilog="example: movierec data fetch-movielens", help="download MovieLens ml-latest-small from GroupLens and unpack it")
    fetch.add_argument("--url", default=MOVIELENS_URL, help=f"archive URL (default {MOVIELENS_URL})")
    fetch.add_argument("--force", action="store_true", help="replace an existing copy")
    fetch.set_defaults(func=_fetch_movielens)

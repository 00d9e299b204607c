"""``movierec data``: get the evaluation data set into the data folder (``fetch-movielens``), and store its
MovieLens histories in the index bucket as ranker v2's prior data for a deployed train function, which has
no data folder (``publish-prior``)."""

from __future__ import annotations

import argparse

from botocore.exceptions import ClientError

from movierec.config import get_settings
from movierec.datasets import DataMissingError
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


def _publish_prior(args: argparse.Namespace) -> int:
    from movierec.training.job import publish_prior

    settings = get_settings()
    try:
        key = publish_prior(settings)
    except DataMissingError as exc:
        print(f"movierec data publish-prior: {exc}")
        return 1
    except ClientError as exc:
        print(f"movierec data publish-prior: S3 refused the upload to {settings.bucket} ({exc.response['Error'].get('Code')})")
        return 1
    print(f"stored the MovieLens prior as {key} in the index bucket")
    print(f"train with it: MOVIEREC_TRAIN_PRIOR={key} (on AWS: sam deploy --parameter-overrides TrainPrior={key})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", epilog="example: movierec data fetch-movielens", help="data sets in the data folder (MOVIEREC_DATA_DIR)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    fetch = verbs.add_parser("fetch-movielens", epilog="example: movierec data fetch-movielens", help="download MovieLens ml-latest-small from GroupLens and unpack it")
    fetch.add_argument("--url", default=MOVIELENS_URL, help=f"archive URL (default {MOVIELENS_URL})")
    fetch.add_argument("--force", action="store_true", help="replace an existing copy")
    fetch.set_defaults(func=_fetch_movielens)
    prior = verbs.add_parser("publish-prior", epilog="example: movierec data publish-prior",
                             help="store ml-latest-small's histories in the index bucket as ranker v2's prior data "
                                  "for a train function without a data folder; prints the MOVIEREC_TRAIN_PRIOR key")  # fmt: skip
    prior.set_defaults(func=_publish_prior)

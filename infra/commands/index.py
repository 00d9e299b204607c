"""``movierec index build | update | status``: the movie index on S3."""

from __future__ import annotations

import argparse

from movierec.config import get_settings
from movierec.dal.index_store import published_versions, read_manifest, read_pointer
from movierec.datasets import DataMissingError
from movierec.index.build import DEFAULT_RANKER
from movierec.index.manifest import CATALOG_RANKER
from movierec.index_job import CATALOGS, build_and_publish, catalog_movies, ids_missing_from_index, update_published


def _build(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        movies = catalog_movies(args.catalog, settings)
    except DataMissingError as exc:
        print(f"movierec index build: {exc}")
        return 1
    manifest, built = build_and_publish(movies, settings, catalog=args.catalog, force=args.force, k=args.neighbours,
                                        ranker=args.ranker)  # fmt: skip
    if built:
        print(f"published {manifest.version}: {manifest.rows} movies, {manifest.build.get('embedded')} embedded now, "
              f"{manifest.build.get('total_s')} s")  # fmt: skip
    else:
        print(f"index {manifest.version} already has exactly these movies (use --force to rebuild)")
    return 0


def _update(args: argparse.Namespace) -> int:
    settings = get_settings()
    ids = list(args.movie_ids)
    if args.from_dynamodb:
        ids += ids_missing_from_index(settings)
    manifest = update_published(ids, settings)
    if manifest is None:
        print("the index already has every one of these movies; nothing published")
    else:
        print(f"published {manifest.version} (parent {manifest.parent}): {manifest.rows} movies, "
              f"{manifest.build.get('added')} added")  # fmt: skip
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = get_settings()
    version = read_pointer(settings)
    if version is None:
        print(f"no index published in s3://{settings.bucket}/ (run `movierec index build`)")
        return 1
    m = read_manifest(version, settings)
    print(f"current  {m.version}\nrows     {m.rows}\nmodel    {m.model} ({m.dim}-d)\nranker   {m.ranker}\n"
          f"k        {m.neighbours_k}\ncreated  {m.created_at}\ncode     {m.code_version}\n"
          f"parent   {m.parent or '-'}\nsource   {m.source_fingerprint}\nbuild    {m.build}\n"
          f"columns  {', '.join(m.columns)}")  # fmt: skip
    versions = published_versions(settings)
    whole = sum(versions.values())
    print(f"versions {whole} whole, {len(versions) - whole} pruned to their manifest "
          f"(MOVIEREC_INDEX_KEEP_VERSIONS={settings.index_keep_versions})")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", epilog="example: movierec index status", help="build, update or show the movie index on S3")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", epilog="example: movierec index build --catalog course", help="embed a catalog and publish it as the current index version")
    build.add_argument("--catalog", choices=CATALOGS, default="course", help="which movies (default: course)")
    build.add_argument("--force", action="store_true", help="publish a new version even if nothing changed")
    build.add_argument("--neighbours", type=int, default=50, help="neighbours stored per movie (default 50)")
    build.add_argument("--ranker", choices=(CATALOG_RANKER, DEFAULT_RANKER), default=CATALOG_RANKER,
                       help="what the version serves until a trained model replaces it: the popular list "
                            "(default; content-v1 loses to it offline, docs/evaluation.md) or content-v1")
    build.set_defaults(func=_build)
    update = actions.add_parser("update", epilog="example: movierec index update --from-dynamodb", help="add movies the current index lacks (new version, same rows kept)")
    update.add_argument("movie_ids", nargs="*", help="movie ids to add, e.g. the+lion+king+1994")
    update.add_argument("--from-dynamodb", action="store_true", help="also add every ingested movie id it lacks")
    update.set_defaults(func=_update)
    actions.add_parser("status", epilog="example: movierec index status", help="the current version, its manifest, and the versions kept whole and pruned").set_defaults(func=_status)

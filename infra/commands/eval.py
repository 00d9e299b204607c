"""``movierec eval offline | online``: how good the recommendations are, offline and from the live log."""

from __future__ import annotations

import argparse
from pathlib import Path

from movierec.config import get_settings
from movierec.evaluation.online import SLOW_MS, WINDOW_H
from movierec.evaluation.split import DEFAULT_PROTOCOLS, PROTOCOLS


def _offline(args: argparse.Namespace) -> int:
    from movierec.dal.index_store import IndexMissingError
    from movierec.datasets import DataMissingError
    from movierec.evaluation import interactions, report
    from movierec.evaluation.offline import default_specs, run_offline
    from movierec.evaluation.served import catalog_index, published_index, served_specs
    from movierec.ranking.collab import NAME
    from movierec.training.families import learned_specs
    from movierec.training.job import training_prior

    settings = get_settings()
    seed = interactions.TIE_SEED  # ties in time in a seeded random order on every source, never by id
    try:
        if args.source == "movielens":
            log = interactions.load_movielens(settings, tie_seed=seed)
        elif args.source == "stream":  # the course stream files through ingest's parser
            log = interactions.load_stream(settings, tie_seed=seed)
        else:  # the served index's movies are recommendable too, watched or not
            served_index = published_index(settings)
            log = interactions.with_catalog(interactions.load_dynamodb(settings, tie_seed=seed), served_index.ids)
        if not log.users:
            print(f"movierec eval offline: no interactions in {args.source}")
            return 1
        # On course-id data MovieLens is prior data for ranker v2 (tried with and without on validation), as
        # `movierec train` offers it; on MovieLens, or when the ingested data is MovieLens itself, none.
        prior = None if args.no_prior else training_prior(args.source, settings, log)
        if args.source == "dynamodb":
            # The learned families refitted on each protocol's training data over the rows of the version
            # the API serves now (with the prior `movierec train` would offer): the served version itself
            # was fitted on these very targets, so scoring it as it is would measure memory, not skill.
            # A ranker that reads no interactions (popular, content-v1) is also scored as it is served.
            specs = default_specs() | learned_specs(served_index, None, prior, settings.min_coverage)
            if served_index.manifest.ranker != NAME:
                specs |= {f"{name} (served now)": spec for name, spec in served_specs(args.source, settings).items()}
        else:  # the learned families over an index of the source's catalog, built by the API's index code
            catalog = "movielens" if args.source == "movielens" else "course"
            index, to_index = catalog_index(catalog, settings, extra_ids=log.catalog if catalog == "course" else (),
                                            embed=not args.no_embed)  # fmt: skip
            specs = default_specs() | learned_specs(index, to_index if args.source == "movielens" else None, prior,
                                                     settings.min_coverage)
            if args.source == "movielens" and not args.no_embed:  # content-v1, the ranker an index build serves
                specs |= served_specs(args.source, settings)
    except (DataMissingError, IndexMissingError) as exc:
        print(f"movierec eval offline: {exc}")
        return 1
    print(f"{log.source}: {len(log.users):,} users, {log.n_interactions:,} interactions, {len(log.catalog):,} movies")
    name = "offline.md" if args.source == "movielens" else f"offline-{args.source}.md"
    protocols = tuple(p.strip() for p in args.protocol.split(",") if p.strip())
    served = "collab-v2"  # the report's paired columns: ranker v2, what `movierec train` publishes
    command = " ".join(["movierec eval offline", f"--source {args.source}", *(["--quick"] if args.quick else []),
                        *(["--no-embed"] if args.no_embed else []), *(["--no-prior"] if args.no_prior else []),
                        *([f"--protocol {args.protocol}"] if args.protocol != ",".join(DEFAULT_PROTOCOLS) else [])])  # fmt: skip
    try:
        run = run_offline(log, specs, quick=args.quick, protocols=protocols, served=served)
    except ValueError as exc:
        print(f"movierec eval offline: {exc}")
        return 2
    report.write(run, args.out, name, command)
    print(report.markdown(run, command))
    print(f"wrote {args.out / name} and {args.out}/*.png")
    return 0


#: The metric dimension ``function`` of the online conversion figures (``--emit``).
ONLINE_FUNCTION = "online"


def _online(args: argparse.Namespace) -> int:
    from movierec.dal.index_store import read_pointer
    from movierec.evaluation.online import (
        conversion_metrics, evaluate_online, format_report, load_online, previous_version,
    )  # fmt: skip

    settings = get_settings()
    requests, watches = load_online(settings)
    if args.source:
        requests = [r for r in requests if r.source.startswith(args.source)]
    report = evaluate_online(requests, watches, window_h=args.window_hours, slow_ms=args.slow_ms)
    text = format_report(report)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "online.md").write_text(text)
    print(f"wrote {args.out / 'online.md'}")
    if args.emit:
        from infra.emf import emit_now

        current = read_pointer(settings)
        previous = previous_version(requests, current)
        values = conversion_metrics(report, current, previous)
        emit_now(settings, ONLINE_FUNCTION, values)
        print(f"emitted {', '.join(f'{k}={v:g}' for k, v in values.items()) or 'nothing (no answered request)'} "
              f"(current version {current or 'none'}, previous {previous or 'none'})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", epilog="example: movierec eval offline --quick", help="offline evaluation against baselines; online conversion from the log")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    offline = verbs.add_parser("offline", epilog="example: movierec eval offline --quick --source movielens", help="every model on the same temporal split; writes reports/offline.md")
    offline.add_argument("--quick", action="store_true", help="smaller tuning grids")
    offline.add_argument("--protocol", default=",".join(DEFAULT_PROTOCOLS),
                         help=f"comma-separated protocols among {', '.join(PROTOCOLS)} (default %(default)s)")
    offline.add_argument("--source", choices=("movielens", "stream", "dynamodb"), default="movielens",
                         help="MovieLens ml-latest-small (default), the course stream files (writes "
                              "offline-stream.md) or the running system's ingested histories (offline-dynamodb.md)")
    offline.add_argument("--no-embed", action="store_true",
                         help="ranker v2 over an index without content vectors (no embedding; its content part "
                              "for cold movies scores nothing; no content-v1): for a machine too slow to embed the catalog")
    offline.add_argument("--no-prior", action="store_true",
                         help="--source stream|dynamodb: ranker v2 without MovieLens as prior training data (the ablation)")
    offline.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    offline.set_defaults(func=_offline)
    online = verbs.add_parser("online", epilog="example: movierec eval online --window-hours 24", help="conversion of served/streamed recommendations into watches")
    online.add_argument("--window-hours", type=float, default=WINDOW_H,
                        help=f"W: a watch within W hours converts (default {WINDOW_H:g})")
    online.add_argument("--slow-ms", type=float, default=SLOW_MS,
                        help=f"a request slower than this counts as slow (default {SLOW_MS:g})")
    online.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    online.add_argument("--source", default="",
                        help="only requests whose source starts with this (api, stream:, stream:replay)")
    online.add_argument("--emit", action="store_true",
                        help="also emit the conversion overall, of the current index version and of the previous "
                             "one as CloudWatch metrics (function online)")
    online.set_defaults(func=_online)

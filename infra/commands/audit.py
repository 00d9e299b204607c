"""``movierec audit security | fairness | feedback``: audits of the running system from what it recorded."""

from __future__ import annotations

import argparse
from pathlib import Path

from movierec.audit.security import ScrapingParams, ShillingParams
from movierec.config import Settings, get_settings
from movierec.models.ranking import ANSWER_SIZE


def _reject_rates(settings: Settings, hours: int) -> dict[str, list[tuple[float, float, float]]] | None:
    """Accepted and rejected lines per hour from the ingest metrics (None when CloudWatch has none)."""
    from movierec.alarms import Query
    from movierec.metrics import LINES_ACCEPTED, LINES_REJECTED
    from infra.metric_series import Window, fetch

    window = Window.ending_now(3600, hours)
    accepted = fetch(settings, Query("a", LINES_ACCEPTED, "ingest", "Sum"), window)
    rejected = fetch(settings, Query("r", LINES_REJECTED, "ingest", "Sum"), window)
    periods = [
        (window.bounds(i)[1], a or 0.0, r or 0.0)
        for i, (a, r) in enumerate(zip(accepted, rejected))
        if (a or 0.0) + (r or 0.0) > 0
    ]
    return {"periods": periods} if periods else None


def _security(args: argparse.Namespace) -> int:
    from movierec.audit import security
    from movierec.audit.report import security_markdown
    from movierec.dal.audit_reads import read_api_calls, read_ratings, read_rejects
    from movierec.dal.tables import Tables

    settings = get_settings()
    tables = Tables(settings)
    ratings, calls, (rejects, untimed) = read_ratings(tables), read_api_calls(tables), read_rejects(tables)
    shill = security.ShillingParams(window_s=args.window_hours * 3600, min_accounts=args.min_accounts,
                                    min_score=args.min_score)  # fmt: skip
    scored = security.shilling_windows(ratings.ratings, ratings.first_seen, shill)
    flags = [f for f in scored if security.is_flagged(f, shill)]
    scrape = security.ScrapingParams(max_users_per_caller=args.max_users_per_caller)
    text = security_markdown(
        flags, scored[: max(10, len(flags))], shill, security.scraping(calls, scrape), scrape,
        security.rejections(rejects), untimed, _reject_rates(settings, args.rate_hours),
        {"ratings": len(ratings.ratings), "users": len(ratings.first_seen), "served answers": len(calls),
         "quarantined lines": len(rejects) + untimed},
    )  # fmt: skip
    return _write(text, args.out / "audit-security.md")


NO_PROFILE = ("MovieLens users have no profile (ml-latest-small has no demographics, and its user ids 1..610 "
              "are not course user ids): per-group figures need course users; exposure is reported.")


def _fairness(args: argparse.Namespace) -> int:
    from movierec.audit import fairness
    from movierec.audit.report import fairness_markdown, fairness_png
    from movierec.catalog.users import read_profiles
    from movierec.evaluation import interactions
    from movierec.evaluation.metrics import popularity_counts
    from movierec.evaluation.scoring import evaluate
    from movierec.evaluation.split import leave_last_out
    from movierec.ranking.popular import PopularRanker
    from movierec.training.ease import EaseRanker

    settings = get_settings()
    online = None
    profiles = read_profiles(settings)
    note = "Course users joined with catalog/users.csv on user id."
    if args.source == "samples":
        from movierec.audit.stream_log import log_from_lines
        from infra.replay import default_sample_paths, sample_lines

        log = log_from_lines(sample_lines(default_sample_paths(settings)))
    elif args.source == "movielens":
        log, profiles, note = interactions.load_movielens(settings), {}, NO_PROFILE
    else:
        from movierec.evaluation.online import load_online
        from movierec.evaluation.served import published_index

        log = interactions.with_catalog(interactions.load_dynamodb(settings), published_index(settings).ids)
        note += (" If this system ingested a MovieLens replay, users 1..610 are MovieLens users joined to "
                 "unrelated course profiles: audit such a system with --source movielens instead.")
        requests, watches = load_online(settings)
        online = fairness.online_by_group(requests, watches, profiles, args.window_hours)
    split = leave_last_out(log)
    rankers = {"popular": PopularRanker.from_training(split.train, split.catalog),
               "ease": EaseRanker.fit(split.train, split.catalog, lam=args.lam)}  # fmt: skip
    if args.source == "dynamodb":
        from movierec.evaluation.served import served_specs

        rankers |= {name: spec.build(split.train, split.catalog) for name, spec in served_specs("dynamodb", settings).items()}
    print(f"{log.source}: {len(log.users):,} users, {len(split.cases):,} test cases, {len(split.catalog):,} movies")
    results = evaluate(rankers, split, (ANSWER_SIZE,), progress=False)
    users = [c.user_id for c in split.cases]
    models = {name: fairness.offline_by_group(m.ranks, users, profiles, ANSWER_SIZE) for name, m in results.models.items()}
    popularity = popularity_counts(split.train)
    exposures = {name: fairness.exposure(m.recommended, popularity, split.catalog, ANSWER_SIZE) for name, m in results.models.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    fairness_png(models, exposures, args.out / "audit-fairness.png", ANSWER_SIZE)
    text = fairness_markdown(f"{log.source} ({len(log.users):,} users)", note, models, exposures, online, ANSWER_SIZE)
    print(f"wrote {args.out / 'audit-fairness.png'}")
    return _write(text, args.out / "audit-fairness.md")


def _feedback(args: argparse.Namespace) -> int:
    from movierec.audit.feedback import exposure_by_version, share_by_day, share_by_version
    from movierec.audit.report import feedback_markdown, feedback_png

    settings = get_settings()
    if args.simulate:
        import dataclasses

        from movierec.audit.simulate import SimParams, genre_index, simulate
        from movierec.catalog.movielens import load_movielens_genres
        from movierec.evaluation.interactions import load_movielens

        log, index = load_movielens(settings), genre_index(load_movielens_genres(settings))
        base = SimParams(users=args.users, cycles=args.cycles, steps=args.steps, p_follow=args.p_follow, seed=args.seed)
        arms, shares, seconds = {}, {}, 0.0
        for label, p in ((f"no mitigation (p_follow {base.p_follow:g})", base),
                         (f"popularity penalty {args.penalty:g}", dataclasses.replace(base, penalty=args.penalty))):
            run = simulate(log, index, p)
            seconds += run.seconds
            versions = exposure_by_version(run.requests, run.catalog_size, ANSWER_SIZE)
            arms[label] = versions
            shares[label] = share_by_version(run.requests, run.watches, window_h=1.0)
            print(f"{label}: {run.seconds:.0f} s, {len(run.requests):,} answers, {len(run.watches):,} watches")
        title = (f"Closed-loop simulation over MovieLens ({base.users} users, {base.cycles} retrain cycles of "
                 f"{base.steps} visits, p_follow {base.p_follow:g}, seed {base.seed}; ranker v2 retrained by "
                 f"fit_collab each cycle); {seconds:.0f} s of simulation.")
    else:
        from movierec.evaluation.online import load_online

        requests, watches = load_online(settings)
        if args.source:
            requests = [r for r in requests if r.source.startswith(args.source)]
        catalog = len({w.movie_id for w in watches} | {m for r in requests for m in r.movie_ids})
        arms = {"recorded answers": exposure_by_version(requests, catalog, ANSWER_SIZE)}
        shares = {"recorded answers": share_by_day(requests, watches, args.window_hours)}
        title = (f"From the recommendations and history tables: {len(requests):,} answers, {len(watches):,} watches, "
                 f"{catalog:,} movies watched or shown; versions in order of their first answer.")
    args.out.mkdir(parents=True, exist_ok=True)
    feedback_png(arms, args.out / "audit-feedback.png")
    print(f"wrote {args.out / 'audit-feedback.png'}")
    return _write(feedback_markdown(title, arms, shares, ANSWER_SIZE, args.tolerance), args.out / "audit-feedback.md")


def _write(text: str, path: Path) -> int:
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", epilog="example: movierec audit security", help="audits from the recorded telemetry: security, fairness, feedback loops")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    sec = verbs.add_parser("security", epilog="example: movierec audit security --window-hours 1", help="rating spam, scraping / enumeration, stream injection")
    sec.add_argument("--window-hours", type=float, default=1.0, help="shilling window (default 1 h)")
    sec.add_argument("--min-accounts", type=int, default=ShillingParams().min_accounts,
                     help="accounts needed to flag a movie (default %(default)s)")
    sec.add_argument("--min-score", type=float, default=ShillingParams().min_score,
                     help="score needed to flag a movie (default %(default)s)")
    sec.add_argument("--max-users-per-caller", type=int, default=ScrapingParams().max_users_per_caller,
                     help="distinct users one caller may ask for in 5 minutes (default %(default)s)")
    sec.add_argument("--rate-hours", type=int, default=24, help="hours of ingest reject rates (default 24)")
    sec.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    sec.set_defaults(func=_security)
    fair = verbs.add_parser("fairness", epilog="example: movierec audit fairness --out reports", help="quality per user group (gender, age, occupation), exposure across movies")
    fair.add_argument("--source", choices=("dynamodb", "samples", "movielens"), default="dynamodb",
                      help="the running system's tables (default; adds the served ranker and online conversion), "
                           "the course stream sample files folded in-process, or MovieLens (no user profiles)")
    fair.add_argument("--lam", type=float, default=300.0, help="EASE regularisation (default %(default)s)")
    fair.add_argument("--window-hours", type=float, default=24.0, help="online conversion window (default 24)")
    fair.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    fair.set_defaults(func=_fairness)
    feed = verbs.add_parser("feedback", epilog="example: movierec audit feedback --simulate", help="does exposure concentrate from version to version; do watches follow us more")
    feed.add_argument("--simulate", action="store_true",
                      help="run the closed-loop simulation (MovieLens, in-process) with and without the mitigation")
    feed.add_argument("--users", type=int, default=200, help="simulated users (default %(default)s)")
    feed.add_argument("--cycles", type=int, default=5, help="retrain cycles (default %(default)s)")
    feed.add_argument("--steps", type=int, default=6, help="visits per user per cycle (default %(default)s)")
    feed.add_argument("--p-follow", type=float, default=0.5, help="chance a user picks a recommended movie")
    feed.add_argument("--penalty", type=float, default=0.5, help="popularity penalty of the mitigated arm")
    feed.add_argument("--seed", type=int, default=0)
    feed.add_argument("--source", default="", help="only recorded answers whose source starts with this")
    feed.add_argument("--window-hours", type=float, default=24.0, help="attribution window of a watch (default 24)")
    feed.add_argument("--tolerance", type=float, default=0.005, help="Gini rise that counts as concentrating")
    feed.add_argument("--out", type=Path, default=Path("reports"), help="report folder (default reports/)")
    feed.set_defaults(func=_feedback)


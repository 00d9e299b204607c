"""``movierec audit security | fairness | feedback``: audits of the running system from what it recorded."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from movierec.audit.security import ScrapingParams, ShillingParams
from movierec.config import Settings, get_settings


def _reject_rates(settings: Settings, hours: int) -> dict[str, list[tuple[float, float, float]]] | None:
    """Accepted and rejected lines per hour from the ingest metrics (None when CloudWatch has none)."""
    from movierec.alarms import LINES_ACCEPTED, LINES_REJECTED, Query
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
    from movierec.dal.audit_reads import bind_tables, read_api_calls, read_ratings, read_rejects

    settings = get_settings()
    bind_tables(settings)
    ratings, calls, (rejects, untimed) = read_ratings(), read_api_calls(), read_rejects()
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


def _write(text: str, path: Path) -> int:
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="audits from the recorded telemetry: security, fairness, feedback loops")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    sec = verbs.add_parser("security", help="rating spam, scraping / enumeration, stream injection")
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


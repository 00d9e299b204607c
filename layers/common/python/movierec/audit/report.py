"""The audits' reports as markdown (and, for fairness and feedback, PNG charts on the Agg backend)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from movierec.audit.security import RejectReport, ScrapingReport, ShillingFlag, ShillingParams, ScrapingParams


def utc(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def security_markdown(
    flags: list[ShillingFlag],
    top: list[ShillingFlag],
    shill: ShillingParams,
    scrape_report: ScrapingReport,
    scrape: ScrapingParams,
    rejects: RejectReport,
    untimed: int,
    rates: Mapping[str, list[tuple[float, float, float]]] | None,
    sizes: Mapping[str, int],
) -> str:
    """``movierec audit security``'s report: shilling, scraping, injection (definitions: docs/audits.md)."""
    out = ["# Security audit", "", "Read: " + ", ".join(f"{n:,} {what}" for what, n in sizes.items()) + ".", ""]
    out += [
        "## Rating spam (shilling)", "",
        f"Window {shill.window_s:g} s (every half window); suspicious = rating >= {shill.high_rating:g} by an account "
        f"with <= {shill.low_activity_ratings} ratings or within {shill.new_account_s:g} s of its first event; "
        f"flag = >= {shill.min_accounts} accounts, score >= {shill.min_score:g} and >= {shill.min_share:.0%} of the "
        "movie's high ratings.", "",
        f"**Flagged movies: {len(flags)}**", "",
        "| movie | window (UTC) | accounts | expected | score | share | flagged |", "|---|---|---|---|---|---|---|",
    ]
    flagged = {f.movie_id for f in flags}
    for f in top:
        out.append(f"| {f.movie_id} | {utc(f.start)} | {f.accounts} | {f.expected:.3f} | {f.score:.1f} | {f.share:.2f} | "
                   f"{'YES' if f.movie_id in flagged else 'no'} |")
    out += [
        "", "## Scraping / enumeration", "",
        f"Window {scrape.window_s:g} s; a caller asking for > {scrape.max_users_per_caller} distinct users, or a user "
        f"asked for >= {scrape.min_requests} times and >= {scrape.rate_factor:g} x the window's median user.", "",
        f"Largest distinct users of one caller in a window: {scrape_report.max_distinct_users}; answers without a "
        f"recorded caller: {scrape_report.unknown_caller}.", "",
        f"**Flagged callers: {len(scrape_report.callers)}; over-polled users: {len(scrape_report.hot_users)}**", "",
    ]
    if scrape_report.callers:
        out += ["| caller | window (UTC) | distinct users | requests |", "|---|---|---|---|"]
        out += [f"| {c.caller} | {utc(c.start)} | {c.distinct_users} | {c.requests} |" for c in scrape_report.callers[:20]]
        out.append("")
    if scrape_report.hot_users:
        out += ["| user | window (UTC) | requests | median user |", "|---|---|---|---|"]
        out += [f"| {h.user_id} | {utc(h.start)} | {h.requests} | {h.median:g} |" for h in scrape_report.hot_users[:20]]
        out.append("")
    out += ["## Stream injection", "", f"Quarantined lines by reason per {rejects.bucket_s:g} s of Kafka record time "
            f"(lines without a record time: {untimed}).", ""]
    reasons = sorted({r for c in rejects.counts.values() for r in c})
    if reasons:
        out += ["| bucket (UTC) | " + " | ".join(reasons) + " |", "|---" * (len(reasons) + 1) + "|"]
        out += [f"| {utc(b)} | " + " | ".join(str(c.get(r, 0)) for r in reasons) + " |" for b, c in rejects.counts.items()]
        out.append("")
    out += [f"**Spikes: {len(rejects.spikes)}**" + "".join(
        f"\n- {s.reason} at {utc(s.start)}: {s.count} lines (median bucket {s.median:g})" for s in rejects.spikes), ""]
    if rates:
        out += ["Reject rate from the ingest metrics (CloudWatch), per period:", "",
                "| period end (UTC) | accepted | rejected | rate |", "|---|---|---|---|"]
        for end, accepted, rejected in rates["periods"]:
            total = accepted + rejected
            out.append(f"| {utc(end)} | {accepted:,.0f} | {rejected:,.0f} | {100 * rejected / total:.2f}% |")
        out.append("")
    return "\n".join(out) + "\n"

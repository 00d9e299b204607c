"""The audits' reports as markdown (and, for fairness and feedback, PNG charts on the Agg backend)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from movierec.audit.security import (
    RejectReport,
    ScrapingParams,
    ScrapingReport,
    ShillingFlag,
    ShillingParams,
)


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


def _figure_rows(figures: list, label: str) -> list[str]:
    return [f"| {f.attribute} | {f.group} | {f.users:,} | {f.cases:,} | {f.value:.4f} | {f.low:.4f}-{f.high:.4f} |"
            for f in figures]  # fmt: skip


def fairness_markdown(source: str, note: str, models: dict, exposures: dict, online: dict | None, k: int) -> str:
    """``movierec audit fairness``'s report. ``models``: name -> metric -> attribute -> figures."""
    from movierec.audit.fairness import gap

    out = ["# Fairness audit", "", f"Source: {source}. {note}", ""]
    for name, per_metric in models.items():
        out += [f"## {name}: offline quality per user group (leave-last-out)", ""]
        for metric, label in (("hit_rate", f"HR@{k}"), ("ndcg", f"NDCG@{k}")):
            out += [f"| attribute | group | users | cases | {label} | 95% CI |", "|---|---|---|---|---|---|"]
            gaps = []
            for attribute, figures in per_metric[metric].items():
                out += _figure_rows(figures, label)
                g = gap(figures)
                if g is not None:
                    gaps.append(f"- {attribute}: best {g.best.group} {g.best.value:.4f}, worst {g.worst.group} "
                                f"{g.worst.value:.4f}, gap {g.size:.4f} "
                                f"({'intervals disjoint' if g.separated else 'intervals overlap: not distinguishable from noise'})")
            out += ["", f"{label} gaps (groups with >= 20 users):", *gaps, ""]
    if online is not None:
        out += ["## Online conversion per user group", "",
                "| attribute | group | users | answered requests | conversion | 95% CI |", "|---|---|---|---|---|---|"]
        for attribute, figures in online.items():
            out += _figure_rows(figures, "conversion")
        out.append("")
    out += [f"## Exposure across movies (top {k} of every test case)", "",
            "| model | slots | catalog | coverage | Gini | top 1% share | top 10% share | cold movies | cold shown | cold slot share |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, e in exposures.items():
        out.append(f"| {name} | {e.slots:,} | {e.catalog:,} | {e.coverage:.4f} | {e.gini:.4f} | {e.top1_share:.4f} | "
                   f"{e.top10_share:.4f} | {e.cold_movies:,} | {e.cold_shown:,} | {e.cold_slot_share:.4f} |")
    return "\n".join(out) + "\n"


def fairness_png(models: dict, exposures: dict, path, k: int) -> None:
    """HR@k per group with 95% intervals (one panel per attribute, every model), and Lorenz curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    attributes = ("gender", "age", "occupation")
    fig, axes = plt.subplots(1, 4, figsize=(20, 5), gridspec_kw={"width_ratios": [1, 2, 4, 2]})
    width = 0.8 / max(len(models), 1)
    for ax, attribute in zip(axes, attributes):
        for j, (name, per_metric) in enumerate(models.items()):
            figures = [f for f in per_metric["hit_rate"][attribute] if f.users >= 20]
            x = np.arange(len(figures)) + j * width
            values = np.array([f.value for f in figures])
            err = np.array([[f.value - f.low for f in figures], [f.high - f.value for f in figures]])
            ax.bar(x, values, width, yerr=err, capsize=2, label=name)
            ax.set_xticks(np.arange(len(figures)) + width * (len(models) - 1) / 2)
            ax.set_xticklabels([f.group for f in figures], rotation=60, ha="right", fontsize=7)
        ax.set_title(f"HR@{k} by {attribute} (>= 20 users, 95% CI)")
    axes[0].legend(fontsize=7)
    ax = axes[3]
    for name, e in exposures.items():
        counts = np.array(e.sorted_counts, dtype=float)
        if counts.sum() == 0:
            continue
        ax.plot(np.linspace(0, 1, len(counts) + 1), np.concatenate([[0], np.cumsum(counts) / counts.sum()]),
                label=f"{name} (Gini {e.gini:.2f})")  # fmt: skip
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_title("exposure Lorenz curve (movies by exposure)")
    ax.set_xlabel("share of catalog movies")
    ax.set_ylabel("share of recommendation slots")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def feedback_markdown(title: str, arms: dict, shares: dict, k: int, tolerance: float) -> str:
    """``movierec audit feedback``'s report. ``arms``: label -> [VersionExposure]; ``shares``: label ->
    [(period, share of watches recommended, watches)]."""
    from movierec.audit.feedback import trend

    out = ["# Feedback-loop audit", "", title, ""]
    for label, versions in arms.items():
        t = trend([v.gini for v in versions], tolerance)
        out += [f"## {label}", "", "| version | first answer (UTC) | answers | slots | distinct movies | coverage | "
                "Gini | head share |", "|---|---|---|---|---|---|---|---|"]
        out += [f"| {v.version} | {utc(v.first_at)} | {v.requests:,} | {v.slots:,} | {v.distinct:,} | {v.coverage:.4f} | "
                f"{v.gini:.4f} | {v.head_share:.4f} |" for v in versions]
        out += ["", f"Exposure Gini from version to version: slope {t.slope:+.4f} per version, first third {t.first:.4f}, "
                f"last third {t.last:.4f}: **{'CONCENTRATING' if t.rising else 'not concentrating'}** "
                f"(tolerance {tolerance:g}).", ""]
        series = shares.get(label) or []
        if series:
            s = trend([v for _, v, _ in series], tolerance)
            out += ["| period | share of watches recommended | watches |", "|---|---|---|"]
            out += [f"| {period} | {share:.4f} | {n:,} |" for period, share, n in series]
            out += ["", f"Share of watches recommended: slope {s.slope:+.4f} per period: "
                    f"**{'RISING' if s.rising else 'not rising'}**.", ""]
    return "\n".join(out) + "\n"


def feedback_png(arms: dict, path) -> None:
    """Exposure Gini and distinct movies shown per version, one line per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for label, versions in arms.items():
        x = list(range(len(versions)))
        a.plot(x, [v.gini for v in versions], marker="o", label=label)
        b.plot(x, [v.distinct for v in versions], marker="o", label=label)
    a.set_title("exposure Gini per model version")
    b.set_title("distinct movies shown per model version")
    for ax in (a, b):
        ax.set_xlabel("model version (retrain cycle)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

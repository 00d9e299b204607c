"""An experiment's report: markdown tables of the per-arm figures and statistics, and a PNG of the
difference in conversion over time with its always-valid (mSPRT) interval."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from movierec.experiments.analysis import ExperimentAnalysis
from movierec.models.experiment import ARMS


def _when(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def markdown(a: ExperimentAnalysis) -> str:
    e = a.experiment
    state = "running" if e.running else f"stopped {_when(e.stopped_at)} ({e.stop_reason})"
    lines = [
        f"## Experiment `{e.name}`",
        "",
        f"control `{e.control}` vs treatment `{e.treatment}`, treatment share {e.share:g}"
        f"{' (canary)' if e.canary else ''}; started {_when(e.started_at)}, {state}. Conversion = answered "
        f"requests followed within W = {a.window_h:g} h by the user's first watch of a recommended movie.",
        "",
        "| arm | version | users | requests | errors | p50 ms | p99 ms | answered | converted | conversion | "
        "watch minutes (converted movies) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in ARMS:
        f = a.arms[arm]
        lines.append(f"| {arm} | {e.version_of(arm)} | {f.users} | {f.requests} | {f.errors} | {f.latency(50):.1f} | "
                     f"{f.latency(99):.1f} | {f.answered} | {f.converted} | {f.conversion:.4f} | {f.watch_minutes} |")
    z, b, s = a.ztest, a.bootstrap, a.final
    lines += [
        "",
        "| statistic | value |",
        "|---|---|",
        f"| difference in conversion (treatment - control) | {z.diff:+.4f} |",
        f"| two-proportion z-test (one look) | z = {z.z:.2f}, p = {z.p_value:.4f} |",
        f"| bootstrap 95% interval, resampling users | [{b.low:+.4f}, {b.high:+.4f}] |",
    ]
    if s is not None:
        lines += [
            f"| mSPRT always-valid p-value after {len(a.looks)} looks | {s.p_value:.4f} |",
            f"| mSPRT always-valid 95% interval | [{s.low:+.4f}, {s.high:+.4f}] |",
        ]
    needed = "-" if a.sample_size is None else f"{a.sample_size:,}"
    lines.append(f"| answered requests per arm to detect {a.min_effect:+.3f} (alpha 0.05, power 0.8) | {needed} |")
    return "\n".join(lines) + "\n"


def plot(a: ExperimentAnalysis, path: Path) -> Path:
    """The difference at each look with its always-valid interval, against the requests seen so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [look.requests for look in a.looks]
    d = [look.sequential.diff for look in a.looks]
    lo = [max(look.sequential.low, -1.0) for look in a.looks]
    hi = [min(look.sequential.high, 1.0) for look in a.looks]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.fill_between(n, lo, hi, alpha=0.25, label="mSPRT always-valid 95% interval")
    ax.plot(n, d, marker="o", label="conversion difference (treatment - control)")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("requests in the experiment so far (looks in time order)")
    ax.set_ylabel("difference in conversion")
    ax.set_title(f"{a.experiment.name}: {a.experiment.treatment} vs {a.experiment.control}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

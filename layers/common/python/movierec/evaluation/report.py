"""The offline report: a markdown table per protocol and PNG plots, from an :class:`OfflineRun`.

Files written to ``out_dir`` (default ``reports/``):

- ``offline.md`` — per protocol, one row per model: HR / NDCG / MRR at each K (HR@20 with its 95%
  bootstrap CI over users), catalog coverage, mean popularity percentile, time; the chosen
  hyper-parameters and the validation scores they were chosen by.
- ``hit_rate_vs_k.png`` — hit rate at K = 1..50 per model (headline protocol).
- ``coverage.png`` — catalog coverage at each K per model.
- ``popularity.png`` — distribution of the training popularity percentile of recommended movies @20.

matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from movierec.evaluation.offline import OfflineRun, Results


def _fmt_params(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k != "seed") or "-"


def table(results: "Results") -> str:
    """The markdown table of one protocol."""
    ks = results.k_values
    head = ["model"]
    for k in ks:
        head += [f"HR@{k}", f"NDCG@{k}", f"MRR@{k}", f"cov@{k}"]
    head += [f"pop%@{ks[-1]}", "95% CI HR@" + str(ks[-1]), "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, model in results.models.items():
        row = [name]
        for k in ks:
            m = results.metrics(name, k)
            row += [f"{m['hit_rate']:.4f}", f"{m['ndcg']:.4f}", f"{m['mrr']:.4f}", f"{m['coverage']:.4f}"]
        last = results.metrics(name, ks[-1])
        row += [
            f"{last['popularity_pct']:.1f}",
            f"{last['hit_rate_low']:.4f}-{last['hit_rate_high']:.4f}",
            f"{model.seconds:.1f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    leaks = {n: m.history_leaks for n, m in results.models.items() if m.history_leaks}
    if leaks:
        lines.append("")
        lines.append(f"Contract breach, history movies returned: {leaks}")
    return "\n".join(lines)


def markdown(run: "OfflineRun") -> str:
    first = run.results[0]
    out = [
        "# Offline evaluation",
        "",
        f"Source: {run.source}; {len(first.split.catalog):,} movies in the catalog; full ranking, history "
        f"excluded; seed {first.seed}; run took {run.seconds:.1f} s. Protocols: see docs/evaluation.md.",
        "",
    ]
    for results in run.results:
        out += [
            f"## {results.split.name}: {len(results.split.cases):,} test cases, {results.split.n_users:,} users",
            "",
            table(results),
            "",
        ]
    out += ["## Hyper-parameters (chosen on the validation split by NDCG@20)", ""]
    for name, params in first.params.items():
        trail = run.tuning.get(name) or []
        tried = "; ".join(f"{_fmt_params(p)}: {score:.4f}" for p, score in trail)
        out.append(f"- {name}: {_fmt_params(params)}" + (f" (validation NDCG@20 — {tried})" if tried else ""))
    return "\n".join(out) + "\n"


def plots(results: "Results", out_dir: Path) -> list[Path]:
    """The three PNG plots of one protocol's results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from movierec.evaluation import metrics

    paths = []
    ks = list(range(1, results.depth + 1))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, model in results.models.items():
        ax.plot(ks, [metrics.hit_rate(model.ranks, k) for k in ks], label=name)
    ax.set(xlabel="K", ylabel="hit rate@K", title=f"Hit rate vs K ({results.split.name})")
    ax.grid(alpha=0.3)
    ax.legend()
    paths.append(out_dir / "hit_rate_vs_k.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = list(results.models)
    width = 0.8 / len(results.k_values)
    for i, k in enumerate(results.k_values):
        values = [results.metrics(n, k)["coverage"] for n in names]
        ax.bar([x + i * width for x in range(len(names))], values, width, label=f"@{k}")
    ax.set_xticks([x + width * (len(results.k_values) - 1) / 2 for x in range(len(names))], names)
    ax.set(ylabel="catalog coverage", title=f"Catalog coverage ({results.split.name})")
    ax.legend()
    paths.append(out_dir / "coverage.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    k = results.k_values[-1]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    data = [[results.percentiles.get(m, 0.0) for recs in results.models[n].recommended for m in recs[:k]] for n in names]
    ax.boxplot([d or [0.0] for d in data], tick_labels=names)
    ax.set(ylabel="training popularity percentile", title=f"Popularity of recommended movies @{k}")
    ax.grid(alpha=0.3, axis="y")
    paths.append(out_dir / "popularity.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return paths


def write(run: "OfflineRun", out_dir: Path, name: str = "offline.md") -> list[Path]:
    """Write the markdown report ``name`` and the plots (of the headline protocol); return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / name
    md.write_text(markdown(run))
    return [md, *plots(run.results[0], out_dir)]

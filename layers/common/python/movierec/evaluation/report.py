"""The offline report: a markdown table per protocol and PNG plots, from an :class:`OfflineRun`.

Files written to ``out_dir`` (default ``reports/``):

- ``offline.md`` — per protocol, one row per model: HR@20 and NDCG@20 with their 95% bootstrap CIs over
  users, coverage@20, HR@10, MRR@20, mean popularity percentile, the paired difference "served ranker
  minus this model" (HR@20, NDCG@20, each with its bootstrap CI over users), time; then every model's
  chosen hyper-parameters and the validation score of every grid point.
- ``hit_rate_vs_k.png`` — hit rate at K = 1..50 per model (headline protocol).
- ``coverage.png`` — catalog coverage at each K per model.
- ``popularity.png`` — distribution of the training popularity percentile of recommended movies @20.

matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from movierec.evaluation.scoring import VALIDATION

if TYPE_CHECKING:
    from movierec.evaluation.offline import OfflineRun
    from movierec.evaluation.scoring import Results


def _fmt_params(params: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items() if k != "seed") or "-"


def _ci(value: float, low: float, high: float, signed: bool = False) -> str:
    f = "{:+.4f}" if signed else "{:.4f}"
    return f"{f.format(value)} [{f.format(low)}, {f.format(high)}]"


def table(results: "Results", served: str | None = None) -> str:
    """The markdown table of one protocol: one row per model at K = 20 (the headline cut-off), with the
    bootstrap intervals over users and, when ``served`` is one of the models, the paired difference
    ``served - model`` (positive = the served ranker is better) with its own interval."""
    k = max(results.k_values)
    small = min(results.k_values)
    paired = served is not None and served in results.models
    head = ["model", f"HR@{k} [95% CI]", f"NDCG@{k} [95% CI]", f"cov@{k}", f"HR@{small}", f"MRR@{k}", f"pop%@{k}"]
    if paired:
        head += [f"{served} - model: HR@{k} [95% CI]", f"NDCG@{k} [95% CI]"]
    head += ["s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, model in results.models.items():
        m = results.metrics(name, k)
        label = f"**{name}** (served)" if paired and name == served else name
        row = [label, _ci(m["hit_rate"], m["hit_rate_low"], m["hit_rate_high"]), _ci(m["ndcg"], m["ndcg_low"], m["ndcg_high"]),
               f"{m['coverage']:.4f}", f"{results.metrics(name, small)['hit_rate']:.4f}", f"{m['mrr']:.4f}",
               f"{m['popularity_pct']:.1f}"]  # fmt: skip
        if paired:
            if name == served:
                row += ["-", "-"]
            else:
                d = results.paired(served, name, k)  # type: ignore[arg-type]
                row += [_ci(d["hit_rate"], d["hit_rate_low"], d["hit_rate_high"], True),
                        _ci(d["ndcg"], d["ndcg_low"], d["ndcg_high"], True)]  # fmt: skip
        row.append(f"{model.seconds:.1f}")
        lines.append("| " + " | ".join(row) + " |")
    leaks = {n: m.history_leaks for n, m in results.models.items() if m.history_leaks}
    if leaks:
        lines.append("")
        lines.append(f"Contract breach, history movies returned: {leaks}")
    return "\n".join(lines)


def versus_best(results: "Results", served: str | None) -> list[str]:
    """One line: the served ranker's HR@20 and NDCG@20 as multiples of the best other model's (issue 14's
    target is >= 1.1x with the paired interval above 0)."""
    if served is None or served not in results.models or len(results.models) < 2:
        return []
    k = max(results.k_values)
    out = []
    for key, label in (("hit_rate", "HR"), ("ndcg", "NDCG")):
        others = {n: results.metrics(n, k)[key] for n in results.models if n != served}
        best = max(others, key=others.__getitem__)
        mine = results.metrics(served, k)[key]
        d = results.paired(served, best, k)
        ratio = f"{mine / others[best]:.2f}x" if others[best] > 0 else "-"
        out.append(f"{label}@{k} {ratio} the best other model ({best}), paired difference "
                   f"{_ci(d[key], d[key + '_low'], d[key + '_high'], True)}")
    return [f"{served} vs the best other model on this protocol: " + "; ".join(out) + ".", ""]


def tuning(results: "Results", floors: Mapping[str, float] | None = None) -> list[str]:
    """Per model: the chosen parameters and every grid point's validation NDCG@20 — with its coverage@20
    for a model chosen under a coverage floor (``floors``: model -> its ``ModelSpec.min_coverage``), and
    the short-history stage's points marked "[on short histories]" (their NDCG@20 is on those cases)."""
    out = []
    for name, params in results.params.items():
        floor = (floors or {}).get(name, 0.0)
        trail = results.tuning.get(name) or []
        tried = "; ".join(f"{_fmt_params(t.params)}: {t.score:.4f}" + (f" (cov {t.coverage:.3f})" if floor else "")
                          + (f" [on {t.on}]" if t.on != VALIDATION else "") for t in trail)  # fmt: skip
        rule = f", among points with validation coverage@20 >= {floor:g} when any reaches it" if floor else ""
        out.append(f"- {name}: **{_fmt_params(params)}**" + (f" (validation NDCG@20 of every grid point{rule}: {tried})" if tried else ""))
    return out


def markdown(run: "OfflineRun", command: str | None = None) -> str:
    first = run.results[0]
    out = [
        "# Offline evaluation",
        "",
        f"Source: {run.source}; {len(first.split.catalog):,} movies in the catalog; full ranking, history "
        f"excluded; ties in time in a seeded random order; seed {first.seed}; run took {run.seconds:.1f} s. "
        f"Protocols: {', '.join(run.protocols)} (see docs/evaluation.md).",
    ]
    if command:
        out += ["", f"Command: `{command}`"]
    if run.served:
        out += ["", f"Served ranker: **{run.served}**; the paired columns are {run.served} minus each model on the same "
                    "cases, with a 95% bootstrap interval over users (above 0 = the served ranker wins)."]  # fmt: skip
    out.append("")
    for results in run.results:
        out += [
            f"## {results.split.name}: {len(results.split.cases):,} test cases, {results.split.n_users:,} users",
            "",
            table(results, run.served),
            "",
            *versus_best(results, run.served),
            f"Hyper-parameters, chosen on the validation split cut from this protocol's training data "
            f"({len(results.split.train):,} training histories), by NDCG@20:",
            "",
            *tuning(results, run.coverage_floors),
            "",
        ]
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


def write(run: "OfflineRun", out_dir: Path, name: str = "offline.md", command: str | None = None) -> list[Path]:
    """Write the markdown report ``name`` and the plots (of the headline protocol); return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / name
    md.write_text(markdown(run, command))
    return [md, *plots(run.results[0], out_dir)]

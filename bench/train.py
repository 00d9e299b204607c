"""Ranker v2 figures: the side-by-side offline run, training time, and ranking latency per history length.

    .venv/bin/python bench/train.py [--quick] [--out reports/v2]

1. Every model — random, popular, item-kNN, ALS (implicit), content v1 (as served), EASE, ranker v2 —
   tuned on the validation split and evaluated on leave-last-out, the starting design's random held-out
   and last-5, in ONE run of the evaluation harness (writes ``<out>/offline.md`` and plots).
2. Training on ml-latest-small (all interactions, default parameters): seconds.
3. ``CollabRanker.rank`` latency (in-process, k = 20) for histories of 10 / 100 / 1000 movies.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

from movierec.evaluation import interactions, report
from movierec.evaluation.offline import default_specs, run_offline
from movierec.evaluation.served import movielens_index, served_specs
from movierec.ranking.base import Interaction
from movierec.ranking.collab import FoldIn
from movierec.training.job import ranker_for
from movierec.training.model import fit_collab, translate
from movierec.training.offline import v2_specs


def latency(ranker, ids: list[str], lengths=(10, 100, 1000), n: int = 300) -> dict[int, tuple[float, float]]:
    """p50 / p99 milliseconds of ``ranker.rank(history, 20)`` for random histories of each length."""
    rng = random.Random(0)
    out = {}
    for length in lengths:
        times = []
        for _ in range(n):
            history = [Interaction(m, float(t), rng.choice([None, 2.0, 4.0, 5.0])) for t, m in enumerate(rng.sample(ids, length))]
            start = time.perf_counter()
            ranker.rank(history, 20)
            times.append((time.perf_counter() - start) * 1000)
        out[length] = (float(np.percentile(times, 50)), float(np.percentile(times, 99)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small grids, no last-5 protocol")
    parser.add_argument("--out", type=Path, default=Path("reports/v2"))
    parser.add_argument("--skip-offline", action="store_true", help="only training time and latency")
    args = parser.parse_args()
    log = interactions.load_movielens()
    index, to_index = movielens_index()
    train = translate(log.users, to_index)
    start = time.perf_counter()
    model = fit_collab(train)
    print(f"training on ml-latest-small ({log.n_interactions:,} interactions, {model.info['movies']:,} movies "
          f"with learned neighbours): {time.perf_counter() - start:.1f} s")
    ranker = ranker_for(index, model, FoldIn())
    for length, (p50, p99) in latency(ranker, index.ids).items():
        print(f"rank(history of {length:>4}, k=20): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    if args.skip_offline:
        return
    specs = default_specs() | served_specs() | v2_specs()
    run = run_offline(log, specs, out_dir=args.out, quick=args.quick)
    print(report.markdown(run))
    print(f"wrote {args.out / 'offline.md'}; {run.seconds:.0f} s")


if __name__ == "__main__":
    main()

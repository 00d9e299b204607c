"""Ranker v2 figures: training time, ranking latency per history length, and latency over HTTP.

    .venv/bin/python bench/train.py [--http 1000]

1. Training on ml-latest-small (all interactions, default parameters): seconds.
2. ``CollabRanker.rank`` latency (in-process, k = 20) for histories of 10 / 100 / 1000 movies, plain and
   with 2 long-tail places (the extra top-k pass they cost).
3. With ``--http N``: on a private local stack (bench/_recommend_setup.py), the course catalog's index,
   ``movierec train --source movielens`` (v2 over the course catalog, gated against content v1), then
   warm latency of ``GET /recommend`` over HTTP with v2 serving (bench/recommend.py's measurement).

The side-by-side quality comparison (every baseline, EASE and v2 in one run) is ``movierec eval offline``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from movierec.evaluation import interactions  # noqa: E402
from movierec.evaluation.served import movielens_index  # noqa: E402
from movierec.models.ranking import Interaction  # noqa: E402
from movierec.ranking.collab import FoldIn  # noqa: E402
from movierec.training.job import ranker_for  # noqa: E402
from movierec.training.model import fit_collab, translate  # noqa: E402


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


def http_latency(requests: int) -> None:
    """Train v2 on the course catalog's index of a private stack, then time GET /recommend over HTTP."""
    from bench._recommend_setup import api_server, local_system
    from bench.recommend import warm_latency
    from movierec.training.job import train

    with local_system(users_per_length=5) as system:
        outcome = train(system.settings, source="movielens")
        assert outcome is not None
        print(f"\ntrained {outcome.version} on MovieLens mapped to course ids in {outcome.seconds:.1f} s: "
              f"{'promoted' if outcome.promoted else 'NOT promoted'} ({outcome.gate.reason})")
        print(f"the tuner chose {outcome.tuning.params if outcome.tuning else 'nothing (parameters given)'} (served below)")
        with api_server(system.settings):
            warm_latency(system, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", type=int, default=0, metavar="N", help="also N requests over HTTP with v2 serving")
    args = parser.parse_args()
    log = interactions.load_movielens()
    index, to_index = movielens_index()
    train = translate(log.users, to_index)
    start = time.perf_counter()
    model = fit_collab(train)
    print(f"training on ml-latest-small ({log.n_interactions:,} interactions, {model.info['movies']:,} movies "
          f"with learned neighbours): {time.perf_counter() - start:.1f} s")
    for label, fold in (("", FoldIn()), (", 2 long-tail places", FoldIn(long_tail=2))):
        for length, (p50, p99) in latency(ranker_for(index, model, fold), index.ids).items():
            print(f"rank(history of {length:>4}, k=20{label}): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    if args.http:
        http_latency(args.http)


if __name__ == "__main__":
    main()

"""What to show cold users (0-2 movies): every candidate of :mod:`movierec.evaluation.cold` against the
global popular list, on the global-time cut, tuned on a validation cut before it; prints the tables.

Run (``--source stream``: the course stream files through ingest's parser, with the course ``/user/``
profiles; ``--source movielens``: ml-latest-small, no demographics, so popular, trending, openers and
watched, which without watches is the popular list)::

    PYTHONPATH=layers/common/python python bench/cold_users.py --source stream [--after 0.1] [--by-file]

``--by-file`` (stream) adds where the test cut's cold users come from: per stream file, its interactions
before / after ``T``, its users with a profile, and the HR@20 of a popular list of that file alone.
``--served`` adds ranker v2 as serving uses it for a cold user (the main ranker when a history movie is
in the index, else the popular list; its grid tuned on the cold validation cut, MovieLens as prior data
on the stream as ``movierec eval offline`` offers it), over the source's catalog index (``--no-embed``:
without content vectors, as that command's flag); ``--served-params JSON`` fixes its parameters instead
(e.g. what ``movierec train`` chose on its own validation split: what it would serve).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from movierec.catalog.users import read_profiles  # noqa: E402
from movierec.evaluation.cold import ColdRun, as_served, before, run_cold  # noqa: E402
from movierec.evaluation.interactions import (  # noqa: E402
    TIE_SEED, InteractionLog, load_movielens, load_prior, load_stream, stream_files,
)  # fmt: skip
from movierec.evaluation.scoring import ModelSpec, Results, evaluate  # noqa: E402
from movierec.evaluation.served import catalog_index  # noqa: E402
from movierec.evaluation.split import AFTER  # noqa: E402
from movierec.ranking.popular import PopularRanker  # noqa: E402

K = 20


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _params(p: dict) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in p.items()) or "-"


def table(res: Results, params: dict[str, dict]) -> list[str]:
    """One row per candidate: HR@20 and NDCG@20 with CIs, and the paired difference to ``popular``."""
    lines = [f"| candidate (chosen on validation) | HR@{K} [95% CI] | NDCG@{K} [95% CI] | "
             f"- popular, HR@{K} [95% CI] | - popular, NDCG@{K} [95% CI] |", "|---|---|---|---|---|"]  # fmt: skip
    for name in res.models:
        m = res.metrics(name, K)
        cells = [f"{name} ({_params(params.get(name, {}))})",
                 f"{m['hit_rate']:.4f} [{m['hit_rate_low']:.4f}, {m['hit_rate_high']:.4f}]",
                 f"{m['ndcg']:.4f} [{m['ndcg_low']:.4f}, {m['ndcg_high']:.4f}]"]  # fmt: skip
        if name == "popular":
            cells += ["-", "-"]
        else:
            d = res.paired(name, "popular", K)
            cells += [f"{d['hit_rate']:+.4f} [{d['hit_rate_low']:+.4f}, {d['hit_rate_high']:+.4f}]",
                      f"{d['ndcg']:+.4f} [{d['ndcg_low']:+.4f}, {d['ndcg_high']:+.4f}]"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report(run: ColdRun, profiled: set[int]) -> str:
    out: list[str] = []
    for label, res, cut in (("validation", run.validation, run.validation_cut), ("test", run.test, run.test_cut)):
        users = {c.user_id for c in res.split.cases}
        zero = len({c.user_id for c in res.split.cases if not res.split.train[c.user_id]})
        out += ["", f"**{label}** (T = {_when(cut)}): {len(res.split.cases):,} cold cases, {len(users):,} users "
                    f"({zero:,} with nothing before T, {len(users & profiled):,} with a profile)", ""]  # fmt: skip
        out += table(res, run.params)
    with_movie = run.test.subset(lambda c: bool(c.history), "1-2 movies before the request")
    out += ["", f"**test, users with 1-2 movies** (the cases whose history is not empty): {len(with_movie.split.cases):,} "
                f"cases, {with_movie.split.n_users:,} users", ""]  # fmt: skip
    out += table(with_movie, run.params)
    out += ["", f"validation NDCG@{K} of every grid point:"]
    for name, trail in run.tuning.items():
        if trail:
            out.append(f"- {name}: " + ", ".join(f"{_params(t.params)}: {t.score:.4f}" for t in trail))
    return "\n".join(out)


def by_file(run: ColdRun, profiled: set[int]) -> str:
    """Per stream file: interactions before / after the test cut, users with a profile, and the HR@20 on the
    test cut's cold cases of a popular list built from that file's training interactions alone."""
    split = run.test.split
    out = ["", f"per file, test cut T = {_when(run.test_cut)} ({len(split.cases):,} cold cases):", "",
           f"| file | interactions before T | at or after T | users (with a profile) | its popular list, HR@{K} |",
           "|---|---|---|---|---|"]  # fmt: skip
    for path in stream_files():
        part = load_stream(files=[path], tie_seed=TIE_SEED)
        known = before(part, run.test_cut).users
        n_before = sum(len(h) for h in known.values())
        hr = "-"
        if n_before:
            ranked = evaluate({"file": PopularRanker.from_training(known, split.catalog)}, split, (K,), progress=False)
            hr = f"{ranked.metrics('file', K)['hit_rate']:.4f}"
        with_profile = len(set(part.users) & profiled)
        out.append(f"| {path.name} | {n_before:,} | {part.n_interactions - n_before:,} | {len(part.users):,} "
                   f"({with_profile:,}) | {hr} |")  # fmt: skip
    return "\n".join(out)


def served_spec(log: InteractionLog, source: str, embed: bool, params: dict | None) -> dict[str, ModelSpec]:
    """``collab-v2`` as served to a cold user, over the source's catalog index (``params``: fixed)."""
    from dataclasses import replace

    from movierec.ranking.collab import NAME
    from movierec.training.families import v2_spec

    catalog = "course" if source == "stream" else "movielens"
    index, to_index = catalog_index(catalog, extra_ids=log.catalog if catalog == "course" else (), embed=embed)
    if catalog == "course":
        spec, known = v2_spec(index, prior=load_prior()), frozenset(index.ids)
    else:
        spec, known = v2_spec(index, to_index), frozenset(to_index)
    if params is not None:
        spec = replace(spec, grid=(params,), quick_grid=None)
    return {NAME: as_served(spec, known)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("stream", "movielens"), default="stream")
    parser.add_argument("--after", type=float, default=AFTER, help="share of interactions after each cut (default %(default)s)")
    parser.add_argument("--by-file", action="store_true", help="stream: where the test cut's cold users come from")
    parser.add_argument("--served", action="store_true", help="also ranker v2 as served to a cold user")
    parser.add_argument("--no-embed", action="store_true", help="--served over an index without content vectors")
    parser.add_argument("--served-params", type=json.loads, default=None,
                        help='--served with these parameters, e.g. \'{"lam": 1000, "tau": 1e6, "beta": 0}\'')
    args = parser.parse_args()
    started = time.perf_counter()
    if args.source == "stream":
        log, profiles = load_stream(tie_seed=TIE_SEED), read_profiles()
    else:
        log, profiles = load_movielens(tie_seed=TIE_SEED), None
    print(f"{log.source}: {len(log.users):,} users, {log.n_interactions:,} interactions, {len(log.catalog):,} movies; "
          f"cuts leave {args.after:g} of the interactions after them")  # fmt: skip
    run = run_cold(log, profiles, args.after, served_spec(log, args.source, not args.no_embed, args.served_params) if args.served else None)
    print(report(run, set(profiles or ())))
    if args.by_file and args.source == "stream":
        print(by_file(run, set(profiles or ())))
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

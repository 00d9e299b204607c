"""How long ``movierec train``'s tuner takes on the course stream, and what it chooses.

The tuner exactly as the training job runs it (:func:`movierec.training.tuning.tune` over
:func:`~movierec.training.tuning.train_specs`), on the course stream's leave-last-out training part, over
the course-catalog index (``--no-embed``: the index without content vectors, when embedding is too slow
here), with MovieLens as prior data as ``movierec train`` offers it on course-id data (``--no-prior``:
without). Prints the seconds, the budget, the points the budget cut, each family's best validation
NDCG@20 and the chosen ranker v2 parameters, then the seconds of the job's two fits of the chosen v2
(the gate's candidate on the holdout's training part, the final model on everything). Issue 14's
target: tuning <= 5 min on 2 cores.

Run: ``PYTHONPATH=layers/common/python python bench/train_tuning.py [--budget 240] [--no-embed] [--no-prior]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from movierec.config import get_settings  # noqa: E402
from movierec.evaluation.interactions import TIE_SEED, load_prior, load_stream  # noqa: E402
from movierec.evaluation.served import catalog_index  # noqa: E402
from movierec.training.families import split_params  # noqa: E402
from movierec.training.gate import fresh_holdout  # noqa: E402
from movierec.training.job import training_catalog  # noqa: E402
from movierec.training.model import fit_collab  # noqa: E402
from movierec.training.side import side_features  # noqa: E402
from movierec.training.tuning import train_specs, tune  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=240.0)
    parser.add_argument("--no-embed", action="store_true")
    parser.add_argument("--no-prior", action="store_true")
    args = parser.parse_args()
    log = load_stream(tie_seed=TIE_SEED)
    prior = None if args.no_prior else load_prior()
    index, _ = catalog_index("course", extra_ids=log.catalog, embed=not args.no_embed)
    holdout = fresh_holdout(log, None)
    started = time.perf_counter()
    side = side_features(index)
    specs = train_specs(index, prior, get_settings().min_coverage, side)
    tuning = tune(holdout.train, training_catalog(index, log), specs, args.budget)
    print(f"tuned in {time.perf_counter() - started:.1f} s (budget {args.budget:g} s) on "
          f"{tuning.validation_cases} validation cases; budget cut: {tuning.skipped or 'nothing'}")
    print(json.dumps({"best_family": tuning.best_family, "best_baseline": tuning.best_baseline,
                      "validation_ndcg@20": {k: round(v, 4) for k, v in tuning.validation.items()},
                      "chosen_v2": tuning.params}, indent=1))  # fmt: skip
    fit, _ = split_params(tuning.params)
    for label, train in (("candidate (holdout's training part)", holdout.train), ("final (all data)", log.users)):
        t0 = time.perf_counter()
        model = fit_collab(train, fit, prior, side)
        print(f"fit {label}: {time.perf_counter() - t0:.1f} s, {len(model.vocab):,} movies, "
              f"{model.info['prior_users']} prior users")
    print(f"tuning + both fits: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()

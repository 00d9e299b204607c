"""``movierec train``: fit ranker v2 on the interactions, gate it, publish it as a new index version."""

from __future__ import annotations

import argparse

from movierec.config import get_settings
from movierec.dal.index_store import IndexMissingError
from movierec.datasets import DataMissingError


def _train(args: argparse.Namespace) -> int:
    from movierec.training.job import train

    exclude = None
    if args.exclude_suspected_shilling:
        from movierec.audit.mitigation import exclude_suspected_shilling as exclude
    try:
        outcome = train(get_settings(), source=args.source, promote=args.promote, interaction_filter=exclude,
                        from_snapshot=args.from_snapshot)
    except (IndexMissingError, DataMissingError, ValueError) as exc:
        print(f"movierec train: {exc}")
        return 1
    if outcome is None:
        print("movierec train: nothing new to learn (the current model learned every interaction already, or the gate "
              "refused a candidate trained on exactly these last time; the log says which); nothing to do")
        return 0
    gate, data = outcome.gate, outcome.manifest.build["training"]["data"]  # type: ignore[index]
    print(f"trained on {data['interactions']:,} interactions of {data['users']:,} users "
          f"({data['movies']:,} movies with learned neighbours) in {outcome.seconds:.1f} s")
    if outcome.tuning is not None:
        t = outcome.tuning
        scores = ", ".join(f"{name} {score:.4f}" for name, score in t.validation.items())
        cut = f"; budget cut {t.skipped}" if t.skipped else ""
        print(f"tuned in {t.seconds:.1f} s (budget {t.budget_s:g} s{cut}) on {t.validation_cases} validation cases, "
              f"best NDCG@20 per family: {scores}; chosen v2 {t.params}")
    print(f"gate on {gate.cases} fresh holdout cases: candidate {dict(gate.candidate)}, current {dict(gate.current)}, "
          f"best baseline {gate.baseline_name or '-'} {dict(gate.baseline)}")
    state = "PROMOTED (now current)" if outcome.promoted else "kept, NOT promoted"
    print(f"training data snapshot {outcome.manifest.build['training']['snapshot']}")  # type: ignore[index]
    print(f"version {outcome.version} (parent {outcome.base_version}): {state} — {gate.reason}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", epilog="example: movierec train --source dynamodb", help="tune and train ranker v2, gate it against the current version and the best baseline, publish it")
    parser.add_argument("--source", choices=("dynamodb", "movielens"), default="dynamodb",
                        help="interactions ingested by the running system (default) or MovieLens "
                             "ml-latest-small mapped to course ids")  # fmt: skip
    parser.add_argument("--promote", action=argparse.BooleanOptionalAction, default=True,
                        help="move the pointer when the gate passes (default); --no-promote only publishes")
    parser.add_argument("--exclude-suspected-shilling", action="store_true",
                        help="leave out the ratings the security audit flags as rating spam (docs/audits.md)")
    parser.add_argument("--from-snapshot", metavar="KEY", default=None,
                        help="refit on a stored training snapshot (the manifest's build.training.snapshot)")
    parser.set_defaults(func=_train)

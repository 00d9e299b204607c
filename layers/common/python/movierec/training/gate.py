"""The offline gate: a newly trained version becomes current only if it beats the current version AND
the best baseline.

The candidate, the current version's ranker (whatever the current manifest names: content v1, or an
earlier v2) and the best baseline of the tuner's validation split (:mod:`~.tuning`: popular, Markov,
EASE or ALS, refitted on the holdout's training part) answer the same FRESH temporal holdout through the
ranking interface: each user's last interaction, kept only when the current version's model did not
learn from it (:func:`fresh_holdout`), so no model has seen the answers (a current v2 that had would win
unfairly). "Did not learn from" is decided by the (user, movie) pairs of its training data, not by event
time: replayed or late-delivered events arrive with old times, and new users among them are exactly the
fresh cases a time cut would drop. The candidate is promoted when it reaches at least the current
version's hit rate AND NDCG at the answer size (20) on those cases, and at least the baseline's;
otherwise it is kept (published, not pointed to) and the reason says which comparison fell short. A
candidate that only equals a baseline we could serve more
simply is not worth a new version either, but ties do not happen on real data; ``>=`` keeps the rule
one rule. Too few fresh cases to judge (``min_cases``) also refuses: promoting on noise is worse than
waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from movierec.evaluation.interactions import InteractionLog
from movierec.evaluation.scoring import evaluate
from movierec.evaluation.split import Split, leave_last_out
from movierec.models.ranking import ANSWER_SIZE
from movierec.ranking.base import Ranker

METRICS = ("hit_rate", "ndcg")
MIN_CASES = 20


@dataclass(frozen=True)
class GateResult:
    promote: bool
    reason: str
    cases: int
    candidate: Mapping[str, float] = field(default_factory=dict)
    current: Mapping[str, float] = field(default_factory=dict)
    #: The best baseline's scores on the same cases, and its name ("" when none was compared).
    baseline: Mapping[str, float] = field(default_factory=dict)
    baseline_name: str = ""


def learned_pairs(log: InteractionLog) -> frozenset[tuple[int, str]]:
    """Every (user, movie) pair of ``log``: what a model fitted on it has seen."""
    return frozenset((user, i.movie_id) for user, history in log.users.items() for i in history)


def fresh_holdout(log: InteractionLog, learned: frozenset[tuple[int, str]] | None) -> Split:
    """Leave-last-out over ``log``; with ``learned`` (what the current model saw), only the cases whose
    target pair is not in it.

    The training part stays whole: it holds no case's target either way.
    """
    split = leave_last_out(log)
    if learned is None:
        return split
    fresh = tuple(c for c in split.cases if (c.user_id, c.target) not in learned)
    return replace(split, name=f"{split.name}, targets the current model did not learn", cases=fresh)


def decide(candidate: Mapping[str, float], current: Mapping[str, float] | None, cases: int,
           min_cases: int = MIN_CASES, baseline: Mapping[str, float] | None = None,
           baseline_name: str = "baseline") -> GateResult:  # fmt: skip
    """Promote when every gate metric of the candidate is >= the current's (no current: nothing to
    compare) and >= the best baseline's (no baseline given: nothing to compare)."""
    base = dict(baseline or {})
    name = baseline_name if baseline is not None else ""
    if cases < min_cases:
        return GateResult(False, f"only {cases} fresh holdout cases (< {min_cases}): too few to judge", cases,
                          candidate, current or {}, base, name)  # fmt: skip
    worse = []
    if current is not None:
        worse += [f"{m}@{ANSWER_SIZE} {candidate[m]:.4f} < current {current[m]:.4f}" for m in METRICS if candidate[m] < current[m]]
    if baseline is not None:
        worse += [f"{m}@{ANSWER_SIZE} {candidate[m]:.4f} < baseline {name} {base[m]:.4f}" for m in METRICS if candidate[m] < base[m]]
    if worse:
        return GateResult(False, "; ".join(worse), cases, candidate, current or {}, base, name)
    if current is None and baseline is None:
        return GateResult(True, "no current version to compare with", cases, candidate, {})
    summary = [f"{m}@{ANSWER_SIZE} {candidate[m]:.4f} >= current {current[m]:.4f}" for m in METRICS] if current is not None else ["no current version"]
    summary += [f"{m}@{ANSWER_SIZE} {candidate[m]:.4f} >= baseline {name} {base[m]:.4f}" for m in METRICS] if baseline is not None else []
    return GateResult(True, ", ".join(summary), cases, candidate, current or {}, base, name)


def run_gate(candidate: Ranker, current: Ranker | None, holdout: Split, min_cases: int = MIN_CASES,
             baseline: tuple[str, Ranker] | None = None) -> GateResult:  # fmt: skip
    """Score the candidate, the current ranker and the best baseline on ``holdout`` with the offline
    evaluation's scoring code and decide."""
    rankers = {"candidate": candidate} | ({"current": current} if current is not None else {})
    if baseline is not None:
        rankers["baseline"] = baseline[1]
    results = evaluate(rankers, holdout, (ANSWER_SIZE,), progress=False)

    def scores(name: str) -> dict[str, float]:
        m = results.metrics(name, ANSWER_SIZE)
        return {key: round(m[key], 6) for key in METRICS}

    return decide(scores("candidate"), scores("current") if current is not None else None, len(holdout.cases),
                  min_cases, scores("baseline") if baseline is not None else None,
                  baseline[0] if baseline is not None else "baseline")  # fmt: skip

"""The offline gate: a newly trained version becomes current only if it is at least as good.

Both the candidate and the current version's ranker (whatever the current manifest names: content v1,
or an earlier v2) answer the same FRESH temporal holdout through the ranking interface: each user's
last interaction, kept only when it happened after the current version's training data ended, so
neither model has seen the answers (a current v2 that had would win unfairly). The candidate is
promoted when it reaches at least the current version's hit rate AND NDCG at K = 20 on those cases;
otherwise it is kept (published, not pointed to) and the reason says which metric fell short.
Too few fresh cases to judge (``min_cases``) also refuses: promoting on noise is worse than waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from movierec.evaluation.interactions import InteractionLog
from movierec.evaluation.offline import evaluate
from movierec.evaluation.split import Split, leave_last_out
from movierec.ranking.base import Ranker

K = 20
METRICS = ("hit_rate", "ndcg")
MIN_CASES = 20


@dataclass(frozen=True)
class GateResult:
    promote: bool
    reason: str
    cases: int
    candidate: Mapping[str, float] = field(default_factory=dict)
    current: Mapping[str, float] = field(default_factory=dict)


def fresh_holdout(log: InteractionLog, since: float | None) -> Split:
    """Leave-last-out over ``log``; with ``since``, only cases whose target came after it.

    The training part stays whole: it holds no case's target either way.
    """
    split = leave_last_out(log)
    if since is None:
        return split
    fresh = tuple(c for c in split.cases if log.users[c.user_id][len(c.history)].last_seen > since)
    return replace(split, name=f"{split.name} after {since:.0f}", cases=fresh)


def decide(candidate: Mapping[str, float], current: Mapping[str, float] | None, cases: int,
           min_cases: int = MIN_CASES) -> GateResult:  # fmt: skip
    """Promote when every gate metric of the candidate is >= the current's (no current: promote)."""
    if cases < min_cases:
        return GateResult(False, f"only {cases} fresh holdout cases (< {min_cases}): too few to judge", cases,
                          candidate, current or {})  # fmt: skip
    if current is None:
        return GateResult(True, "no current version to compare with", cases, candidate, {})
    worse = [f"{m}@{K} {candidate[m]:.4f} < current {current[m]:.4f}" for m in METRICS if candidate[m] < current[m]]
    if worse:
        return GateResult(False, "; ".join(worse), cases, candidate, current)
    summary = ", ".join(f"{m}@{K} {candidate[m]:.4f} >= {current[m]:.4f}" for m in METRICS)
    return GateResult(True, summary, cases, candidate, current)


def run_gate(candidate: Ranker, current: Ranker | None, holdout: Split, min_cases: int = MIN_CASES) -> GateResult:
    """Score both rankers on ``holdout`` with the offline evaluation code and decide."""
    rankers = {"candidate": candidate} | ({"current": current} if current is not None else {})
    results = evaluate(rankers, holdout, (K,), progress=False)

    def scores(name: str) -> dict[str, float]:
        m = results.metrics(name, K)
        return {key: round(m[key], 6) for key in METRICS}

    return decide(scores("candidate"), scores("current") if current is not None else None, len(holdout.cases), min_cases)

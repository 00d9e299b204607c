"""Per-arm figures of an experiment from the answer log, its statistics over time, and the canary guard.

Pure: takes the online evaluation's :class:`~movierec.evaluation.online.Request` and
:class:`~movierec.evaluation.online.Watch` rows (``load_online``) and an :class:`Experiment`. A request
belongs to an arm when

- the API logged it in this experiment (source ``api``: the row's ``experiment``/``arm``), or
- it is a looped-replay answer (source ``stream:replay-<version>``, on the replayed clock) whose version
  one arm serves; the arm is then the version's (``Experiment.arm_of_version``).

Conversion and minutes are the online metric's (:func:`~movierec.evaluation.online.converted_minutes`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from movierec.evaluation.online import WINDOW_H, Request, Watch, converted_minutes, first_watches
from movierec.experiments import stats
from movierec.metrics import EXPERIMENT_CONVERSION_CONTROL, EXPERIMENT_CONVERSION_TREATMENT
from movierec.models.experiment import ARMS, CONTROL, TREATMENT, Experiment

REPLAY_PREFIX = "stream:replay-"


def arm_of(request: Request, experiment: Experiment) -> str | None:
    """The arm ``request`` was served by in ``experiment`` (None: not part of it)."""
    if request.source == "api":
        return request.arm if request.experiment == experiment.name else None
    if request.source.startswith(REPLAY_PREFIX):
        return experiment.arm_of_version(request.source[len(REPLAY_PREFIX):])
    return None


@dataclass
class ArmFigures:
    requests: int = 0
    errors: int = 0
    answered: int = 0
    converted: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    minutes: list[int] = field(default_factory=list)
    #: user -> (converted requests, answered requests): the bootstrap's resampling unit.
    per_user: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def users(self) -> int:
        return len(self.per_user)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def conversion(self) -> float:
        return self.converted / self.answered if self.answered else 0.0

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else 0.0

    @property
    def watch_minutes(self) -> int:
        return sum(self.minutes)


@dataclass(frozen=True)
class Look:
    """The cumulative state after one slice of the requests (in time order)."""

    at: float
    requests: int
    sequential: stats.Sequential


@dataclass(frozen=True)
class ExperimentAnalysis:
    experiment: Experiment
    window_h: float
    arms: dict[str, ArmFigures]
    ztest: stats.ZTest
    bootstrap: stats.Interval
    looks: list[Look]
    sample_size: int | None
    min_effect: float

    @property
    def final(self) -> stats.Sequential | None:
        return self.looks[-1].sequential if self.looks else None

    def metrics(self) -> dict[str, float]:
        """Each arm's conversion, as emitted by ``movierec experiment report --emit`` (function
        ``experiment``) for the dashboard's conversion panel."""
        return {
            EXPERIMENT_CONVERSION_CONTROL: round(self.arms[CONTROL].conversion, 6),
            EXPERIMENT_CONVERSION_TREATMENT: round(self.arms[TREATMENT].conversion, 6),
        }


def _add(fig: ArmFigures, r: Request, minutes: list[int]) -> None:
    fig.requests += 1
    answered = r.status == 200 and bool(r.movie_ids)
    # A degraded answer is a 200 for the user, but for a canary it is its version failing: count it.
    fig.errors += r.status >= 500 or r.status == 0 or r.degraded is not None
    if r.latency_ms is not None:
        fig.latencies_ms.append(r.latency_ms)
    if answered:
        fig.answered += 1
        fig.converted += bool(minutes)
        fig.minutes.extend(minutes)
        cell = fig.per_user[r.user_id]
        cell[0] += bool(minutes)
        cell[1] += 1


def analyse(experiment: Experiment, requests: Iterable[Request], watches: Iterable[Watch],
            window_h: float = WINDOW_H, looks: int = 24, min_effect: float = 0.02, tau: float = 0.05,
            alpha: float = 0.05, resamples: int = 2000) -> ExperimentAnalysis:  # fmt: skip
    """Every figure of the report; ``looks`` evenly spaced (by request count) cumulative mSPRT looks."""
    mine = sorted(((r, arm) for r in requests if (arm := arm_of(r, experiment))), key=lambda p: p[0].at)
    first = first_watches(watches)
    arms = {arm: ArmFigures() for arm in ARMS}
    marks = set(np.linspace(0, len(mine), looks + 1, dtype=int)[1:].tolist()) if mine else set()
    counts: list[tuple[float, int, tuple[int, int, int, int]]] = []
    for i, (r, arm) in enumerate(mine, start=1):
        _add(arms[arm], r, converted_minutes(r, first, window_h))
        if i in marks:
            c, t = arms[CONTROL], arms[TREATMENT]
            counts.append((r.at, i, (c.converted, c.answered, t.converted, t.answered)))
    sequential = stats.msprt([c for _, _, c in counts], tau=tau, alpha=alpha)
    c, t = arms[CONTROL], arms[TREATMENT]
    base = c.conversion
    try:
        needed = stats.sample_size(base, min_effect, alpha=alpha) if base > 0 else None
    except ValueError:
        needed = None
    return ExperimentAnalysis(
        experiment, window_h, arms,
        stats.two_proportion_ztest(c.converted, c.answered, t.converted, t.answered),
        stats.bootstrap_diff([tuple(v) for v in c.per_user.values()], [tuple(v) for v in t.per_user.values()],
                             resamples=resamples),
        [Look(at, n, s) for (at, n, _), s in zip(counts, sequential)],
        needed, min_effect,
    )  # fmt: skip


@dataclass(frozen=True)
class GuardVerdict:
    breached: bool
    reason: str


def check_guardrails(experiment: Experiment, requests: Sequence[Request]) -> GuardVerdict:
    """Whether the treatment arm breached the guardrails (error rate, p99 latency) against control.

    Uses the API's own answers only (source ``api``): they carry the latency the service measured.
    """
    g = experiment.guardrails
    arms = {arm: ArmFigures() for arm in ARMS}
    for r in requests:
        if r.source == "api" and (arm := arm_of(r, experiment)):
            _add(arms[arm], r, [])
    c, t = arms[CONTROL], arms[TREATMENT]
    if min(c.requests, t.requests) < g.min_requests:
        return GuardVerdict(False, f"too few requests to judge (control {c.requests}, treatment {t.requests}, "
                                   f"need {g.min_requests} each)")  # fmt: skip
    if t.error_rate > c.error_rate + g.max_error_rate_increase:
        return GuardVerdict(True, f"error rate {t.error_rate:.2%} vs control {c.error_rate:.2%} "
                                  f"(limit +{g.max_error_rate_increase:.2%})")  # fmt: skip
    limit = c.latency(99) * g.max_p99_ratio + g.p99_slack_ms
    if t.latency(99) > limit:
        return GuardVerdict(True, f"p99 latency {t.latency(99):.0f} ms vs control {c.latency(99):.0f} ms "
                                  f"(limit {limit:.0f} ms)")  # fmt: skip
    return GuardVerdict(False, f"within guardrails (errors {t.error_rate:.2%} vs {c.error_rate:.2%}, "
                               f"p99 {t.latency(99):.0f} vs {c.latency(99):.0f} ms)")  # fmt: skip

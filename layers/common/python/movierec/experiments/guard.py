"""The canary guard job: judge the running canary on its guardrails; breached -> roll back to control.

Rolling back = stopping the experiment (every user is served the current version again within the
refresh period), with the reason recorded on the experiment, logged as an error and counted as metric
``ExperimentRollback`` (function ``experiment``), which the ``experiment-rollback`` alarm watches.
Run by ``movierec experiment guard [--watch S]`` and, while ``make up`` runs, every minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from movierec.config import Settings
from movierec.metrics import EXPERIMENT_ROLLBACK
from movierec.dal.tables import Tables
from movierec.dal.experiment_store import running_experiment, stop_experiment
from movierec.evaluation.online import Request
from movierec.experiments.analysis import GuardVerdict, check_guardrails
from movierec.models.experiment import Experiment
from movierec.observability import MetricUnit, make_logger, make_metrics

FUNCTION = "experiment"
logger = make_logger("experiment-guard")


@dataclass(frozen=True)
class GuardOutcome:
    experiment: Experiment | None
    verdict: GuardVerdict | None
    rolled_back: bool


def experiment_requests(name: str, settings: Settings) -> list[Request]:
    """The API's logged answers of experiment ``name`` (a filtered Scan of the recommendations table)."""
    recommendations = Tables(settings).recommendations
    return [
        Request(int(i.user_id), float(i.at), i.source, int(i.status),
                tuple(m for m in (i.movie_ids or "").split(",") if m),
                None if i.latency_ms is None else float(i.latency_ms), i.version, i.experiment, i.arm, i.degraded)
        for i in recommendations.scan(recommendations.experiment == name)
    ]  # fmt: skip


def guard(settings: Settings) -> GuardOutcome:
    """One check of the running experiment; only a canary is rolled back automatically."""
    experiment = running_experiment(settings)
    if experiment is None or not experiment.canary:
        return GuardOutcome(experiment, None, False)
    verdict = check_guardrails(experiment, experiment_requests(experiment.name, settings))
    if not verdict.breached:
        return GuardOutcome(experiment, verdict, False)
    stopped = stop_experiment(settings, reason=f"rollback: {verdict.reason}")
    logger.error("canary rolled back to control", extra={"experiment": experiment.name, "reason": verdict.reason,
                                                        "control": experiment.control})  # fmt: skip
    metrics = make_metrics(FUNCTION)
    metrics.add_metric(name=EXPERIMENT_ROLLBACK, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    return GuardOutcome(stopped, verdict, True)

"""The guard function: the canary check, so a canary that breaches its guardrails is rolled back on AWS too.

On AWS an EventBridge schedule invokes it every minute (template.yaml); locally ``make up`` runs the same
check every minute (``infra/experiment_guard.py``) and ``movierec experiment guard`` runs it by hand. It judges the
running canary on its answers in the answer log and, when a guardrail is breached, stops the experiment
(every user gets the current version again within the API's refresh period) and counts
``ExperimentRollback``, which the ``experiment-rollback`` alarm watches (:mod:`movierec.experiments.guard`).
It runs from the recommend image (another command): the statistics need numpy, which the zip layer lacks.
"""

from __future__ import annotations

from typing import Any

from movierec.config import get_settings
from movierec.experiments.guard import guard


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = guard(get_settings())
    experiment, verdict = outcome.experiment, outcome.verdict
    return {
        "experiment": experiment.name if experiment is not None else None,
        "canary": bool(experiment is not None and experiment.canary),
        "verdict": verdict.reason if verdict is not None else None,
        "rolled_back": outcome.rolled_back,
    }

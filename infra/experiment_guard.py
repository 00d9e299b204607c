"""The ``experiment-guard`` component of ``make up``: the canary guard every minute (see
:mod:`movierec.experiments.guard`); a rollback prints one line to the console."""

from __future__ import annotations

from infra.ticker import Ticker
from movierec.config import Settings
from movierec.experiments.guard import GuardOutcome, guard


class ExperimentGuard(Ticker):
    name = "experiment-guard"

    def __init__(self, settings: Settings, interval_s: float = 60.0) -> None:
        super().__init__(interval_s)
        self.settings = settings

    def tick(self) -> GuardOutcome:
        outcome = guard(self.settings)
        if outcome.rolled_back and outcome.verdict is not None and outcome.experiment is not None:
            print(f"experiment-guard: canary {outcome.experiment.name} ROLLED BACK: {outcome.verdict.reason}", flush=True)
        return outcome

"""The serving side of experiments: which arm (and so which index version) a request is served by.

The running experiment is read from the store (:mod:`movierec.dal.experiment_store`) at most every
``index_refresh_s`` seconds in the background, like the index pointer, and its two versions are loaded
into the :class:`~movierec.dal.index_store.IndexStore` on that same background thread, so a start or
stop reaches every process within the refresh period and no request waits for a version download.
"""

from __future__ import annotations

from movierec.config import Settings
from movierec.dal.experiment_store import running_experiment
from movierec.dal.index_store import IndexStore
from movierec.reloaded import ReloadedValue
from movierec.experiments.assign import assign
from movierec.index.loaded import MovieIndex
from movierec.models.experiment import Assignment, Experiment
from movierec.observability import make_logger

EXPERIMENT_HEADER = "X-Experiment"
logger = make_logger("recommend")


class ExperimentRouter:
    def __init__(self, settings: Settings, store: IndexStore) -> None:
        self.settings = settings
        self.store = store
        self._running: ReloadedValue[Experiment | None] = ReloadedValue(self._load, settings.index_refresh_s, "experiment")

    def _load(self, old: Experiment | None) -> Experiment | None:
        """The running experiment with both versions loaded; on any failure the previous state."""
        try:
            experiment = running_experiment(self.settings)
            if experiment is not None:
                for version in (experiment.control, experiment.treatment):
                    self.store.version(version)
            if experiment != old:
                logger.info("experiment changed", extra={"experiment": experiment and experiment.to_dict()})
            return experiment
        except Exception:
            logger.exception("could not read the running experiment; keeping the previous one")
            return old

    def refresh(self) -> Experiment | None:
        """Read the store now (tests, process start)."""
        return self._running.reload()

    def assign(self, user_id: int) -> Assignment | None:
        """The arm of ``user_id`` in the running experiment (None when none runs)."""
        experiment = self._running.get()
        return None if experiment is None else assign(experiment, user_id)

    def index_for(self, assignment: Assignment | None) -> MovieIndex | None:
        """The index the arm serves (None: the current one)."""
        return None if assignment is None else self.store.version(assignment.version)

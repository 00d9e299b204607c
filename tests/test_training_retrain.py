"""The ``make up`` retrain component: a round on its own clock trains from DynamoDB and promotes v2."""

from __future__ import annotations

import time
from dataclasses import replace

from movierec.config import Settings
from movierec.dal.index_store import read_manifest, read_pointer
from movierec.index.build import BuildResult
from movierec.index.publish import publish
from infra.retrain import Retrainer
from tests._fixtures_index import settings  # noqa: F401
from tests._fixtures_training import ml_built, ml_slice, slice_log, write_histories  # noqa: F401


def test_retrainer_trains_on_its_schedule_and_stops(settings: Settings, ml_built: BuildResult, slice_log) -> None:  # noqa: F811
    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(slice_log)
    retrainer = Retrainer(replace(settings, retrain_every_min=0.01))  # a round every 0.6 s
    retrainer.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and read_pointer(settings) == ml_built.manifest.version:
            time.sleep(0.2)
    finally:
        retrainer.stop()
    assert read_manifest(read_pointer(settings), settings).ranker == "collab-v2"
    assert retrainer.rounds >= 1 and not retrainer._thread.is_alive()  # type: ignore[union-attr]


def test_retrainer_is_off_at_zero(settings: Settings) -> None:  # noqa: F811
    retrainer = Retrainer(replace(settings, retrain_every_min=0))
    retrainer.start()
    retrainer.stop()
    assert retrainer.rounds == 0 and retrainer._thread is None

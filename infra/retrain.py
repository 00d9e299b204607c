"""Keeping the index and the model current while ``make up`` runs, every ``MOVIEREC_RETRAIN_EVERY_MIN`` minutes.

A :class:`~infra.up.Component` (``start``/``stop``) with one daemon thread. Each round, in order:

0. re-bootstrap: tables, bucket, topic and alarms a storage restart lost are created again, and a lost
   index pointer is rebuilt from the on-disk embedding cache and republished (said loudly on stdout);

1. the index update, as ``movierec index update --from-dynamodb`` runs it: movie ids ingest has stored
   (the ``movies`` table holds every id seen in a watch or rate line) that the current index lacks are
   embedded and added as a new version, so movies new to the stream become recommendable and count as
   seeds;
2. the training job, as ``movierec train`` runs it (:func:`movierec.training.job.train`): fit v2 on the
   ingested interactions, gate against the current version, publish, promote or keep. A round with
   nothing new since the current model is skipped by the job.

Both steps publish through the pointer, one after the other in this one thread, so they never race;
the API picks a new version up through the pointer. A failed step is logged and the next round tries
again (a background job must never take the running system down). ``MOVIEREC_RETRAIN_EVERY_MIN=0``
switches it off.
"""

from __future__ import annotations

import threading

from movierec.config import Settings
from movierec.observability import make_logger

logger = make_logger("retrain")


class Retrainer:
    name = "retrain"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        every_min = self.settings.retrain_every_min
        if every_min <= 0:
            print("retrain: off (MOVIEREC_RETRAIN_EVERY_MIN=0)", flush=True)
            return
        print(f"retrain: every {every_min:g} minutes of ingest", flush=True)
        self._thread = threading.Thread(target=self._loop, args=(every_min * 60,), name="retrain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)  # a round in progress finishes its upload first

    def _loop(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.run_once()

    def run_once(self) -> None:
        """One round: index update, then train, gate, publish; report on stdout; never raise."""
        from movierec.training.job import train

        self.rounds += 1
        self._restore()
        self._update_index()
        try:
            outcome = train(self.settings, source="dynamodb")
        except Exception:
            logger.exception("retrain round failed; the next round tries again")
            return
        if outcome is None:
            print("retrain: nothing new since the current model", flush=True)
        else:
            state = "promoted" if outcome.promoted else "kept, not promoted"
            print(f"retrain: {outcome.version} {state} ({outcome.gate.reason})", flush=True)

    def _restore(self) -> None:
        """Re-create what a storage restart without its journal lost: resources, then the index.

        Both are idempotent and cheap when nothing is missing; a lost index is rebuilt from the on-disk
        embedding cache (seconds, not the first build's minutes) and republished, loudly.
        """
        from infra.bootstrap import bootstrap
        from movierec.index_job import ensure_index

        try:
            created = [str(o) for o in bootstrap(self.settings) if o.created]
            manifest, built = ensure_index(self.settings, progress=False)
        except Exception:
            logger.exception("re-bootstrap failed; the next round tries again")
            return
        for line in created:
            print(f"retrain: storage had lost it, re-created: {line}", flush=True)
        if built:
            print(f"retrain: no index was published (storage lost it); rebuilt {manifest.version} from the cache",
                  flush=True)  # fmt: skip

    def _update_index(self) -> None:
        """Add the movie ids the stream introduced to the index (embedding needs torch: a local job)."""
        from movierec.index_job import ids_missing_from_index, update_published

        try:
            missing = ids_missing_from_index(self.settings)
            manifest = update_published(missing, self.settings, progress=False) if missing else None
        except Exception:
            logger.exception("index update failed; the next round tries again")
            return
        if manifest is not None:
            print(f"index: {len(missing)} movie ids first seen in the stream added -> {manifest.version}", flush=True)

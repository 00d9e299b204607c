"""Retraining while ``make up`` runs: every ``MOVIEREC_RETRAIN_EVERY_MIN`` minutes of ingest, train v2.

A :class:`~infra.up.Component` (``start``/``stop``) with one daemon thread. Each round reads the
ingested interactions from DynamoDB and runs the same job as ``movierec train``
(:func:`movierec.training.job.train`): fit, gate against the current version, publish, promote or keep.
A round with nothing new since the current model is skipped by the job; a failed round is logged and
the next one tries again (a retrain must never take the running system down). The API picks a promoted
version up through the pointer. ``MOVIEREC_RETRAIN_EVERY_MIN=0`` switches it off.
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
        """One round: train, gate, publish; report the outcome on stdout; never raise."""
        from movierec.training.job import train

        self.rounds += 1
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

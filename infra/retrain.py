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
   nothing new since the current model, or since the candidate the gate refused last round, is skipped
   by the job.

Both steps publish through the pointer, one after the other in this one thread, and a round holds
``make up``'s publishing lock (shared with the background content step of ``infra/index_step.py``), so
no two publishers race; the API picks a new version up through the pointer. A failed step is logged and
the next round tries again (a background job must never take the running system down).
``MOVIEREC_RETRAIN_EVERY_MIN=0`` switches it off.

First start: until the current version carries a trained model, rounds come every :data:`WARMUP_S`
seconds instead; a round with too little ingested data to fit a model says so and does nothing. So the
collaborative ranker replaces the first start's popular list within a minute or two of ingest. Those
rounds run step 1 too, so the first model already knows the movies new to the stream: on the course
files 3,005 of the 19,965 movies, whose absence cost HR@20 0.1500 -> 0.1112 on what the system ingested
(docs/evaluation.md, "Current numbers: dynamodb"). Until 2026-12-07 they skipped it, and the first model
went without them until the first regular round, 10 minutes later: the update publishes a version each
round that finds new ids (on the catalog version, without content, nothing is embedded: seconds), which
grew storage for good before versions were pruned (``MOVIEREC_INDEX_KEEP_VERSIONS``) and the journal
compacted.

Step 2 runs in a child process (spawned, with this process's settings): a training job holds the GIL
for minutes of numpy and Python, and a stop must not depend on it reaching its next check.

Stopping: ``stop`` sets the event the training job checks between its steps (and before every tuning
point), so a round in progress ends at the next safe point with nothing published
(:class:`~movierec.models.cancel.Cancelled`); a child still running :data:`CHILD_GRACE_S` later (inside
a fit or the gate, which cannot be interrupted, or on a loaded machine still importing its libraries) is
terminated — safe, since a version's pointer moves only after its upload is complete, so at worst an
unreferenced version folder is left. The terminated child cannot say what it did, so the round's last
line compares the pointer with what it named before the round. Step 1 (embedding
a few new movies) is not cancellable; ``stop`` waits :data:`STOP_JOIN_S` for it and then leaves it to end
with the process (the same pointer rule holds).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from movierec.config import Settings
from movierec.models.cancel import Cancelled
from movierec.observability import make_logger

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as ProcessEvent

    from movierec.index.manifest import Manifest

logger = make_logger("retrain")
#: Seconds between rounds while the current version has no trained model yet (a first start).
WARMUP_S = 15.0
#: Longest ``stop`` waits for a round to reach its next safe point.
STOP_JOIN_S = 10.0
#: Seconds a training child gets after the stop to end at a safe point before it is terminated.
CHILD_GRACE_S = 5.0
#: What :meth:`Retrainer._pointer` says when the pointer cannot be read (not a version name: those are timestamps).
UNREADABLE = "(unreadable)"


def _orphan_watch(stop: "ProcessEvent", parent: int) -> None:
    """In the child: when the parent is gone (killed), stop the job, and end the child if the job does not
    stop within the grace — an orphan must not publish or promote for a system that is no longer there."""
    while os.getppid() == parent:
        time.sleep(0.5)
    stop.set()
    time.sleep(CHILD_GRACE_S)
    os._exit(1)


def _train_child(settings: Settings, stop: "ProcessEvent", answer: Connection, parent: int) -> None:
    """The training step, in the child: run the job, send back ``(kind, text)`` — ``trained`` (version,
    promoted or not, the gate's reason), ``unchanged``, ``cancelled`` (where), ``too-little`` or ``failed``
    (the traceback goes to the log here)."""
    from movierec.training.job import train
    from movierec.training.model import NotEnoughData

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    threading.Thread(target=_orphan_watch, args=(stop, parent), name="orphan-watch", daemon=True).start()
    try:
        outcome = train(settings, source="dynamodb", stop=stop)  # type: ignore[arg-type]  # an Event across processes
    except Cancelled as exc:
        answer.send(("cancelled", exc.where))
    except NotEnoughData as exc:
        answer.send(("too-little", str(exc)))
    except Exception:
        logger.exception("retrain round failed; the next round tries again")
        answer.send(("failed", ""))
    else:
        if outcome is None:
            answer.send(("unchanged", ""))
        else:
            state = "promoted" if outcome.promoted else "kept, not promoted"
            answer.send(("trained", f"{outcome.version} {state} ({outcome.gate.reason})"))


class Retrainer:
    name = "retrain"

    def __init__(self, settings: Settings, publishing: threading.Lock | None = None) -> None:
        self.settings = settings
        self.publishing = publishing or threading.Lock()
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
        """Cancel a round in progress at its next safe point, and end the loop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_JOIN_S)
            if self._thread.is_alive():
                logger.warning("retrain round still in a step that cannot be cancelled; it ends with the process")

    def _loop(self, every_s: float) -> None:
        while not self._stop.wait(every_s if self._has_model() else min(every_s, WARMUP_S)):
            self.run_once()

    def _current(self) -> "Manifest | None":
        """The current version's manifest (None when there is none or it cannot be read now)."""
        from movierec.dal.index_store import read_manifest

        version = self._pointer()
        if version is None or version == UNREADABLE:
            return None
        try:
            return read_manifest(version, self.settings)
        except Exception:
            return None

    def _pointer(self) -> str | None:
        """The index pointer's version, None when there is none; :data:`UNREADABLE` when storage fails now."""
        from movierec.dal.index_store import read_pointer

        try:
            return read_pointer(self.settings)
        except Exception:
            return UNREADABLE

    def _published_since(self, before: str | None) -> str:
        """What a terminated round left behind, from the pointer itself rather than from the child (which
        was terminated without answering): a version is published exactly when the pointer names it."""
        now = self._pointer()
        if UNREADABLE in (before, now):
            return "whether it published is unknown (the index pointer could not be read)"
        return "nothing published" if now == before else f"{now} was published before the stop took effect"

    def _has_model(self) -> bool:
        """True when the current version carries a trained model."""
        current = self._current()
        return current is not None and "training" in current.build

    def run_once(self) -> None:
        """One round: index update, then train, gate, publish; report on stdout; never raise."""
        with self.publishing:
            self._round()

    def _round(self) -> None:
        self.rounds += 1
        self._restore()
        self._update_index()
        print(f"retrain: round {self.rounds}: training on the ingested interactions", flush=True)
        before = self._pointer()
        kind, text = self._train_in_child()
        if kind == "trained":
            print(f"retrain: {text}", flush=True)
        elif kind == "unchanged":
            print("retrain: nothing new since the current model or the candidate the gate refused last", flush=True)
        elif kind == "cancelled":
            print(f"retrain: round stopped ({text}); nothing published", flush=True)
        elif kind == "too-little":
            print(f"retrain: not enough ingested yet ({text}); the next round tries again", flush=True)
        elif kind == "terminated":
            print(f"retrain: round stopped (terminated {CHILD_GRACE_S:g} s after the stop, still starting or "
                  f"inside a step that cannot be cancelled); {self._published_since(before)}", flush=True)  # fmt: skip
        elif kind == "lost":
            logger.error("retrain child ended without an answer; the next round tries again")

    def _train_in_child(self) -> tuple[str, str]:
        """Run the training step in a spawned child until it answers, or stop it: the child's answer, or
        ``terminated`` (the stop's grace ran out) or ``lost`` (it died without answering)."""
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_train_child, args=(self.settings, stop, send, os.getpid()), name="retrain-train",
                                daemon=True)  # fmt: skip
        child.start()
        send.close()
        try:
            while not receive.poll(0.2):
                if not child.is_alive():
                    if receive.poll():
                        return receive.recv()
                    return ("terminated", "") if self._stop.is_set() else ("lost", "")
                if self._stop.is_set() and not stop.is_set():
                    stop.set()
                    child.join(CHILD_GRACE_S)
                    if child.is_alive():
                        child.terminate()
                        child.join()
                        return "terminated", ""
            return receive.recv()
        except EOFError:
            return "lost", ""
        finally:
            receive.close()
            child.join(STOP_JOIN_S)

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
        """Add the movie ids the stream introduced to the index (as the deployed train function does first)."""
        from movierec.index_job import add_stream_movies

        try:
            added, manifest = add_stream_movies(self.settings)
        except Exception:
            logger.exception("index update failed; the next round tries again")
            return
        if manifest is not None:
            print(f"index: {added} movie ids first seen in the stream added -> {manifest.version}", flush=True)

"""``make up``'s index step: build and publish the course catalog's index when none is published.

The first ``make up`` embeds the whole course catalog (minutes on 2 cores; later builds reuse the
on-disk embedding cache); every later start finds the pointer and does nothing. The build runs on a
daemon thread and ``start`` waits for it *or* the stop event, so Ctrl-C / SIGTERM end ``make up`` in
the middle of the embedding instead of after it: the half-built version is never published (the
pointer moves only after a complete upload), and the embeddings computed so far stay in the cache.
"""

from __future__ import annotations

import threading

from movierec.config import Settings
from movierec.index_job import ensure_index
from movierec.index.manifest import Manifest


class IndexInterrupted(RuntimeError):
    """The stop event came before the index was ready (``make up`` is stopping)."""


class EnsureIndex:
    """A :class:`~infra.up.Component` that runs once at start (nothing to stop)."""

    name = "index"

    def __init__(self, settings: Settings, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop_event = stop or threading.Event()

    def start(self) -> None:
        result: list[tuple[Manifest, bool]] = []
        failure: list[BaseException] = []

        def build() -> None:
            try:
                result.append(ensure_index(self.settings))
            except BaseException as exc:  # handed to the waiting thread, which raises it
                failure.append(exc)

        worker = threading.Thread(target=build, name="index-build", daemon=True)
        worker.start()
        while worker.is_alive() and not self.stop_event.wait(0.2):
            pass
        if failure:
            raise failure[0]
        if not result:
            raise IndexInterrupted("stopped while the index was being built; the next `make up` resumes from the embedding cache")
        manifest, built = result[0]
        what = "built and published" if built else "found"
        print(f"index {manifest.version} ({manifest.rows} movies, ranker {manifest.ranker}) {what}", flush=True)

    def stop(self) -> None:
        """Nothing runs after start (an interrupted build's daemon thread ends with the process)."""

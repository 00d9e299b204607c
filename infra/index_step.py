"""``make up``'s index step: an index to serve within seconds, its content computed in the background.

When no index is published yet, :func:`movierec.index_job.ensure_index` publishes one of the course
catalog at once: built whole if the embedding cache already holds every movie's text, otherwise a
catalog version without content, served by the popular list (seconds instead of the minutes it takes
to embed 16,960 movies on 2 cores). The API starts on it right away, and the retrain loop
(``infra/retrain.py``) can train the collaborative ranker onto it as soon as enough is ingested.

Meanwhile the catalog is embedded into the on-disk cache by a child process at a lower CPU priority
(``python -m infra.index_step``: a process, not a thread, so its priority cannot hold the GIL away from
ingest and serving, and stopping it is a signal, not a wait for a chunk). When it is done, a thread of
this component, holding ``make up``'s publishing lock so no training round publishes at the same moment,
computes the neighbour lists of whatever version is current by then and publishes it
(:func:`movierec.index_job.embed_published`): a trained model and its ranker are kept, a catalog version
becomes ``content-v1``. The API swaps to it through the pointer.

Ctrl-C / SIGTERM: the child is terminated (the cache only ever gets whole shards, by rename: what was
embedded so far is kept for the next start) and the neighbour step stops at its next block; the pointer
moves only after a complete upload.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from movierec.config import REPO_ROOT, Settings
from movierec.index.manifest import Manifest
from movierec.index_job import embed_published, ensure_index, fill_embedding_cache
from movierec.models.cancel import Cancelled
from movierec.observability import make_logger

logger = make_logger("index")
#: The nice value of the embedding child (it yields the CPU to ingest and serving).
BACKGROUND_NICE = 10
#: Seconds between retries of a failed background step (storage restarting, ...).
RETRY_S = 30.0
#: Seconds ``stop`` gives the child after SIGTERM before SIGKILL, and the publishing thread to end.
STOP_GRACE_S = 3.0


class IndexInterrupted(RuntimeError):
    """The stop event came before the first index was published (``make up`` is stopping)."""


class EnsureIndex:
    """A :class:`~infra.up.Component`: the first index at start, its content in the background."""

    name = "index"

    def __init__(self, settings: Settings, stop: threading.Event | None = None,
                 publishing: threading.Lock | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.stop_event = stop or threading.Event()
        self.publishing = publishing or threading.Lock()
        self._content: threading.Thread | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._child_lock = threading.Lock()
        #: The version with content that the background step published (None until then).
        self.content_version: str | None = None

    def start(self) -> None:
        result: list[tuple[Manifest, bool]] = []
        failure: list[BaseException] = []

        def first() -> None:
            try:
                with self.publishing:
                    result.append(ensure_index(self.settings))
            except BaseException as exc:  # handed to the waiting thread, which raises it
                failure.append(exc)

        worker = threading.Thread(target=first, name="index-first", daemon=True)
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
        if not manifest.has_content:
            print("content index: embedding the catalog in the background; the popular list serves meanwhile", flush=True)
            self._content = threading.Thread(target=self._add_content, name="index-content", daemon=True)
            self._content.start()

    def stop(self) -> None:
        """Terminate the embedding child and stop the publishing step at its next safe point."""
        self.stop_event.set()
        with self._child_lock:
            child = self._child
        if child is not None and child.poll() is None:
            _signal_group(child, signal.SIGTERM)
            try:
                child.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        if self._content is not None:
            self._content.join(timeout=STOP_GRACE_S)

    def _add_content(self) -> None:
        """Embed in the child, then publish the current version with content; retry on failure."""
        while not self.stop_event.is_set():
            try:
                if self._embed_in_child() != 0:
                    if self.stop_event.is_set():
                        break
                    raise RuntimeError("the embedding process failed (its log: logs/embed.log in the run folder)")
                with self.publishing:
                    manifest = embed_published(self.settings, self.stop_event, progress=False)
            except Cancelled as exc:
                print(f"content index: stopped ({exc.where}); nothing published", flush=True)
                return
            except Exception:
                logger.exception("content index failed; retrying", extra={"retry_s": RETRY_S})
                self.stop_event.wait(RETRY_S)
                continue
            if manifest is not None:
                self.content_version = manifest.version
                print(f"content index: {manifest.version} published (ranker {manifest.ranker}, "
                      f"{manifest.build.get('embedded')} texts embedded in the last step)", flush=True)  # fmt: skip
            return
        print("content index: stopped while embedding; the next `make up` resumes from the embedding cache", flush=True)

    def _embed_in_child(self) -> int:
        """Run the embedding child to its end (or until stopped); its exit code."""
        log_dir = self.settings.run_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "embed.log", "ab") as log, self._child_lock:
            if self.stop_event.is_set():
                return 1
            self._child = subprocess.Popen([sys.executable, "-m", "infra.index_step"], cwd=REPO_ROOT,
                                           stdout=None, stderr=log, start_new_session=True)  # fmt: skip
        return self._child.wait()


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


class _Progress:
    """Prints the embedding's progress about every tenth of the way (no progress bar: it would redraw
    over ``make up``'s other output); ends the child when its parent is gone (a SIGKILLed ``make up``)."""

    def __init__(self) -> None:
        self._next = 0.0
        self._parent = os.getppid()

    def __call__(self, done: int, total: int) -> None:
        if os.getppid() != self._parent:
            raise SystemExit("make up is gone")
        if done >= self._next or done == total:
            print(f"content index: embedded {done} of {total} movies", flush=True)
            self._next = done + max(total / 10, 1)


def main() -> int:
    """The embedding child: the current version's texts into the cache, at a low priority."""
    from infra.localenv import use_local_stack

    try:
        os.nice(BACKGROUND_NICE)
    except OSError:  # not allowed: run at normal priority
        pass
    fill_embedding_cache(use_local_stack(), report=_Progress())
    return 0


if __name__ == "__main__":
    sys.exit(main())

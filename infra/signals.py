"""Ctrl-C and SIGTERM for the long-running commands (``movierec up``, ``ingest``, ``metrics``), in one place.

CPython runs a Python signal handler in the main thread only, and only when that thread executes
bytecode. The kernel may deliver a process-directed signal to any thread that does not block it. If it
lands on another thread, a main thread parked in an untimed wait (``Event.wait()``) is not woken, and the
handler never runs (python/cpython#85300). CI once saw ``movierec up`` outlive a SIGTERM by 300 s without
one component stopping, the main thread parked in exactly that wait. So :func:`wait_for_stop` waits in
slices of :data:`WAKE_S`: wherever the signal was delivered, the handler runs by the end of the slice.

SIGUSR1 prints every thread's Python stack to stderr (``faulthandler``): ``kill -USR1 <pid>`` shows where
a process that does not stop is waiting, and the stop tests send it before they give up on a process.
"""

from __future__ import annotations

import faulthandler
import signal
import threading

#: Longest a stop signal delivered to a thread other than the main one waits for its handler.
WAKE_S = 0.5


def stop_on_signals() -> threading.Event:
    """An event that SIGINT or SIGTERM sets; SIGUSR1 dumps the threads' stacks. Call from the main thread."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return stop


def wait_for_stop(stop: threading.Event) -> None:
    """Block the main thread until ``stop`` is set, waking every :data:`WAKE_S` so a pending handler runs."""
    while not stop.wait(WAKE_S):
        pass

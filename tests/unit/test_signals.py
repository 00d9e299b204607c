"""A stop signal that the kernel delivers to a thread other than the main one still stops the command.

CPython runs the Python handler in the main thread only; a main thread parked in an untimed wait is not
woken when the signal lands elsewhere (python/cpython#85300). ``signal.pthread_kill`` aims the signal at a
sleeping worker thread, the way the kernel may; the main thread, in :func:`infra.signals.wait_for_stop`,
must still see the stop. Each case runs in a child process: signal handlers belong to a main thread, and
the test's own must stay pytest's.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from movierec.config import REPO_ROOT
from tests.fixtures.timeouts import TEST_TIMEOUT_S

CHILD = """
import signal, sys, threading, time
from infra.signals import stop_on_signals, wait_for_stop

stop = stop_on_signals()
worker = threading.Thread(target=time.sleep, args=(3600,), daemon=True)
worker.start()
threading.Timer(0.2, signal.pthread_kill, args=(worker.ident, int(sys.argv[1]))).start()
wait_for_stop(stop)
print("stopped", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_taken_by_another_thread_still_ends_the_wait(sig: signal.Signals) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(int(sig))], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=TEST_TIMEOUT_S)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "stopped\n", (done.stdout, done.stderr)


def test_sigusr1_prints_every_threads_stack_and_keeps_running() -> None:
    """The diagnosis of a process that does not stop: its threads' Python stacks, on demand."""
    child = CHILD.replace("wait_for_stop(stop)", "signal.raise_signal(signal.SIGUSR1)\nwait_for_stop(stop)")
    done = subprocess.run([sys.executable, "-c", child, str(int(signal.SIGTERM))], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=TEST_TIMEOUT_S)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "stopped\n", (done.stdout, done.stderr)
    assert done.stderr.count("Thread 0x") >= 2, done.stderr  # the main thread and the sleeping worker
    assert "(most recent call first)" in done.stderr, done.stderr

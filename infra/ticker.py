"""A ``make up`` component that does one thing every few seconds on its own thread.

The local stand-in for schedules AWS runs for us (EventBridge rules, CloudWatch's alarm evaluation, EMF
extraction): the work runs on the timer whether or not anything reads its result. Not to be confused with
:class:`movierec.reloaded.ReloadedValue`, which reloads a value only when a reader finds it stale.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Ticker:
    """Calls :meth:`tick` every ``interval_s`` seconds on a daemon thread between ``start()`` and ``stop()``.

    A failing tick is logged and retried at the next interval: a local service restarting must not end a
    component that the rest of the system relies on.
    """

    name = "ticker"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 60)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception as exc:  # one line, not a traceback every interval while a service is down
                log.warning("%s failed (%s: %s); retrying in %.0fs", self.name, type(exc).__name__, exc, self.interval_s)

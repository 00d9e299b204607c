"""A value reloaded at most every N seconds, in the background, swapped in whole.

Serving code reads slowly-changing shared state (the index, the popularity list) on every request; it
must not pay for reloading it, nor ever see half of it. The first load is synchronous (there is nothing
to serve before it); afterwards a read that finds the value older than ``every_s`` starts one background
reload and returns the current value at once. A failed background reload keeps the old value and is
logged; the next due read tries again.

It lives at the bottom of the package (beside config and observability), not in ``dal/``: it reads no
store itself, it only decides *when* a loader runs, so the data layer (the index store) and the serving
layer (popularity, the running experiment) both use it. Not to be confused with
:class:`infra.ticker.Ticker`, which calls a local component's work on a timer whether or not anyone reads.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

from movierec.observability import make_logger

T = TypeVar("T")
logger = make_logger("reloaded")


class ReloadedValue(Generic[T]):
    """One value of type ``T``, reloaded on read when older than ``every_s`` (see the module docstring)."""

    def __init__(self, load: Callable[[T | None], T], every_s: float, name: str) -> None:
        """``load(old)`` returns the new value (or ``old`` itself when nothing changed)."""
        self._load = load
        self.every_s = every_s
        self.name = name
        self._value: T | None = None
        self._loaded = False
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._busy = False

    @property
    def loaded(self) -> T | None:
        """The current value without loading anything (None before the first load)."""
        return self._value

    def get(self) -> T:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._reload()
            return self._value  # type: ignore[return-value]
        if time.monotonic() - self._checked_at >= self.every_s:
            self._start_background()
        return self._value  # type: ignore[return-value]

    def reload(self) -> T:
        """Load now, in this thread (jobs, tests, the first request)."""
        with self._lock:
            self._reload()
        return self._value  # type: ignore[return-value]

    def _reload(self) -> None:
        self._checked_at = time.monotonic()
        value = self._load(self._value)
        self._value, self._loaded = value, True  # one assignment: readers see old or new, whole

    def _start_background(self) -> None:
        with self._lock:
            if self._busy:
                return
            self._busy = True
            self._checked_at = time.monotonic()
        threading.Thread(target=self._background, name=f"reload-{self.name}", daemon=True).start()

    def _background(self) -> None:
        try:
            with self._lock:
                self._reload()
        except Exception:
            logger.exception("background reload failed; keeping the current value", extra={"value": self.name})
        finally:
            self._busy = False

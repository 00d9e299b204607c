"""Polling for a condition: the one wait helper of the tests and the benchmarks.

A wait that polls ends as soon as its condition holds, so a generous limit costs nothing when things go
well and only delays the report of a real failure. That is why tests and benchmarks poll instead of
sleeping a fixed time (which is either too short on a loaded machine or wasted on an idle one). The
limit is the caller's: the tests take theirs from ``tests/fixtures/timeouts.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout_s: float, every_s: float = 0.3) -> bool:
    """Poll ``predicate`` every ``every_s`` seconds until it holds or ``timeout_s`` passed; its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return bool(predicate())

"""Cancelling a long job at a safe point: the one type every job and its caller share.

A job that runs for seconds to minutes (embedding the catalog, a training round) takes a ``stop`` event
and calls :func:`checkpoint` between steps whose effect is either complete or not yet visible to anyone
(an embedding batch written to the cache, a model fitted in memory). So Ctrl-C / SIGTERM of ``make up``
ends it within one step, and nothing half-done is ever published: a pointer only moves after the last
checkpoint.
"""

from __future__ import annotations

import threading


class Cancelled(RuntimeError):
    """The job's stop event was set; it stopped at a safe point (``where`` names it) with nothing published."""

    def __init__(self, where: str) -> None:
        super().__init__(f"cancelled {where}")
        self.where = where


def checkpoint(stop: threading.Event | None, where: str) -> None:
    """Raise :class:`Cancelled` when ``stop`` is set (None: never cancelled)."""
    if stop is not None and stop.is_set():
        raise Cancelled(where)

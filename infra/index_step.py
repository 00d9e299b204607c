"""``make up``'s index step: build and publish the course catalog's index when none is published.

The first ``make up`` embeds the whole course catalog (minutes on 2 cores; later builds reuse the
on-disk embedding cache); every later start finds the pointer and does nothing.
"""

from __future__ import annotations

from movierec.config import Settings
from movierec.index.jobs import ensure_index


class EnsureIndex:
    """A :class:`~infra.up.Component` that runs once at start (nothing to stop)."""

    name = "index"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def start(self) -> None:
        manifest, built = ensure_index(self.settings)
        what = "built and published" if built else "found"
        print(f"index {manifest.version} ({manifest.rows} movies, ranker {manifest.ranker}) {what}", flush=True)

    def stop(self) -> None:
        """Nothing runs after start."""

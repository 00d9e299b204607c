"""The local schedule of the gauges function: what EventBridge does on AWS, every ``interval_s`` seconds.

It exists because nothing schedules functions locally; it computes nothing itself (the figures are
:mod:`movierec.gauges`, reached through the real handler), like the other ``make up`` samplers.
"""

from __future__ import annotations

from movierec.config import Settings
from infra.handlers import load_handler
from infra.ticker import Ticker


class GaugeSampler(Ticker):
    """The ``gauges`` component of ``make up``: invokes the gauges handler in-process (EMF to the sink)."""

    name = "gauges"

    def __init__(self, settings: Settings, interval_s: float = 60.0) -> None:
        super().__init__(interval_s)
        self.settings = settings
        self.handler = load_handler("gauges")

    def tick(self) -> dict:
        return self.handler({"source": "local-schedule"}, None)

"""The local schedules of the scheduled functions: what EventBridge rules do on AWS, every ``interval_s`` seconds.

They exist because nothing schedules functions locally. They compute nothing themselves: each invokes the
function's real handler in-process (its EMF goes to the process's sink), so the figures are the
function's own (:mod:`movierec.gauges` for ``gauges``, :mod:`movierec.audit` for ``audit``).
"""

from __future__ import annotations

from movierec.config import Settings
from infra.handlers import load_handler
from infra.ticker import Ticker


class ScheduledFunction(Ticker):
    """A ``make up`` component that invokes the handler of :attr:`function` on every tick."""

    function = ""

    def __init__(self, settings: Settings, interval_s: float = 60.0) -> None:
        super().__init__(interval_s)
        self.settings = settings
        self.handler = load_handler(self.function)

    def tick(self) -> dict:
        return self.handler({"source": "local-schedule"}, None)


class GaugeSampler(ScheduledFunction):
    """The ``gauges`` component of ``make up``: index age and quarantine size, every minute."""

    name = function = "gauges"


class AuditSampler(ScheduledFunction):
    """The ``audit`` component of ``make up``: the security audit's live signals (docs/audits.md)."""

    name = function = "audit"

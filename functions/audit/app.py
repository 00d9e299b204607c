"""The audit function: the security audit's signals of the most recent window, as metrics.

On AWS an EventBridge schedule invokes it every 5 minutes (template.yaml); locally ``make up`` invokes it
in-process every minute (``infra/scheduled.py``). It reads the ratings and the recent answer log,
computes :func:`movierec.audit.security.live_signals` (the same statistics as ``movierec audit
security``) and emits them as EMF; the ``audit-*`` alarms of :mod:`movierec.alarms` watch them.
"""

from __future__ import annotations

import time
from typing import Any

from movierec.audit.security import ScrapingParams, live_signals
from movierec.config import get_settings
from movierec.dal.audit_reads import read_api_calls, read_ratings
from movierec.dal.tables import Tables
from movierec.observability import MetricUnit, make_metrics

metrics = make_metrics("audit")


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, float]:
    now = time.time()
    tables = Tables(get_settings())
    ratings = read_ratings(tables)
    calls = read_api_calls(tables, since=now - ScrapingParams().window_s)
    values = live_signals(ratings.ratings, ratings.first_seen, calls, now)
    for name, value in values.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return values

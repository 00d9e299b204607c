"""The drift job: read the stored stream facts, compare the latest window with its reference window,
emit the figures as CloudWatch metrics (function ``drift``; alarms ``drift-ratings`` and
``drift-unseen-movies`` in :mod:`movierec.alarms`). Run by ``movierec drift [--emit]``.

Times are event times (the stream lines' own timestamps), so a replay of old data drifts on its own
clock: by default the current window ends at the latest event stored.
"""

from __future__ import annotations

import math

from movierec.config import Settings
from movierec.dal.tables import Tables
from movierec.dal.history import scan_states
from movierec.dal.index_store import download_version, read_pointer
from movierec.drift.stats import DriftReport, compare, window_data
from movierec.index.loaded import load_index
from movierec.observability import MetricUnit, make_metrics

FUNCTION = "drift"


def run_drift(settings: Settings, window_h: float = 1.0, reference_h: float = 24.0, end: float | None = None,
              emit: bool = False) -> DriftReport:  # fmt: skip
    """Current window ``[end - window_h, end)`` against the reference ``[start - reference_h, start)``."""
    tables = Tables(settings)
    histories = list(scan_states(tables))
    if end is None:
        latest = max((max(s.last_seen, s.rated_at or -math.inf) for _, st in histories for s in st.values()), default=0.0)
        end = latest + 1e-3
    version = read_pointer(settings)
    known = frozenset(load_index(download_version(version, settings)).ids) if version else frozenset()
    rejects = [(float(q.timestamp) / 1000, q.reason) for q in tables.quarantine.scan() if q.timestamp is not None]
    start = end - window_h * 3600
    current = window_data(histories, known, start, end, rejects)
    reference = window_data(histories, known, start - reference_h * 3600, start, rejects)
    report = compare(reference, current)
    if emit:
        metrics = make_metrics(FUNCTION)
        for name, value in report.metrics().items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        metrics.flush_metrics()
    return report

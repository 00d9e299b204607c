"""The drift job: read the stored stream facts, compare the latest window with its reference window,
emit the figures as CloudWatch metrics (function ``drift``; alarms ``drift-ratings`` and
``drift-unseen-movies`` in :mod:`movierec.alarms`). Run by ``movierec drift [--emit]``.

Times are event times (the stream lines' own timestamps), so a replay of old data drifts on its own
clock: by default the current window ends at the latest event stored. What the API recommended is on
the serving clock instead (the answers' own times): its current window ends at the latest answer.
"""

from __future__ import annotations

import math

from movierec.config import Settings
from movierec.dal.tables import Tables
from movierec.dal.history import scan_states
from movierec.dal.index_store import download_version, read_pointer
from movierec.dal.audit_reads import read_served_answers
from movierec.dal.movie_stats import scan_movie_stats
from movierec.drift.stats import (
    DriftReport, PredictionDrift, compare, compare_predictions, popularity_percentiles, prediction_window, window_data,
)  # fmt: skip
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
    report = compare(reference, current, prediction_drift(tables, window_h, reference_h, len(known)))
    if emit:
        metrics = make_metrics(FUNCTION)
        for name, value in report.metrics().items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        metrics.flush_metrics()
    return report


def prediction_drift(tables: Tables, window_h: float, reference_h: float, catalog_size: int) -> PredictionDrift | None:
    """What the API recommended in the last ``window_h`` hours of its answers (serving time, ending at the
    latest answer) against the ``reference_h`` hours before; None when it served nothing."""
    answers = read_served_answers(tables)
    if not answers:
        return None
    end = max(a.at for a in answers) + 1e-3
    start = end - window_h * 3600
    percentile = popularity_percentiles({movie: watchers for movie, watchers, _ in scan_movie_stats(tables)})
    size = catalog_size or len(percentile)
    return compare_predictions(prediction_window(answers, percentile, start - reference_h * 3600, start),
                               prediction_window(answers, percentile, start, end), size)  # fmt: skip

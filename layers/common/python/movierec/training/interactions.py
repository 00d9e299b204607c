"""Reading every ingested interaction for training: one paginated Scan of the ``history`` table."""

from __future__ import annotations

from movierec.config import Settings
from movierec.dal.history import scan_histories
from movierec.dal.tables import Tables
from movierec.evaluation.interactions import InteractionLog, build_log


def scan_history(settings: Settings) -> InteractionLog:
    """Every (user, movie) of the ``history`` table as a time-ordered log."""
    return build_log(scan_histories(Tables(settings)), source="dynamodb")

"""Course stream lines -> an interaction log, folded exactly as ingest folds them (pure).

For audits of the recorded course stream without a running stack: the lines are parsed by the ingest
parser and folded by ingest's own :func:`movierec.logic.aggregate.chunks`, so a (user, movie) becomes
the interaction the history table would hold (last time seen, latest rating, minutes watched).
"""

from __future__ import annotations

from typing import Iterable

from movierec.evaluation.interactions import InteractionLog, build_log
from movierec.logic.aggregate import chunks
from movierec.logic.parser import parse_line
from movierec.models.ingest import Record
from movierec.models.ranking import Interaction


def log_from_lines(lines: Iterable[bytes], source: str = "stream samples") -> InteractionLog:
    """Every valid watch/rate line folded into one interaction per (user, movie); rejects are dropped."""
    records = [Record(offset=i, raw=raw, parsed=parse_line(raw)) for i, raw in enumerate(lines)]
    rows = []
    for chunk in chunks(records, max_actions=len(records) * 3 + 3):
        for (user_id, movie_id), d in chunk.pairs.items():
            rating = None if d.rating is None else float(d.rating)
            max_minute = max(d.minutes, default=0)
            rows.append((user_id, Interaction(movie_id, d.last_at, rating, max_minute, len(d.minutes))))
    return build_log(rows, source=source)

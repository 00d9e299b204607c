"""Gauges: figures that belong to no request or batch, sampled on a schedule.

- ``IndexAgeSeconds``: how old the index version the pointer names is (its manifest's ``created_at``);
  a growing age means retraining/index updates stopped.
- ``QuarantineSize``: items in the quarantine table (rejected stream lines kept aside). DynamoDB's
  ``ItemCount`` is exact on the local stack and refreshed about every six hours on AWS: a trend, not a
  live count (the live count of rejects is the ingest function's ``LinesRejected``).

This module computes the figures (what the ``gauges`` function reports, on AWS and locally alike);
*when* they are sampled locally is :mod:`infra.scheduled`'s business, on AWS an EventBridge rule's.
"""

from __future__ import annotations

import datetime as dt

from movierec.config import Settings
from movierec.dal.tables import Tables
from movierec.dal.index_store import read_manifest, read_pointer


def _parse_utc(text: str) -> dt.datetime:
    at = dt.datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


def sample(settings: Settings, now: dt.datetime | None = None) -> dict[str, float]:
    """The current value of each gauge (an index age only once an index is published)."""
    at = now or dt.datetime.now(dt.timezone.utc)
    out = {"QuarantineSize": float(Tables(settings).quarantine.count())}
    version = read_pointer(settings)
    if version is not None:
        created = _parse_utc(read_manifest(version, settings).created_at)
        out["IndexAgeSeconds"] = max(0.0, (at - created).total_seconds())
    return out

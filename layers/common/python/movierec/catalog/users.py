"""Course user profiles (``catalog/users.csv``: the user API's ``/user/<id>`` answers) by user id.

Only course users have one: MovieLens user ids (1..610) are another numbering and must not be joined
with these (docs/audits.md says where that matters).
"""

from __future__ import annotations

import csv

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.models.audit import UserProfile


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def read_profiles(settings: Settings | None = None) -> dict[int, UserProfile]:
    """user id -> profile; an unreadable age is None (the row is kept)."""
    out: dict[int, UserProfile] = {}
    with data_path("catalog", "users.csv", settings=settings).open(newline="") as f:
        for row in csv.DictReader(f):
            age = (row.get("age") or "").strip()
            out[int(row["userid"])] = UserProfile(int(age) if age.isdigit() else None, _text(row.get("occupation")),
                                                  _text(row.get("gender")))  # fmt: skip
    return out

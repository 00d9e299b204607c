"""The training-side mitigation of rating spam: leave the flagged ratings out of the training interactions.

A filter over an :class:`~movierec.evaluation.interactions.InteractionLog` (pure), plugged into the
training job through its ``interaction_filter`` hook (``movierec train --exclude-suspected-shilling``).
It runs the security audit's shilling detector on the log itself and removes every (user, movie) behind a
flag: the campaign's accounts keep their other interactions (a real new user caught in a flagged window
loses one rating, not their history), but the pushed movie no longer co-occurs with anything they rated,
so the model learns no neighbours for it from the campaign.

From a log, a rating's time is the interaction's ``last_seen`` and an account's first event its earliest
interaction (the log has no separate first-seen time): a close stand-in for the stream, where the rating
follows the watch minutes.
"""

from __future__ import annotations

from dataclasses import replace

from movierec.audit.security import (
    ShillingFlag,
    ShillingParams,
    flagged_pairs,
    shilling,
)
from movierec.evaluation.interactions import InteractionLog
from movierec.models.audit import RatingRow


def log_ratings(log: InteractionLog) -> tuple[list[RatingRow], dict[int, float]]:
    """The log's ratings as detector rows, and each user's earliest interaction."""
    rows = [
        RatingRow(user, i.movie_id, float(i.rating), i.last_seen)
        for user, history in log.users.items()
        for i in history
        if i.rating is not None
    ]
    first = {user: min(i.last_seen for i in history) for user, history in log.users.items() if history}
    return rows, first


def suspected_shilling(log: InteractionLog, params: ShillingParams = ShillingParams()) -> list[ShillingFlag]:
    rows, first = log_ratings(log)
    return shilling(rows, first, params)


def exclude_flagged(log: InteractionLog, flags: list[ShillingFlag]) -> InteractionLog:
    """The log without the ratings behind ``flags`` (users left with no interaction are dropped)."""
    pairs = flagged_pairs(flags)
    if not pairs:
        return log
    users = {u: tuple(i for i in h if (u, i.movie_id) not in pairs) for u, h in log.users.items()}
    return replace(log, users={u: h for u, h in users.items() if h})


def exclude_suspected_shilling(log: InteractionLog) -> InteractionLog:
    """The training hook: detect on the log, drop what was flagged (default detector thresholds)."""
    return exclude_flagged(log, suspected_shilling(log))

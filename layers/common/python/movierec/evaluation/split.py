"""Evaluation splits: what a model may learn from, and which held-out movie each test case asks for.

A :class:`Split` has ``train`` (the per-user histories models are fitted on) and ``cases`` (a user's
history as known at request time plus the one movie they interacted with next). No case's target is in
``train`` for that user, nor in the case's own history (tests check this).

Protocols:

- :func:`leave_last_out` (THE protocol): per user with >= 2 interactions, the chronologically last one
  (ties in time broken by movie id) is the target; everything before it is the history and the training
  data of that user.
- :func:`random_held_out`: the starting design's protocol — one uniformly random interaction per user
  (fixed seed) is the target; all the others (earlier AND later) are the history. Reported only to set our
  number beside the starting design's 1.8%; it lets models see the future.
- :func:`last_n` (default 5): each of a user's last ``n`` interactions is predicted from everything before
  it; models are trained on what precedes a user's first target. About ``n`` times the test cases, for
  tighter confidence intervals.
- :func:`validation`: leave-last-out applied to a split's ``train`` only — for choosing hyper-parameters
  without ever looking at the test targets.

Usage::

    split = leave_last_out(load_movielens())
    val = validation(split)      # tune on val.train / val.cases, then fit on split.train
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Mapping

from movierec.evaluation.interactions import InteractionLog
from movierec.models.ranking import Interaction

History = tuple[Interaction, ...]


@dataclass(frozen=True)
class Case:
    """One test question: given ``history``, is ``target`` among the recommendations?"""

    user_id: int
    history: History
    target: str


@dataclass(frozen=True)
class Split:
    name: str
    #: user id -> what models may be fitted on (time-ordered); contains no target of that user.
    train: Mapping[int, History]
    cases: tuple[Case, ...]
    catalog: tuple[str, ...]

    @property
    def n_users(self) -> int:
        return len({c.user_id for c in self.cases})


def _train_and_cases(
    users: Mapping[int, History], catalog: tuple[str, ...], name: str, n: int
) -> Split:
    """Last ``n`` interactions of every user with more than one, each predicted from its prefix."""
    train: dict[int, History] = {}
    cases: list[Case] = []
    for user_id, history in users.items():
        if len(history) < 2:
            train[user_id] = history  # nothing to predict from; still useful training data
            continue
        first = max(1, len(history) - n)
        train[user_id] = history[:first]
        cases.extend(Case(user_id, history[:i], history[i].movie_id) for i in range(first, len(history)))
    return Split(name=name, train=train, cases=tuple(cases), catalog=catalog)


def leave_last_out(log: InteractionLog) -> Split:
    """Temporal leave-last-out: each user's last interaction is predicted from all before it."""
    return _train_and_cases(log.users, log.catalog, "leave-last-out", 1)


def last_n(log: InteractionLog, n: int = 5) -> Split:
    """Each of the last ``n`` interactions of every user predicted from what came before it."""
    return _train_and_cases(log.users, log.catalog, f"last-{n}", n)


def random_held_out(log: InteractionLog, seed: int = 0) -> Split:
    """The starting design's protocol: one random interaction per user held out (users with >= 2)."""
    rng = random.Random(seed)
    train: dict[int, History] = {}
    cases: list[Case] = []
    for user_id, history in log.users.items():
        if len(history) < 2:
            train[user_id] = history
            continue
        i = rng.randrange(len(history))
        rest = history[:i] + history[i + 1 :]
        train[user_id] = rest
        cases.append(Case(user_id, rest, history[i].movie_id))
    return Split(name=f"random-held-out(seed={seed})", train=train, cases=tuple(cases), catalog=log.catalog)


def validation(split: Split) -> Split:
    """Leave-last-out cut from ``split.train``: tune here, never on ``split.cases``."""
    inner = _train_and_cases(split.train, split.catalog, "", 1)
    return Split(name=f"validation of {split.name}", train=inner.train, cases=inner.cases, catalog=split.catalog)

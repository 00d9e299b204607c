"""Which arm a user is in: a salted hash of the user id (pure; no I/O).

Deterministic and sticky (the same user always lands in the same arm of an experiment, on every process,
without storing anything) and independent across experiments (each has its own random salt, so being in
the treatment of one says nothing about the next).
"""

from __future__ import annotations

import hashlib

from movierec.models.experiment import CONTROL, TREATMENT, Assignment, Experiment

_SCALE = float(1 << 64)


def bucket(salt: str, user_id: int) -> float:
    """A uniform number in [0, 1) fixed by ``salt`` and ``user_id`` (the first 8 bytes of a SHA-256)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign(experiment: Experiment, user_id: int) -> Assignment:
    """The arm of ``user_id``: treatment when its bucket is below the experiment's share."""
    arm = TREATMENT if bucket(experiment.salt, user_id) < experiment.share else CONTROL
    return Assignment(experiment.name, arm, experiment.version_of(arm))

"""An experiment: two index versions served side by side to disjoint, hash-assigned groups of users.

Lives in the store (``movierec.dal.experiment_store``) as JSON, so starting or stopping one is a write
that every running API picks up within its refresh period; no redeploy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

CONTROL = "control"
TREATMENT = "treatment"
ARMS = (CONTROL, TREATMENT)


@dataclass(frozen=True)
class Guardrails:
    """Limits a canary's treatment arm must stay within, compared with control (checked by ``guard``).

    A breach needs at least ``min_requests`` answers in each arm, so one slow first request (index load)
    cannot roll a canary back on its own.
    """

    #: Treatment error rate may exceed control's by at most this much (absolute, 0.01 = 1 point).
    max_error_rate_increase: float = 0.01
    #: Treatment p99 latency may be at most this factor of control's p99 ...
    max_p99_ratio: float = 1.5
    #: ... plus this many milliseconds (so two fast arms a few ms apart do not trip it).
    p99_slack_ms: float = 50.0
    min_requests: int = 50


@dataclass(frozen=True)
class Experiment:
    name: str
    control: str  # index version served to the control arm
    treatment: str  # index version served to the treatment arm
    #: Share of users (0..1) in the treatment arm.
    share: float
    #: Random per experiment: makes assignments independent across experiments (see experiments.assign).
    salt: str
    started_at: float  # epoch seconds
    canary: bool = False
    guardrails: Guardrails = field(default_factory=Guardrails)
    #: None while running; epoch seconds when stopped (by hand or by a guardrail rollback).
    stopped_at: float | None = None
    #: Why it stopped ("stopped by hand", "rollback: ...").
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, got {self.share}")
        if not self.name or "/" in self.name:
            raise ValueError(f"experiment name must be non-empty and without '/', got {self.name!r}")

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def version_of(self, arm: str) -> str:
        return self.treatment if arm == TREATMENT else self.control

    def arm_of_version(self, version: str | None) -> str | None:
        """The arm that serves ``version`` (None when neither does; control wins if both arms serve it)."""
        if version == self.control:
            return CONTROL
        return TREATMENT if version == self.treatment else None

    def stopped(self, at: float, reason: str) -> "Experiment":
        return replace(self, stopped_at=at, stop_reason=reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Experiment":
        return cls(**{**d, "guardrails": Guardrails(**d.get("guardrails", {}))})


@dataclass(frozen=True)
class Assignment:
    """The experiment arm one request was served by (answer log, ``X-Experiment`` header)."""

    experiment: str
    arm: str
    version: str

    @property
    def header(self) -> str:
        return f"{self.experiment}/{self.arm}"

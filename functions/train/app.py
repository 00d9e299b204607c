"""The train function: on an EventBridge schedule, retrain ranker v2 from the ingested interactions.

Thin on purpose: the job (:func:`movierec.training.job.train`) reads DynamoDB, fits, gates against the
current index version, publishes a new version and moves the pointer only if the gate passed; it logs
and counts the outcome itself (``TrainRuns``, ``GatePromoted`` / ``GateRefused``). The recommend
function picks a promoted version up through the pointer. A failure raises, so the invocation is
recorded as failed (Lambda's ``Errors`` metric) and the next scheduled run tries again.
"""

from __future__ import annotations

from typing import Any

from movierec.config import get_settings
from movierec.training.job import train


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = train(get_settings(), source="dynamodb")
    if outcome is None:
        return {"trained": False, "reason": "the current model learned every interaction already"}
    return {"trained": True, "version": outcome.version, "promoted": outcome.promoted,
            "reason": outcome.gate.reason, "seconds": round(outcome.seconds, 1)}  # fmt: skip

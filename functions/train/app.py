"""The train function: on an EventBridge schedule, retrain ranker v2 from the ingested interactions.

Thin on purpose. First the index gets the movie ids ingest has seen that it lacks
(:func:`movierec.index_job.add_stream_movies`, embedded with MiniLM: the image carries torch and the
weights), as ``make up``'s retrain loop does before each round: a model learns and serves only movies that
are rows of the version it is trained onto. Then the job (:func:`movierec.training.job.train`) reads
DynamoDB, fits, gates against the current index version, publishes a new version and moves the pointer
only if the gate passed; it logs and counts the outcome itself (``TrainRuns``, ``GatePromoted`` /
``GateRefused``). The recommend function picks a promoted version up through the pointer. A failure raises,
so the invocation is recorded as failed (Lambda's ``Errors`` metric) and the next scheduled run tries again.
"""

from __future__ import annotations

from typing import Any

from movierec.config import get_settings
from movierec.index_job import add_stream_movies
from movierec.training.job import train


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    added, _ = add_stream_movies(settings)
    outcome = train(settings, source="dynamodb")
    if outcome is None:
        return {"added": added, "trained": False,
                "reason": "nothing new: the current model learned every interaction, or the gate refused these last time"}
    return {"added": added, "trained": True, "version": outcome.version, "promoted": outcome.promoted,
            "reason": outcome.gate.reason, "seconds": round(outcome.seconds, 1)}  # fmt: skip

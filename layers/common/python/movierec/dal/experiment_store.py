"""Experiments in the store: one JSON object per experiment on S3, and a pointer to the running one.

S3 layout (the index bucket, beside the index versions)::

    s3://<bucket>/experiments/<name>.json   every experiment ever started (running or stopped)
    s3://<bucket>/experiments/RUNNING       {"name": "<name>"}: the one the API serves; absent = none

S3 rather than a new DynamoDB table: the API already reads this bucket for the index pointer, with the
same refresh period, and a single-object write is atomic, so a serving process sees a whole experiment
or none. At most one experiment runs at a time (each takes the whole traffic, split by its share).
"""

from __future__ import annotations

import json
import secrets
import time

from botocore.exceptions import ClientError

from movierec import aws
from movierec.config import Settings
from movierec.dal.index_store import published_versions
from movierec.models.experiment import Experiment, Guardrails

PREFIX = "experiments/"
RUNNING_KEY = PREFIX + "RUNNING"


class ExperimentError(ValueError):
    """A start/stop that cannot be done as asked; the message says why."""


def _key(name: str) -> str:
    return f"{PREFIX}{name}.json"


def _get(settings: Settings, key: str) -> bytes | None:
    try:
        return aws.client("s3", settings).get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise


def _put(settings: Settings, key: str, body: dict) -> None:
    aws.client("s3", settings).put_object(Bucket=settings.bucket, Key=key, Body=json.dumps(body, indent=2).encode(),
                                          ContentType="application/json")  # fmt: skip


def read_experiment(name: str, settings: Settings) -> Experiment | None:
    body = _get(settings, _key(name))
    return None if body is None else Experiment.from_dict(json.loads(body))


def running_experiment(settings: Settings) -> Experiment | None:
    """The experiment the API serves now, or None."""
    body = _get(settings, RUNNING_KEY)
    return None if body is None else read_experiment(str(json.loads(body)["name"]), settings)


def list_experiments(settings: Settings) -> list[Experiment]:
    """Every experiment recorded, oldest first."""
    s3 = aws.client("s3", settings)
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".json"):
                out.append(Experiment.from_dict(json.loads(_get(settings, obj["Key"]) or b"{}")))
    return sorted(out, key=lambda e: e.started_at)


def start_experiment(settings: Settings, name: str, control: str, treatment: str, share: float,
                     canary: bool = False, guardrails: Guardrails = Guardrails()) -> Experiment:  # fmt: skip
    """Record and point at a new experiment; both versions must be published, no other may be running."""
    current = running_experiment(settings)
    if current is not None:
        raise ExperimentError(f"experiment {current.name!r} is running; stop it first")
    if read_experiment(name, settings) is not None:
        raise ExperimentError(f"an experiment named {name!r} exists already; choose another name")
    if control == treatment:
        raise ExperimentError("control and treatment must be different versions")
    versions = published_versions(settings)
    for version in (control, treatment):
        if version not in versions:
            raise ExperimentError(f"index version {version!r} is not published (see `movierec index status`)")
        if not versions[version]:
            raise ExperimentError(f"index version {version!r} was pruned: only its manifest is kept (MOVIEREC_INDEX_KEEP_VERSIONS)")
    experiment = Experiment(name, control, treatment, share, secrets.token_hex(8), time.time(), canary, guardrails)
    _put(settings, _key(name), experiment.to_dict())
    _put(settings, RUNNING_KEY, {"name": name})
    return experiment


def stop_experiment(settings: Settings, reason: str = "stopped by hand") -> Experiment:
    """Stop the running experiment: every user gets the current index version again."""
    current = running_experiment(settings)
    if current is None:
        raise ExperimentError("no experiment is running")
    stopped = current.stopped(time.time(), reason)
    _put(settings, _key(current.name), stopped.to_dict())
    aws.client("s3", settings).delete_object(Bucket=settings.bucket, Key=RUNNING_KEY)
    return stopped

"""Old index versions lose their data and keep their manifest; the current one and an experiment's arms never do.

Each retrain publishes a version (about 20 MB for the course catalog), so without retention the bucket,
the local stack's journal and moto's memory grew by one per round. Against the real moto server.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from movierec.config import Settings
from movierec.dal.experiment_store import ExperimentError, start_experiment, stop_experiment
from movierec.dal.index_store import VersionPrunedError, download_version, published_versions, read_manifest
from movierec.index.build import BuildResult
from movierec.index.publish import set_pointer
from movierec.index.store import expired
from movierec.index_job import retain_versions
from infra.commands.index import _status
from tests.fixtures.index import publish_copy


def test_the_rule_keeps_the_newest_and_the_protected() -> None:
    names = [f"2026010{i}T000000Z-0000000{i}" for i in range(1, 7)]
    assert expired(names, keep=2, protected=[names[0]]) == names[1:4]
    assert expired(reversed(names), keep=6, protected=[]) == []
    assert expired(names, keep=0, protected=[]) == []  # 0 keeps every version whole


def test_old_versions_keep_only_their_manifest(settings: Settings, published: BuildResult, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    s = dataclasses.replace(settings, index_keep_versions=2)
    old = [publish_copy(published, s, tmp_path, f"2026010{i}T000000Z-0000000{i}") for i in range(1, 6)]
    newest = published.manifest.version  # built today: newer than every copy
    set_pointer(old[0], s)  # the current version is the oldest: kept all the same
    start_experiment(s, "arms-kept", old[1], old[2], 0.5)

    assert retain_versions(s) == [old[3]]  # newest two: `newest` and old[4]; protected: old[0..2]
    versions = published_versions(s)
    assert versions == {**{v: True for v in [newest, *old]}, old[3]: False}
    assert read_manifest(old[3], s).version == old[3]  # still explainable
    with pytest.raises(VersionPrunedError, match=f"{old[3]} was pruned"):
        download_version(old[3], s)

    stop_experiment(s)
    with pytest.raises(ExperimentError, match="was pruned"):
        start_experiment(s, "on-a-pruned-version", old[0], old[3], 0.5)
    assert retain_versions(s) == [old[1], old[2]]
    assert _status(argparse.Namespace()) == 0  # `movierec index status` counts them
    assert "versions 3 whole, 3 pruned to their manifest (MOVIEREC_INDEX_KEEP_VERSIONS=5)" in capsys.readouterr().out
    assert retain_versions(s) == []  # nothing left to prune: no request repeated for the pruned ones
    assert download_version(old[0], s).is_dir()  # the current version stays whole


def test_a_failed_prune_is_logged_and_the_publish_stands(settings: Settings, published: BuildResult,
                                                         caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A storage error (here: a bucket that does not exist) must never fail the job that just published."""
    s = dataclasses.replace(settings, prefix=settings.prefix + "-missing", index_keep_versions=1)
    assert retain_versions(s) == []
    assert "old index versions not pruned" in caplog.text

"""Retraining on a schedule: the ``make up`` component and the scheduled Lambda handler."""

from __future__ import annotations

import importlib.util
import time
from dataclasses import replace
from pathlib import Path

from movierec.config import REPO_ROOT, Settings
from movierec.dal.index_store import download_version, read_manifest, read_pointer
from movierec.index.build import BuildResult, build_catalog_index
from movierec.index.loaded import load_index
from movierec.index.publish import publish
from movierec.dal.tables import Tables
from infra.retrain import Retrainer
from tests.fixtures.timeouts import TEST_TIMEOUT_S
from tests.fixtures.training import ml_built_movies, write_histories


def test_retrainer_trains_on_its_schedule_and_stops(settings: Settings, ml_built: BuildResult, slice_log, tables: Tables) -> None:
    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(tables, slice_log)
    retrainer = Retrainer(replace(settings, retrain_every_min=0.01))  # a round every 0.6 s
    retrainer.start()
    try:
        deadline = time.monotonic() + TEST_TIMEOUT_S
        while time.monotonic() < deadline and read_pointer(settings) == ml_built.manifest.version:
            time.sleep(0.2)
    finally:
        retrainer.stop()
    assert read_manifest(read_pointer(settings), settings).ranker == "collab-v2"
    assert retrainer.rounds >= 1 and not retrainer._thread.is_alive()  # type: ignore[union-attr]


def test_a_round_first_adds_the_movies_new_to_the_stream_to_the_index(
    settings: Settings, ml_built: BuildResult, slice_log, tables: Tables
) -> None:
    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(tables, slice_log)
    tables.movies("brand+new+film+2031", "movielog-0", watchers=1, first_seen=1, last_activity=1).save()  # as ingest leaves it
    Retrainer(settings).run_once()
    current = load_index(download_version(read_pointer(settings), settings))
    assert "brand+new+film+2031" in current.row_of
    ancestry = [current.version]
    while (parent := read_manifest(ancestry[-1], settings).parent) is not None:
        ancestry.append(parent)
    assert len(ancestry) >= 2 and ancestry[-1] == ml_built.manifest.version  # an update of what was served


def test_the_first_model_already_knows_the_movies_new_to_the_stream(
    settings: Settings, ml_built: BuildResult, slice_log, tables: Tables, tmp_path: Path
) -> None:
    """A first start's round: the catalog version (no content) gets the new movie without embedding
    anything, and the first model is trained onto that (before, it waited for the first regular round)."""
    catalog = build_catalog_index(ml_built_movies(ml_built), tmp_path / "catalog", build_info={"catalog": "course"})
    publish(catalog.folder, catalog.manifest.version, settings)
    write_histories(tables, slice_log)
    tables.movies("brand+new+film+2031", "movielog-0", watchers=1, first_seen=1, last_activity=1).save()  # as ingest leaves it
    Retrainer(settings).run_once()
    trained = read_manifest(read_pointer(settings), settings)
    assert "training" in trained.build and trained.parent is not None
    assert "brand+new+film+2031" in load_index(download_version(trained.version, settings)).row_of
    update = read_manifest(trained.parent, settings)
    assert update.parent == catalog.manifest.version and not update.has_content
    assert (update.build["added"], update.build["embedded"]) == (1, 0)


def test_retrainer_is_off_at_zero(settings: Settings) -> None:
    retrainer = Retrainer(replace(settings, retrain_every_min=0))
    retrainer.start()
    retrainer.stop()
    assert retrainer.rounds == 0 and retrainer._thread is None


def test_the_scheduled_train_function_publishes_and_promotes(settings: Settings, ml_built: BuildResult, slice_log, tables: Tables) -> None:
    """functions/train/app.py's handler, as EventBridge invokes it, on the local stack."""
    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(tables, slice_log)
    spec = importlib.util.spec_from_file_location("train_app", REPO_ROOT / "functions" / "train" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tables.movies("brand+new+film+2031", "movielog-0", watchers=1, first_seen=1, last_activity=1).save()  # as ingest leaves it
    first = module.handler({"source": "aws.events"}, None)
    assert first["added"] == 1 and first["trained"] and first["promoted"] and read_pointer(settings) == first["version"]
    assert "brand+new+film+2031" in load_index(download_version(first["version"], settings)).row_of  # trained onto it
    assert module.handler({"source": "aws.events"}, None) == {
        "added": 0, "trained": False,
        "reason": "nothing new: the current model learned every interaction, or the gate refused these last time"}  # fmt: skip


def test_a_training_round_stopped_at_a_safe_point_publishes_nothing(
    settings: Settings, ml_built: BuildResult, slice_log, tables: Tables
) -> None:
    """The stop event comes while the job runs (here: from the interaction hook, right after the read):
    the job raises Cancelled at its next checkpoint, the pointer stays and no version is uploaded."""
    import threading

    import pytest

    from movierec import aws
    from movierec.models.cancel import Cancelled
    from movierec.training.job import train

    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(tables, slice_log)
    stop = threading.Event()

    def stop_now(log):  # the caller's Ctrl-C, while the job is between its steps
        stop.set()
        return log

    with pytest.raises(Cancelled) as cancelled:
        train(settings, source="dynamodb", interaction_filter=stop_now, stop=stop)
    assert cancelled.value.where == "before fitting the candidate"
    assert read_pointer(settings) == ml_built.manifest.version
    listed = aws.client("s3", settings).list_objects_v2(Bucket=settings.bucket, Prefix="index/", Delimiter="/")
    versions = {p["Prefix"] for p in listed.get("CommonPrefixes", [])}
    assert versions == {f"index/{ml_built.manifest.version}/"}


def test_a_training_child_stuck_in_a_step_that_cannot_be_cancelled_is_terminated(settings: Settings) -> None:
    """The training child's storage answers nothing (a listener that accepts and never replies), so the
    job sits inside a read, where no stop check can run: after the stop the round waits the grace and
    then terminates the child, and says so — it does not wait for the read's own timeouts."""
    import socket
    import threading

    from infra.retrain import CHILD_GRACE_S

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    arrived = threading.Event()
    held: list[socket.socket] = []

    def swallow() -> None:
        while True:
            try:
                conn, _ = hole.accept()
            except OSError:
                return
            held.append(conn)
            arrived.set()

    threading.Thread(target=swallow, daemon=True).start()
    retrainer = Retrainer(replace(settings, aws_endpoint_url=f"http://127.0.0.1:{hole.getsockname()[1]}"))
    answer: list[tuple[str, str]] = []
    round_ = threading.Thread(target=lambda: answer.append(retrainer._train_in_child()), daemon=True)
    try:
        round_.start()
        assert arrived.wait(TEST_TIMEOUT_S), "the training child never reached its storage"
        stopped = time.monotonic()
        retrainer._stop.set()
        round_.join(TEST_TIMEOUT_S)
        took = time.monotonic() - stopped
    finally:
        hole.close()
        for conn in held:
            conn.close()
    assert answer == [("terminated", "")]
    assert took >= CHILD_GRACE_S * 0.9, took  # the child had its grace first
    print(f"stuck training child terminated {took:.1f}s after the stop")

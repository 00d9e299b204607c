"""Provenance: a trained version names its content-addressed data snapshot and code state; the snapshot
refits the same model; ``movierec explain`` traces a served answer to all of it."""

from __future__ import annotations

import json

from infra.cli import main as cli
from movierec.config import Settings
from movierec.dal.index_store import download_version
from movierec.dal.snapshots import read_snapshot, write_snapshot
from movierec.dal.tables import Tables
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from movierec.index.publish import publish, set_pointer
from movierec.provenance import explain, find_answer, git_state
from movierec.serving.api import build_api
from movierec.evaluation.interactions import TIE_SEED, load_dynamodb
from movierec.training.job import train
from movierec.training.model import COLUMNS
from tests.fixtures.training import write_histories


def test_training_stores_its_snapshot_and_explain_traces_an_answer(
    settings: Settings, ml_built: BuildResult, slice_log, capsys
) -> None:
    publish(ml_built.folder, ml_built.manifest.version, settings)
    write_histories(Tables(settings), slice_log)
    first = train(settings, source="dynamodb", promote=False)
    assert first is not None
    training = first.manifest.build["training"]
    key = training["snapshot"]  # type: ignore[index]
    assert training["git"] == git_state() and isinstance(git_state()["dirty"], bool)  # type: ignore[index]
    # MovieLens was offered as prior data, and refused: the ingested data is MovieLens itself.
    assert training["prior"] == {"offered": "movielens", "users_used": 0}
    # Content-addressed: the same data gives the same key; the stored log is exactly what was read.
    log = load_dynamodb(settings, include_catalog=False, tie_seed=TIE_SEED)  # as training reads it
    assert write_snapshot(log, settings) == key
    stored = read_snapshot(key, settings)
    assert dict(stored.users) == dict(log.users) and stored.catalog == log.catalog

    # The snapshot reproduces the model, even after the live data changed.
    write_histories(Tables(settings), type(slice_log)({u: h[:1] for u, h in slice_log.users.items()}, slice_log.catalog))
    again = train(settings, promote=False, from_snapshot=key)
    assert again is not None
    a, b = (load_index(download_version(o.version, settings)) for o in (first, again))
    assert all(a.column(c).equals(b.column(c)) for c in COLUMNS)  # the same learned weights
    assert again.manifest.build["training"]["fit"] == training["fit"]  # type: ignore[index]
    assert again.manifest.build["training"]["snapshot"] == key  # type: ignore[index]

    # A served answer of the trained version, traced back.
    set_pointer(first.version, settings)
    api = build_api(settings)
    user = next(iter(slice_log.users))
    assert api.get(str(user)).status == 200
    api.answer_log.close()
    item = find_answer(user, settings)
    assert item is not None and item.version == first.version
    e = explain(item, settings)
    assert e.ranker == "collab-v2" and e.training is not None and e.training["snapshot"] == key
    assert e.training["git"]["commit"] == git_state()["commit"]
    assert e.history_size >= 1 and 1 <= len(e.recent) <= 5
    assert cli(["explain", str(user), item.request_key]) == 0
    out = capsys.readouterr().out  # the command's JSON, after any log lines
    shown = json.loads(out[out.index('{\n  "user_id"'):])
    assert shown["version"] == first.version and shown["training"]["snapshot"] == key

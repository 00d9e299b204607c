"""GET /recommend/{user_id} through the Chalice test client, on moto (DynamoDB + S3) and a real index."""

from __future__ import annotations

import importlib.util
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from chalice.test import Client

from movierec import aws
from movierec.config import Settings
from movierec.dal.index_store import IndexStore
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.index.build import BuildResult, build_catalog_index
from movierec.index.publish import publish
from movierec.models.movie import Movie
from movierec.index_job import update_published
from movierec.index.loaded import load_index
from movierec.serving.api import VERSION_HEADER
from movierec.dal.tables import Tables
from infra.api_server import FUNCTION_DIR
from tests.fixtures.timeouts import TEST_TIMEOUT_S

_n = itertools.count()


def _load_app() -> ModuleType:
    """A fresh import of functions/recommend/app.py (its own API object) on this test's stack."""
    spec = importlib.util.spec_from_file_location(f"recommend_app_{next(_n)}", FUNCTION_DIR / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app(published: BuildResult, emf: list) -> Iterator[ModuleType]:
    module = _load_app()
    yield module
    module.api.answer_log.close()


def _get(app: ModuleType, path: str, accept: str | None = None) -> Any:
    with Client(app.app) as client:
        return client.http.get(path, headers={"Accept": accept} if accept else {})


def _metric_values(docs: list[dict[str, Any]], name: str) -> list[float]:
    out: list[float] = []
    for doc in docs:
        if name in doc:
            out += doc[name] if isinstance(doc[name], list) else [doc[name]]
    return out


def test_cold_user_gets_popular_movies(app: ModuleType, published: BuildResult, emf: list, tables: Tables) -> None:
    index = load_index(published.folder)
    response = _get(app, "/recommend/999")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/plain"
    assert response.headers[VERSION_HEADER] == published.manifest.version
    ids = response.body.decode().split(",")
    assert len(ids) == 20 == len(set(ids)) and set(ids) <= set(index.ids)
    # Once the stream has shown what people watch, the fallback follows it (new movies included).
    # Each partition counts its own shard of a movie; popularity sums them (30 + 25 beats 50).
    tables.movies(index.ids[3], "movielog-0", watchers=30).save()
    tables.movies(index.ids[3], "movielog-1", watchers=25).save()
    tables.movies("brand+new+film+2031", "movielog-1", watchers=50).save()
    app.api.recommender.popularity.reload()
    body = json.loads(_get(app, "/recommend/999", "application/json").body)
    assert body["fallback"] is True and body["ranker"] == "popular"
    assert [(m["id"], m["title"]) for m in body["movies"][:2]] == [
        (index.ids[3], index.titles[3]), ("brand+new+film+2031", "brand new film")]  # fmt: skip
    assert _metric_values(emf, "Fallback") == [1, 1] and _metric_values(emf, "ColdStart") == [1]


def test_bad_user_ids_get_400_with_a_message(app: ModuleType, emf: list) -> None:
    bad = ["-1", "abc", "12345678901", "1.5", "1e3", "%201"]
    for raw in bad:
        response = _get(app, f"/recommend/{raw}")
        assert response.status_code == 400, raw
        assert "non-negative integer" in json.loads(response.body)["error"]
        assert response.headers[VERSION_HEADER]
    assert _metric_values(emf, "Requests4xx") == [1] * len(bad)


def test_user_with_history_gets_content_ranking_and_the_answer_is_logged(
    app: ModuleType, published: BuildResult, emf: list, tables: Tables
) -> None:
    index = load_index(published.folder)
    watched = {index.ids[0]: 5, index.ids[10]: None, index.ids[20]: 1}
    save_histories(tables, {42: {m: HistoryState(rating=r, max_minute=90, first_seen=1, last_seen=2) for m, r in watched.items()}})
    body = json.loads(_get(app, "/recommend/42", "application/json").body)
    assert (body["user_id"], body["ranker"], body["fallback"], body["version"]) == (
        42, "content-v1", False, published.manifest.version)  # fmt: skip
    ids = [m["id"] for m in body["movies"]]
    assert len(ids) == 20 and not set(ids) & set(watched)
    assert all(m["title"] == index.titles[index.row_of[m["id"]]] for m in body["movies"])
    plain = _get(app, "/recommend/42")
    assert plain.body.decode() == ",".join(ids)
    deadline = time.monotonic() + TEST_TIMEOUT_S
    while time.monotonic() < deadline and len(list(tables.recommendations.query(42))) < 2:
        time.sleep(0.1)
    logged = list(tables.recommendations.query(42))
    assert [(r.source, r.status, r.movie_ids, r.version) for r in logged] == [
        ("api", 200, ",".join(ids), published.manifest.version)] * 2  # fmt: skip
    assert len(_metric_values(emf, "Latency")) == 2 and _metric_values(emf, "Requests2xx") == [1, 1]


def test_storage_failure_degrades_to_the_popular_list(app: ModuleType, settings: Settings, emf: list) -> None:
    popular = _get(app, "/recommend/8").body.decode()
    aws.client("dynamodb", settings).delete_table(TableName=settings.table("history"))
    response = _get(app, "/recommend/7")
    assert response.status_code == 200 and response.headers["X-Degraded"] == "history-unavailable"
    assert response.body.decode() == popular
    assert _metric_values(emf, "Degraded") == [1] and _metric_values(emf, "Requests2xx") == [1, 1]


def test_index_refreshes_when_the_pointer_moves(published: BuildResult, settings: Settings) -> None:
    store = IndexStore(settings)
    assert store.current().version == published.manifest.version and store.refresh() is False
    new = update_published(["the+lion+king+1994"], settings, progress=False)
    assert new is not None
    store._reloaded.every_s = 0.0  # every read is due for a check: the next one starts a background reload
    assert store.current().version == published.manifest.version  # never waits for the reload
    deadline = time.monotonic() + TEST_TIMEOUT_S
    while store.current().version != new.version and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.current().version == new.version and "the+lion+king+1994" in store.current().row_of
    third = update_published(["the+jungle+book+1967"], settings, progress=False)
    assert third is not None and store.refresh() is True
    # Only the newest versions stay in the local cache (the first one was pruned).
    assert sorted(d.name for d in settings.index_cache_dir.iterdir() if not d.name.startswith(".")) == sorted(
        [new.version, third.version])  # fmt: skip


def test_a_first_start_catalog_version_answers_the_popular_list_in_full(
    settings: Settings, catalog_slice: list[Movie], tables: Tables, tmp_path: Path, emf: list
) -> None:
    """A first start's catalog version (no content, no model yet) serves full answers, not degraded
    ones: the popular list with the ingested popularity first, without what the user watched."""
    result = build_catalog_index(catalog_slice, tmp_path / "catalog")
    publish(result.folder, result.manifest.version, settings)
    watched, hot = catalog_slice[0].id, catalog_slice[7].id
    tables.movies(hot, "movielog-0", watchers=30).save()
    tables.movies(watched, "movielog-1", watchers=40).save()
    save_histories(tables, {42: {watched: HistoryState(rating=4, max_minute=90, first_seen=1, last_seen=2)}})
    module = _load_app()
    try:
        response = _get(module, "/recommend/42", "application/json")
    finally:
        module.api.answer_log.close()
    body = json.loads(response.body)
    assert response.status_code == 200 and "X-Degraded" not in response.headers
    assert (body["ranker"], body["degraded"], body["fallback"], body["version"]) == (
        "popular", None, False, result.manifest.version)  # fmt: skip
    ids = [m["id"] for m in body["movies"]]
    assert len(ids) == 20 == len(set(ids)) and ids[0] == hot and watched not in ids

"""A new version swapped in while requests run: no failed request, the answers switch to ranker v2.

A real ``chalice local`` process (the API as ``make up`` runs it) serves client threads on loopback;
meanwhile ``movierec train``'s job publishes a v2 version and moves the pointer. The server notices
within ``index_refresh_s`` and swaps in the background.

The clients time every answer, and the test reports availability as the course measures it (status 200
within 600 ms, :mod:`movierec.logic.availability`) over the whole run and over the update (from the start
of training until every client was answered by the new version). It reports it and does not assert it: a
timed figure on a shared 2-core machine is a measurement, not a property (run with ``-s`` to see it).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from movierec.config import Settings, get_settings
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from movierec.index.publish import publish
from movierec.logic.availability import availability
from movierec.training.job import train
from movierec.training.model import FitParams
from movierec.dal.tables import Tables
from infra.api_server import ApiServer
from infra.stack import free_port
from tests.fixtures.ingest import wait_until
from tests.fixtures.timeouts import TEST_TIMEOUT_S
from tests.fixtures.training import write_histories

CLIENTS = 3
COLD_USER = 990_001


@pytest.fixture
def api(settings: Settings, ml_built: BuildResult, slice_log, monkeypatch: pytest.MonkeyPatch, tables: Tables) -> Iterator[Settings]:
    """Content v1 published, histories written, a real API process on a free port refreshing every 0.3 s."""
    monkeypatch.setenv("MOVIEREC_INDEX_REFRESH_S", "0.3")
    monkeypatch.setenv("MOVIEREC_API_PORT", str(free_port()))
    get_settings.cache_clear()
    s = get_settings()
    publish(ml_built.folder, ml_built.manifest.version, s)
    write_histories(tables, slice_log)
    server = ApiServer(s, start_timeout_s=TEST_TIMEOUT_S)
    server.start()
    try:
        yield s
    finally:
        server.stop()


def _get(url: str) -> tuple[int, str, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=TEST_TIMEOUT_S) as r:
            return r.status, r.headers["X-Index-Version"], r.headers["X-Ranker"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("X-Index-Version", ""), "", e.read().decode()


def _timed_get(url: str) -> tuple[int, str, str, str, float, float]:
    """``_get`` plus the answer's latency as the client saw it (ms) and when it was asked (monotonic s)."""
    started = time.monotonic()
    answer = _get(url)
    return (*answer, (time.monotonic() - started) * 1000, started)


def test_version_swap_under_load_serves_no_error(
    api: Settings, ml_built: BuildResult, slice_log, tables: Tables, record_property
) -> None:
    index = load_index(ml_built.folder)
    cold = [m for m in index.ids if m not in {i.movie_id for h in slice_log.users.values() for i in h}]
    save_histories(tables, {COLD_USER: {cold[0]: HistoryState(max_minute=10, first_seen=1, last_seen=1)}})
    users = [*list(slice_log.users)[:20], COLD_USER, 123456789]
    answers: list[list[tuple[int, str, str, str, float, float]]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()

    def client(n: int) -> None:
        i = n
        while not stop.is_set():
            answers[n].append(_timed_get(f"{api.api_url}/recommend/{users[i % len(users)]}"))
            i += CLIENTS

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    assert wait_until(lambda: all(answers), every_s=0.05)  # every client served by the first version
    update_started = time.monotonic()
    outcome = train(api, "dynamodb", fit=FitParams(lam=50.0, neighbours=50))
    assert outcome.promoted, outcome.gate.reason
    # ...then on the new version, a few answers each (serving goes on after the swap)
    assert wait_until(lambda: all(sum(a[1] == outcome.version for a in per) >= 3 for per in answers), every_s=0.1)
    update_ended = max(next(a[5] for a in per if a[1] == outcome.version) for per in list(answers))
    # Keep serving on the new version until every kind of user was answered there (a loaded machine may
    # take a while to get round the users).
    assert wait_until(lambda: {"collab-v2", "popular"} <= {
        a[2] for per_client in answers for a in list(per_client) if a[1] == outcome.version
    }, every_s=0.1)
    stop.set()
    for t in threads:
        t.join(timeout=TEST_TIMEOUT_S)

    flat = [a for per_client in answers for a in per_client]
    during = [a for a in flat if update_started <= a[5] <= update_ended]
    figures = {
        "whole_run": availability((a[0], a[4]) for a in flat).as_dict(),
        "during_update": availability((a[0], a[4]) for a in during).as_dict() | {
            "seconds": round(update_ended - update_started, 1)},
    }
    record_property("course_availability", figures)
    print("course availability (200 within 600 ms) of the swap test:", json.dumps(figures))
    assert figures["during_update"]["answers"] > 0  # the update was served under load, and measured
    assert len(flat) > 50
    assert [a for a in flat if a[0] != 200] == [], "failed requests (status, version, ranker, body)"
    assert {a[1] for a in flat} == {ml_built.manifest.version, outcome.version}
    for per_client in answers:  # once a client saw the new version it never sees the old one again
        first_new = next(i for i, a in enumerate(per_client) if a[1] == outcome.version)
        assert all(a[1] == outcome.version for a in per_client[first_new:])
    new = [a for a in flat if a[1] == outcome.version]
    assert {a[2] for a in new} == {"collab-v2", "popular"}  # popular: the unknown user
    assert all(len(a[3].split(",")) == 20 for a in new)
    # The user who watched only a cold movie (no learned neighbours) is ranked by v2 through content.
    status, version, ranker, body = _get(f"{api.api_url}/recommend/{COLD_USER}")
    assert (status, version, ranker) == (200, outcome.version, "collab-v2")
    assert cold[0] not in body.split(",") and len(body.split(",")) == 20

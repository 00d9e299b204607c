"""Degrade, don't fail: with storage slow or stopped a valid id still gets 200 (the popular list, marked
``X-Degraded``); only with no popular list at all a 503 with ``Retry-After``; error bodies never carry
internals. Real moto server (the test's own, frozen or killed) and a real ``chalice local``."""

from __future__ import annotations

import dataclasses
import json

from movierec.index.build import BuildResult
from movierec.index.publish import publish
from infra.api_server import ApiServer
from tests.fixtures.serving import OwnMoto, assert_no_internals, get, start_api
from tests.fixtures.timeouts import wait_until


def _ids(body: bytes) -> list[str]:
    return body.decode().split(",")


def test_slow_or_stopped_storage_gets_the_popular_list(
    own_moto: OwnMoto, api_process: list[ApiServer], built: BuildResult
) -> None:
    settings = own_moto.settings  # default budget: 400 ms
    publish(built.folder, built.manifest.version, settings)
    server = start_api(api_process, settings)
    base = settings.api_url
    status, headers, body = get(f"{base}/recommend/5")
    assert status == 200 and len(_ids(body)) == 20
    popular = _ids(body)

    own_moto.freeze()  # storage accepts connections but never answers: the history read hangs
    status, headers, body = get(f"{base}/recommend/6")
    assert status == 200 and headers["X-Degraded"] == "timeout", (status, headers, body)
    assert _ids(body) == popular and headers["X-Index-Version"] == built.manifest.version
    status, headers, body = get(f"{base}/recommend/6", accept="application/json")
    answer = json.loads(body)
    assert status == 200 and answer["degraded"] == "timeout" and answer["fallback"] is True
    assert [m["id"] for m in answer["movies"]] == popular and headers["X-Request-Id"]

    own_moto.kill()  # storage gone: connections refused
    status, headers, body = get(f"{base}/recommend/7")
    assert status == 200 and headers["X-Degraded"] in ("history-unavailable", "timeout"), (status, headers, body)
    assert _ids(body) == popular
    status, _, body = get(f"{base}/recommend/not-a-number")
    assert status == 400 and "non-negative integer" in json.loads(body)["error"]
    assert_no_internals(body, settings)

    server.stop()
    log = (settings.run_dir / "logs" / "api.log").read_text()
    assert '"Degraded"' in log  # counted (EMF) ...
    assert "recommend over budget" in log  # ... and logged, with the user and request id


def test_a_request_that_finds_every_worker_taken_is_answered_at_once(
    own_moto: OwnMoto, api_process: list[ApiServer], built: BuildResult
) -> None:
    """One full-answer worker: while it hangs on frozen storage, the next request does not queue behind
    it (it would only miss its budget) but gets the popular list marked ``overload``; once storage answers
    again the worker is free and full answers come back."""
    settings = dataclasses.replace(own_moto.settings, recommend_workers=1)
    publish(built.folder, built.manifest.version, settings)
    start_api(api_process, settings)
    base = settings.api_url
    status, headers, body = get(f"{base}/recommend/5")
    assert status == 200 and "X-Degraded" not in headers, (status, headers, body)

    own_moto.freeze()
    status, headers, _ = get(f"{base}/recommend/6")
    assert status == 200 and headers["X-Degraded"] == "timeout"  # its history read still holds the worker
    status, headers, body = get(f"{base}/recommend/7")
    assert status == 200 and headers["X-Degraded"] == "overload", (status, headers, body)
    assert _ids(body) == _ids(get(f"{base}/recommend/6")[2])  # the same popular list

    own_moto.thaw()
    assert wait_until(lambda: "X-Degraded" not in get(f"{base}/recommend/8")[1])


def test_no_popular_list_is_a_503_with_retry_after(
    own_moto: OwnMoto, api_process: list[ApiServer]
) -> None:
    settings = dataclasses.replace(own_moto.settings, index_refresh_s=3600.0)  # nothing published, nothing ingested
    start_api(api_process, settings, wait_for_index=False)
    status, headers, body = get(f"{settings.api_url}/recommend/5")
    assert status == 503 and int(headers["Retry-After"]) > 0, (status, headers, body)
    payload = json.loads(body)
    assert payload["request_id"] == headers["X-Request-Id"] and payload["error"]
    assert_no_internals(body, settings)
    own_moto.kill()
    status, headers, body = get(f"{settings.api_url}/recommend/5")
    assert status == 503 and headers["Retry-After"]
    assert_no_internals(body, settings)

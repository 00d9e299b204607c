"""/health checks what serving needs (tables, a loaded index, storage answering) and says what is wrong;
real moto server (the test's own) and a real ``chalice local``."""

from __future__ import annotations

import json
import time

from movierec import aws
from movierec.index.build import BuildResult
from movierec.index.publish import publish
from infra.api_server import ApiServer
from tests.fixtures.serving import OwnMoto, get, start_api
from tests.fixtures.timeouts import TEST_TIMEOUT_S
def test_health_says_what_serving_lacks(own_moto: OwnMoto, api_process: list[ApiServer], built: BuildResult) -> None:
    settings = own_moto.settings
    start_api(api_process, settings, wait_for_index=False)
    status, _, body = get(f"{settings.api_url}/health")
    report = json.loads(body)
    assert status == 503 and report["ok"] is False and set(report["problems"]) == {"published", "index"}

    publish(built.folder, built.manifest.version, settings)
    # A request starts loading the published index (in the background once its budget is over).
    deadline = time.monotonic() + TEST_TIMEOUT_S
    while time.monotonic() < deadline:
        get(f"{settings.api_url}/recommend/1")
        status, _, body = get(f"{settings.api_url}/health")
        if json.loads(body)["index_version"]:
            break
        time.sleep(0.2)
    report = json.loads(body)
    assert status == 200 and report == {"ok": True, "index_version": built.manifest.version,
                                        "published_version": built.manifest.version, "problems": {}}  # fmt: skip

    aws.client("dynamodb", settings).delete_table(TableName=settings.table("history"))
    status, _, body = get(f"{settings.api_url}/health")
    report = json.loads(body)
    assert status == 503 and report["problems"] == {"tables": "missing: history (make up creates them)"}
    assert settings.prefix not in body.decode()

    own_moto.kill()  # storage gone (e.g. moto restarted without its data): health says so
    status, _, body = get(f"{settings.api_url}/health")
    report = json.loads(body)
    assert status == 503 and "storage" in report["problems"] and report["index_version"] == built.manifest.version
    assert "http://" not in body.decode() and "Error" not in body.decode()

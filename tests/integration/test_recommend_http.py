"""A real ``chalice local`` round trip: the API component as ``make up`` runs it, over HTTP."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from pathlib import Path

from movierec.config import Settings
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from movierec.dal.tables import Tables
from infra.api_server import ApiServer, api_answers
from infra.stack import free_port
from tests.fixtures.timeouts import SHORT_S, TEST_TIMEOUT_S
def _get(url: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=TEST_TIMEOUT_S) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child may linger as a zombie until its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_chalice_local_round_trip(published: BuildResult, settings: Settings, tmp_path: Path, tables: Tables) -> None:
    index = load_index(published.folder)
    save_histories(tables, {5: {index.ids[1]: HistoryState(rating=4, max_minute=10, first_seen=1, last_seen=2)}})
    server = ApiServer(dataclasses.replace(settings, api_port=free_port(), run_dir=tmp_path / "run"),
                       start_timeout_s=TEST_TIMEOUT_S)
    server.start()
    base = server.settings.api_url
    try:
        [(name, _, pid, ok)] = server.status()
        assert (name, ok) == ("api", True) and pid
        status, headers, body = _get(f"{base}/recommend/5")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert headers["X-Index-Version"] == published.manifest.version
        ids = body.decode().split(",")
        assert len(ids) == 20 and index.ids[1] not in ids and set(ids) <= set(index.ids)
        status, _, body = _get(f"{base}/recommend/5", "application/json")
        assert status == 200 and [m["id"] for m in json.loads(body)["movies"]] == ids
        status, headers, body = _get(f"{base}/recommend/abc")
        assert status == 400 and "error" in json.loads(body) and headers["X-Index-Version"]
    finally:
        server.stop()
    # Stopped: the process is gone and nothing answers there any more (the port itself may be reused at
    # once by another process's outgoing connection on this busy machine, so it is not checked).
    assert not _running(pid) and not api_answers(base, timeout=SHORT_S) and server.status()[0][2] is None
    assert '"Requests"' in (tmp_path / "run" / "logs" / "api.log").read_text()  # EMF lines in the API's log

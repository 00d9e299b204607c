"""Shared fixtures: the real local services (moto server, tansu), started once per test session.

They run on free ports with their own run folder, so tests never touch a stack started by ``make up``,
and they are stopped at the end of the session (no process left behind). Tests that write state use
``isolated``: a fresh resource prefix and topic per test, bootstrapped on the shared services.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.config import Settings, get_settings
from movierec.dal.tables import Tables
from infra.bootstrap import bootstrap
from infra.stack import LOCAL_CREDENTIALS, Stack, free_port
from tests.fixtures.timeouts import TEST_TIMEOUT_S

#: Fixture modules shared by the unit and integration tests (pytest registers them for the whole suite).
pytest_plugins = [
    "tests.fixtures.index", "tests.fixtures.observability", "tests.fixtures.serving", "tests.fixtures.training",
]

DATA_DIR = Path(os.environ.get("MOVIEREC_DATA_DIR") or Settings().data_dir)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """moto server and tansu on free ports; the process environment points at them for the session.

    AWS calls of the tests (and of the processes they start) get the suite's timeout as read timeout:
    a loaded machine's slow moto answer is waited for, not retried (a retried metric write counts twice).
    """
    moto_port, kafka_port = free_port(), free_port()
    env = {
        "MOVIEREC_MOTO_PORT": str(moto_port),
        "MOVIEREC_KAFKA_PORT": str(kafka_port),
        "MOVIEREC_RUN_DIR": str(tmp_path_factory.mktemp("run")),
        "MOVIEREC_INDEX_CACHE": str(tmp_path_factory.mktemp("index-cache")),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOVIEREC_PREFIX": "test",
        "MOVIEREC_AWS_READ_TIMEOUT_S": str(TEST_TIMEOUT_S),
        **LOCAL_CREDENTIALS,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    services = Stack(settings, start_timeout_s=TEST_TIMEOUT_S)
    services.up()
    try:
        yield settings
    finally:
        services.down()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


_counter = itertools.count()


@pytest.fixture
def isolated(stack: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings with a fresh prefix (tables, bucket) and topic, bootstrapped; the environment follows them."""
    n = next(_counter)
    monkeypatch.setenv("MOVIEREC_PREFIX", f"t{os.getpid()}-{n}")
    monkeypatch.setenv("MOVIEREC_TOPIC", f"movielog-{n}")
    get_settings.cache_clear()
    settings = get_settings()
    bootstrap(settings)
    yield settings
    get_settings.cache_clear()


@pytest.fixture
def tables(isolated: Settings) -> Tables:
    """The tables of ``isolated`` (job timeouts), for tests that read or write items directly."""
    return Tables(isolated)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder; tests that need it are skipped with a clear reason when it is missing."""
    if not (DATA_DIR / "README.md").exists():
        pytest.skip(f"shared data not found at {DATA_DIR} (set MOVIEREC_DATA_DIR; see README, Data)")
    return DATA_DIR

"""Unit tests: no services (no moto, no tansu, no API server), seconds in all (`make test-unit`).

A unit test that asks for the session's services fails at once with the reason, so the split stays true:
such a test belongs in tests/integration/.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stack() -> None:
    pytest.fail("a unit test asked for the local services: move it to tests/integration/")

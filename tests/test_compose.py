"""localstack-compose.yml: it parses, pins its images, and offers what our configuration expects.

Docker is not available here, so the file is checked as data: the services, ports, listeners and the
bootstrap step must line up with :class:`movierec.config.Settings` defaults and with infra/bootstrap.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from movierec.config import REPO_ROOT, Settings

COMPOSE = REPO_ROOT / "localstack-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _host_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).split(":")[-2]) for p in service.get("ports", [])}


def test_services_and_pinned_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"localstack", "kafka", "bootstrap"}
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+(-slim)?", image), f"{name}: {image} is not pinned to a version"
    major, minor, _ = (int(x) for x in services["localstack"]["image"].split(":")[1].split("."))
    assert (major, minor) <= (3, 8), "a newer LocalStack may need an auth token: check before bumping the pin"


def test_ports_are_what_settings_expect(compose: dict[str, Any]) -> None:
    defaults = Settings()
    assert _host_ports(compose["services"]["localstack"]) == {defaults.moto_port}
    assert _host_ports(compose["services"]["kafka"]) == {defaults.kafka_port}
    wanted = {"s3", "dynamodb", "cloudwatch"}
    assert wanted <= set(compose["services"]["localstack"]["environment"]["SERVICES"].split(","))


def test_kafka_is_kraft_and_advertises_the_host_port(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in " ".join(env).upper()
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["HOST"] == f"127.0.0.1:{Settings().kafka_port}"
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    assert set(advertised) <= set(listeners)


def test_bootstrap_hook_runs_our_bootstrap_against_the_services(compose: dict[str, Any]) -> None:
    hook = compose["services"]["bootstrap"]
    assert hook["depends_on"] == {
        "localstack": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
    }
    assert "python -m infra.bootstrap" in " ".join(hook["command"])
    env = hook["environment"]
    settings = Settings.from_env({k: str(v) for k, v in env.items() if "${" not in str(v)})
    assert settings.aws_endpoint_url == "http://localstack:4566"
    internal = dict(
        item.split("://") for item in compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )["INTERNAL"]
    assert settings.kafka_bootstrap == internal
    # what the hook's PYTHONPATH must hold, and the module it runs, exist in this checkout
    for path in env["PYTHONPATH"].split(":"):
        assert (REPO_ROOT / path.removeprefix("/src/").removeprefix("/src")).is_dir()
    assert "__main__" in (REPO_ROOT / "infra" / "bootstrap.py").read_text()
    for healthy in ("localstack", "kafka"):
        assert compose["services"][healthy]["healthcheck"]["test"]


def test_the_hook_command_bootstraps_a_real_stack(isolated: Settings) -> None:
    """``python -m infra.bootstrap`` (the hook's last step) against the test's moto and tansu."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "infra.bootstrap"], capture_output=True, text=True, env=dict(os.environ), cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("table") and isolated.table("history") in line for line in lines)
    assert any(line.startswith("alarm") and f"{isolated.prefix}-recommend-availability" in line for line in lines)
    assert all(line.endswith("exists") for line in lines)  # the fixture bootstrapped already: nothing new

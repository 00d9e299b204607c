"""localstack-compose.yml: it parses, pins its images, and offers what our configuration expects.

Docker is not available here, so the file is checked as data: the services, ports, listeners and the
ready hook must line up with :class:`movierec.config.Settings` defaults; the hook script itself runs for
real against the test's moto (with our venv's boto3 where LocalStack would use its own) and must create
what infra/bootstrap.py creates.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from movierec import aws
from movierec.alarms import ALARMS
from movierec.config import REPO_ROOT, TABLES, Settings
from infra.localstack_init import HOOK, RESOURCES, text

COMPOSE = REPO_ROOT / "localstack-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _host_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).split(":")[-2]) for p in service.get("ports", [])}


def test_services_and_pinned_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"localstack", "kafka"}
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


def test_localstack_runs_our_ready_hook_and_kafka_makes_the_topic(compose: dict[str, Any]) -> None:
    localstack = compose["services"]["localstack"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in localstack["volumes"]}
    assert (REPO_ROOT / mounts["/etc/localstack/init/ready.d"]).resolve() == HOOK.parent
    assert "/_localstack/init/ready" in " ".join(localstack["healthcheck"]["test"])
    assert "pip install" not in COMPOSE.read_text()
    kafka = compose["services"]["kafka"]["environment"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert int(kafka["KAFKA_NUM_PARTITIONS"]) == Settings().kafka_partitions


def test_the_hook_resources_are_current() -> None:
    assert RESOURCES.read_text() == text(), "stale: python -m infra.localstack_init"


def test_the_ready_hook_creates_what_bootstrap_creates(isolated: Settings, tmp_path) -> None:
    """The hook script (as LocalStack would run it) against the test moto, beside our bootstrap's result."""
    import os
    import subprocess
    import sys

    hooked = Settings.from_env(dict(os.environ) | {"MOVIEREC_PREFIX": f"{isolated.prefix}-hook"})
    env = dict(os.environ) | {"MOVIEREC_PREFIX": hooked.prefix, "MOVIEREC_STAGE": isolated.stage,
                              "MOVIEREC_INIT_DIR": str(HOOK.parent)}  # fmt: skip
    for attempt in ("created", "exists"):  # idempotent: the second run finds everything
        done = subprocess.run([sys.executable, str(HOOK)], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout and all(line.endswith(attempt) for line in done.stdout.splitlines())
    dynamodb, cloudwatch = aws.client("dynamodb", isolated), aws.client("cloudwatch", isolated)
    for logical in TABLES:
        ours = dynamodb.describe_table(TableName=isolated.table(logical))["Table"]
        hooks = dynamodb.describe_table(TableName=hooked.table(logical))["Table"]
        assert hooks["KeySchema"] == ours["KeySchema"], logical
        by_name = lambda d: d["AttributeName"]  # noqa: E731 (the order of definitions carries no meaning)
        assert sorted(hooks["AttributeDefinitions"], key=by_name) == sorted(ours["AttributeDefinitions"], key=by_name)
    assert aws.client("s3", isolated).head_bucket(Bucket=hooked.bucket)
    strip = ("AlarmName", "AlarmArn", "StateUpdatedTimestamp", "AlarmConfigurationUpdatedTimestamp",
             "StateReason", "StateReasonData", "StateTransitionedTimestamp")  # fmt: skip
    for spec in ALARMS:
        (ours,) = cloudwatch.describe_alarms(AlarmNames=[spec.alarm_name(isolated.prefix)])["MetricAlarms"]
        (hooks,) = cloudwatch.describe_alarms(AlarmNames=[spec.alarm_name(hooked.prefix)])["MetricAlarms"]
        assert {k: v for k, v in hooks.items() if k not in strip} == {k: v for k, v in ours.items() if k not in strip}

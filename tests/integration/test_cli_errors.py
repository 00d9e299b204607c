"""One-line errors instead of tracebacks, help text with an example for every command, alarms start as on AWS."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


from movierec import aws
from movierec.alarms import ALARMS
from movierec.config import REPO_ROOT, Settings
from infra.cli import build_parser
from infra.stack import free_port
from tests.fixtures.timeouts import TEST_TIMEOUT_S
def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=TEST_TIMEOUT_S, env=os.environ | (env or {}),
    )  # fmt: skip


def test_replay_samples_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = _cli("replay", "samples", str(missing))
    assert result.returncode == 1
    assert result.stdout.strip() == f"movierec replay samples: no such file: {missing}"
    assert "Traceback" not in result.stderr


def test_replay_movielens_without_broker_is_one_line(data_dir: Path) -> None:
    port = free_port()  # nothing listens there
    result = _cli("replay", "movielens", "--limit", "5", "--quiet",
                  env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}", "MOVIEREC_DATA_DIR": str(data_dir)})
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        f"movierec replay movielens: no Kafka broker answers at 127.0.0.1:{port}: start the local stack "
        "(`make up`) or set KAFKA_BOOTSTRAP_SERVERS"
    ]
    assert "Traceback" not in result.stderr


def test_commands_without_the_stack_are_one_line(data_dir: Path) -> None:
    """Nothing answers at the endpoint: every command that meets it says so in one line (infra/cli.py)."""
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"AWS_ENDPOINT_URL": endpoint, "MOVIEREC_DATA_DIR": str(data_dir), "AWS_MAX_ATTEMPTS": "1"}
    for command in (("index", "status"), ("data", "publish-prior")):
        result = _cli(*command, env=env)
        assert result.returncode == 1, result
        assert result.stdout.strip().splitlines() == [
            f"movierec {command[0]}: no AWS endpoint answers at {endpoint}: start the local stack (`make up`) "
            "or set AWS_ENDPOINT_URL"
        ], result.stdout
        assert "Traceback" not in result.stderr, result.stderr


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append(((*path, name), child))
                found += _commands(child, (*path, name))
    return found


def test_every_command_has_help_and_one_example() -> None:
    commands = _commands(build_parser())
    assert ("history",) in [path for path, _ in commands]
    for path, parser in commands:
        text = parser.format_help()
        assert parser.description, path
        examples = [line for line in text.splitlines() if line.startswith("example: movierec ")]
        assert len(examples) == 1, (path, text)
        assert examples[0].split()[2] == path[0] or path[0] in ("replay",), (path, examples)


def test_new_alarms_start_insufficient_data(isolated: Settings) -> None:
    names = [spec.alarm_name(isolated.prefix) for spec in ALARMS]
    alarms = aws.client("cloudwatch", isolated).describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(names)
    assert {a["StateValue"] for a in alarms} == {"INSUFFICIENT_DATA"}

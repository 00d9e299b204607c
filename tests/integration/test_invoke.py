"""``movierec invoke``: every function of template.yaml, run by the CLI on its events/ file, on the test moto.

Each run is a real ``python -m infra.cli invoke <LogicalId> -e <event>`` process: the template decides
handler, code, layer, environment, timeout and memory; the handler runs in a fresh process against the
session's moto server. Ingest goes first with a bigger batch of the same shape (real course lines), so
train has interactions to fit; recommend answers from the published index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.config import REPO_ROOT, Settings
from movierec.index.build import BuildResult
from infra.events import EVENTS_DIR, SAMPLES, stream_records
from infra.invoke import function_ids, function_spec
from infra.cfn import load
from infra.poller import lambda_event


ORDER = ("IngestFunction", "RecommendFunction", "GaugesFunction", "AuditFunction", "GuardFunction", "TrainFunction")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.cli", "invoke", *args], capture_output=True, text=True,
                          env=dict(os.environ), cwd=REPO_ROOT)  # fmt: skip


@pytest.fixture
def invoked(published: BuildResult, settings: Settings, tmp_path: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    big = tmp_path / "ingest-big.json"
    big.write_text(json.dumps(lambda_event(stream_records(Settings(data_dir=settings.data_dir), 1500),
                                           settings.kafka_bootstrap, "aws:kafka")))  # fmt: skip
    events = {f: EVENTS_DIR / SAMPLES[f][0] for f in ORDER} | {"IngestFunction": big}
    caches = ("--env", f"MOVIEREC_INDEX_CACHE={settings.index_cache_dir}",
              "--env", f"MOVIEREC_EMBED_CACHE={settings.embedding_cache_dir}")  # fmt: skip
    return {f: _cli(f, "-e", str(events[f]), *caches) for f in ORDER}


def test_every_function_of_the_template_is_invoked(invoked: dict[str, subprocess.CompletedProcess[str]],
                                                   settings: Settings) -> None:  # fmt: skip
    template = load()
    assert set(ORDER) == set(function_ids(template))
    for function, done in invoked.items():
        assert done.returncode == 0, f"{function}:\n{done.stderr[-3000:]}"
        spec = function_spec(function, settings, template)
        assert "START RequestId:" in done.stderr and f"Memory Size: {spec.memory_mb} MB" in done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if function == "IngestFunction":
            assert result["accepted"] > 1000 and result["rejected_total"] > 0
        elif function == "RecommendFunction":
            assert result["statusCode"] == 200
            assert 0 < len(result["body"].split(",")) <= 20
        elif function == "GaugesFunction":
            assert set(result) == {"IndexAgeSeconds", "QuarantineSize"} and result["QuarantineSize"] > 0
        elif function == "AuditFunction":
            assert result and all(isinstance(v, (int, float)) for v in result.values()), result
        elif function == "GuardFunction":  # no experiment running: nothing to judge, nothing rolled back
            assert result == {"experiment": None, "canary": False, "verdict": None, "rolled_back": False}, result
        else:  # the stream's movie ids the index lacked were added first
            assert result["trained"] is True and result["added"] > 0, result
    assert "published" in invoked["IngestFunction"].stderr  # its EMF metrics went to the local CloudWatch


def test_the_sample_event_of_each_function_runs(settings: Settings) -> None:
    """The committed ingest samples (both Kafka event sources) go through the handler as they are."""
    for name in SAMPLES["IngestFunction"]:
        done = _cli("IngestFunction", "-e", str(EVENTS_DIR / name), "--no-metrics")
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["records"] == 16 and result["accepted"] + result["rejected_total"] + result["skipped"] == 16


def test_an_unknown_function_is_a_one_line_error() -> None:
    done = _cli("NoSuchFunction")
    assert done.returncode == 2 and "not a function of template.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_parameter_a_deploy_would_refuse_is_a_one_line_error() -> None:
    """``--parameter-overrides`` as sam local invoke takes it; a value outside the parameter's pattern is
    refused before the function runs, as CloudFormation refuses the deploy."""
    done = _cli("TrainFunction", "--parameter-overrides", "TrainPrior=movielens")
    assert done.returncode == 2 and "TrainPrior='movielens' does not match its AllowedPattern" in done.stderr
    assert "Traceback" not in done.stderr and "START RequestId:" not in done.stderr
    done = _cli("TrainFunction", "--parameter-overrides", "TrainPrior")
    assert done.returncode == 2 and "take NAME=VALUE, got TrainPrior" in done.stderr

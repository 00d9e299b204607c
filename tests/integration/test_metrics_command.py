"""``movierec metrics`` publishes a followed log's EMF lines on the configured endpoint (here the test moto)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from movierec import aws
from movierec.config import REPO_ROOT, Settings
from tests.fixtures.timeouts import TEST_TIMEOUT_S
def test_followed_emf_lines_become_metrics(isolated: Settings, tmp_path: Path) -> None:
    log = tmp_path / "fn.log"
    log.write_text("an old line\n")
    env = dict(os.environ) | {"MOVIEREC_RUN_DIR": str(tmp_path / "run")}
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "metrics", "--follow", str(log), "--interval", "0.5"],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert "publishing EMF metrics" in proc.stdout.readline()
        now_ms = int(time.time() * 1000)
        doc = {"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{"Namespace": "movierec", "Dimensions": [["function", "stage"]],
               "Metrics": [{"Name": "MetricsCommandProbe", "Unit": "Count"}]}]},
               "function": "probe", "stage": isolated.prefix, "MetricsCommandProbe": [3.0]}  # fmt: skip
        with log.open("a") as f:
            f.write("START RequestId: x\n" + json.dumps(doc) + "\n")
        cloudwatch = aws.client("cloudwatch", isolated)
        deadline = time.monotonic() + TEST_TIMEOUT_S
        found: list = []
        while not found and time.monotonic() < deadline:
            found = cloudwatch.list_metrics(Namespace="movierec", MetricName="MetricsCommandProbe",
                                            Dimensions=[{"Name": "stage", "Value": isolated.prefix}])["Metrics"]  # fmt: skip
            time.sleep(0.5)
        assert found, "the followed EMF line was not published"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=TEST_TIMEOUT_S)
    assert proc.returncode == 0, out
    assert "from 1 documents" in out

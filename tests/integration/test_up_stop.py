"""SIGTERM to ``movierec up`` in the middle of the first index build stops everything quickly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from movierec.config import REPO_ROOT
from infra.stack import port_is_free, free_port
from tests.fixtures.timeouts import TEST_TIMEOUT_S
STOP_BUDGET_S = 15.0


def test_sigterm_mid_embedding_stops_everything(tmp_path: Path, data_dir: Path) -> None:
    ports = {"MOVIEREC_MOTO_PORT": free_port(), "MOVIEREC_KAFKA_PORT": free_port(), "MOVIEREC_API_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "KAFKA_BOOTSTRAP_SERVERS")} | {
        **{k: str(v) for k, v in ports.items()},
        "MOVIEREC_RUN_DIR": str(tmp_path / "run"),
        "MOVIEREC_EMBED_CACHE": str(tmp_path / "embed"),  # empty: the build embeds the whole catalog
        "MOVIEREC_INDEX_CACHE": str(tmp_path / "index"),
        "MOVIEREC_DATA_DIR": str(data_dir),
        "MOVIEREC_PREFIX": "upstop",
        "MOVIEREC_REPLAY_ON_UP": "none",
        "MOVIEREC_RETRAIN_EVERY_MIN": "0",
    }
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "up"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    output: list[str] = []
    embedding = threading.Event()

    def read() -> None:  # raw chunks: the embedding's progress bar redraws with \r, not newlines
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 4096):
            output.append(chunk.decode("utf-8", "replace"))
            if "starting index" in "".join(output) and "Batches:" in "".join(output[-3:]):
                embedding.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # The sentence-transformers progress bar shows once the model is loaded and the catalog's
        # 16,960 movies are being embedded (minutes on 2 cores), so the signal lands mid-embedding.
        assert embedding.wait(TEST_TIMEOUT_S * 3), "".join(output)
        assert proc.poll() is None, "".join(output)
        assert "published" not in "".join(output), "".join(output)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TEST_TIMEOUT_S)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    text = "".join(output)
    print(f"movierec up stopped {took:.1f}s after SIGTERM mid-embedding")
    assert proc.returncode == 0, text
    assert "stopped while the index was being built" in text
    assert took <= STOP_BUDGET_S, text
    for port in ports.values():
        assert port_is_free("127.0.0.1", port)
    assert not list((tmp_path / "run").glob("*.pid"))

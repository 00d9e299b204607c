"""Benchmark of a first start: ``movierec up`` from a cold run folder to its first answers, then Ctrl-C.

    .venv/bin/python bench/first_start.py [--moto-port P --kafka-port P --api-port P] [--until collab|content]
                                          [--embed-cache DIR] [--timeout 1800]

Runs the real ``movierec up`` (``python -m infra.cli up``, what ``make up`` runs after the install) in a
new process with an empty run folder, state, index cache and (unless ``--embed-cache``) an empty
embedding cache, so it starts as on a fresh machine; the default replay (MovieLens) and retrain settings
apply. It asks ``GET /recommend/1`` (JSON) every half second and prints, counted from the moment the
process was started:

- seconds to the first 200 answer (and which ranker gave it, and whether it was degraded);
- seconds to the first answer that uses user 1's history (the MovieLens replay goes in time order, so
  user 1's first ratings arrive a while after the first ones);
- seconds to the first full answer of the collaborative ranker (200, ``ranker`` ``collab-v2``, not
  degraded);
- with ``--until content`` also seconds to the first answer from the version with the content index
  (the background embedding of the catalog, minutes on 2 cores);
- when ``make up`` printed its milestones (first index, API up, each retrain outcome, content index);
- then it sends SIGTERM and prints the seconds until ``movierec up`` exited, and its exit code.

Ports default to free ones; pass a helper's port range to stay inside it. Everything it started is
stopped at the end (the run folder is a temporary one; a stack left behind by a crash is stopped with
``movierec down`` on that folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from movierec.config import REPO_ROOT  # noqa: E402
from infra.stack import free_port  # noqa: E402

#: Lines of ``movierec up``'s output worth a timestamp (substring -> label).
MILESTONES = {
    "index ": "first index published",
    "movierec is up": "all components started",
    "retrain: not enough": "retrain: not enough data yet",
    "promoted": "retrain: a version promoted",
    "kept, not promoted": "retrain: a version kept, not promoted",
    "content index: embedded": "content index: embedding progress",
    "published (ranker": "content index published",
}


def ask(url: str) -> tuple[int, dict[str, object]] | None:
    """(status, JSON body) of one GET, or None when nothing answers yet."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (OSError, ValueError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moto-port", type=int, default=0)
    parser.add_argument("--kafka-port", type=int, default=0)
    parser.add_argument("--api-port", type=int, default=0)
    parser.add_argument("--until", choices=("collab", "content"), default="collab")
    parser.add_argument("--embed-cache", type=Path, help="an embedding cache to use (default: a new, empty one)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    parser.add_argument("--log", type=Path, help="keep the output of movierec up here, each line with its second")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="movierec-first-start-"))
    ports = {"MOVIEREC_MOTO_PORT": args.moto_port or free_port(), "MOVIEREC_KAFKA_PORT": args.kafka_port or free_port(),
             "MOVIEREC_API_PORT": args.api_port or free_port()}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "KAFKA_BOOTSTRAP_SERVERS")} | {
        **{k: str(v) for k, v in ports.items()},
        "MOVIEREC_RUN_DIR": str(work / "run"),
        "MOVIEREC_INDEX_CACHE": str(work / "index-cache"),
        "MOVIEREC_EMBED_CACHE": str(args.embed_cache or work / "embeddings"),
        "MOVIEREC_PREFIX": "firststart",
    }
    url = f"http://127.0.0.1:{ports['MOVIEREC_API_PORT']}/recommend/1"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; ports {ports}; "
          f"embedding cache {'given' if args.embed_cache else 'empty'}", flush=True)  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "up"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    seen: list[tuple[float, str, str]] = []
    log = (work / "up.log").open("w")

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(f"{time.monotonic() - started:8.2f} {line}")
            log.flush()
            for needle, label in MILESTONES.items():
                if needle in line and (needle != "index " or line.startswith("index ")):
                    seen.append((time.monotonic() - started, label, line.strip()))
                    break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first: tuple[float, object, object] | None = None
    collab: float | None = None
    history: float | None = None
    content: float | None = None
    content_version: str | None = None
    try:
        while time.monotonic() - started < args.timeout and proc.poll() is None:
            answer = ask(url)
            now = time.monotonic() - started
            if answer is not None and answer[0] == 200:
                body = answer[1]
                if first is None:
                    first = (now, body.get("ranker"), body.get("degraded"))
                    print(f"{now:7.1f} s  first 200: ranker {body.get('ranker')}, degraded {body.get('degraded')}, "
                          f"version {body.get('version')}", flush=True)  # fmt: skip
                if history is None and body.get("fallback") is False:
                    history = now
                    print(f"{now:7.1f} s  first answer that uses user 1's ingested history (ranker {body.get('ranker')}, "
                          f"degraded {body.get('degraded')})", flush=True)  # fmt: skip
                if collab is None and body.get("ranker") == "collab-v2" and not body.get("degraded"):
                    collab = now
                    print(f"{now:7.1f} s  first full collaborative answer (version {body.get('version')})", flush=True)
                published = next((line for _, label, line in seen if label == "content index published"), None)
                if published and content_version is None:
                    content_version = published.split()[2]
                if content is None and content_version and body.get("version") == content_version and not body.get("degraded"):
                    content = now
                    print(f"{now:7.1f} s  first answer from the content index ({body.get('ranker')})", flush=True)
            if collab is not None and (args.until == "collab" or content is not None):
                break
            time.sleep(0.5)
    finally:
        sent = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stop_s = time.monotonic() - sent
        reader.join(timeout=5)
        log.close()
    print("\nmilestones of `movierec up` (seconds after start):")
    for at, label, line in seen:
        print(f"  {at:7.1f}  {label}: {line[:110]}")
    fmt = lambda v: f"{v:.1f} s" if v is not None else "not reached"  # noqa: E731
    print(f"\nfirst 200 from /recommend/1: {fmt(first[0] if first else None)}"
          + (f" (ranker {first[1]}, degraded {first[2]})" if first else ""))  # fmt: skip
    print(f"first answer using user 1's history (the replay goes in time order): {fmt(history)}")
    print(f"first full collaborative answer: {fmt(collab)}")
    if args.until == "content":
        print(f"first answer from the content index: {fmt(content)}")
    print(f"SIGTERM -> exit: {stop_s:.1f} s, exit code {proc.returncode}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    if args.log:
        shutil.copy(work / "up.log", args.log)
    if proc.returncode != 0 or first is None:
        print(f"output of movierec up kept in {work / 'up.log'}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

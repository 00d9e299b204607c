"""A Lambda-like runtime for one invocation, run as a fresh process by ``movierec invoke``.

It does what the Lambda Python runtime does for an invocation, minus the container: the function's
code folder is the working directory and the first import path, the layers follow it, the handler
module is imported (the init phase), the handler is called with the event and a context carrying the
function name, memory, request id and the time left before the timeout, and the START / END / REPORT
lines go to the log (stdout) as in a Lambda log stream. A handler still running at its timeout ends the
process with "Task timed out", as Lambda ends the invocation.

Only the standard library is imported here, so nothing of ours precedes the function's own imports.
The ingest poller (which invokes the handler in-process) uses :class:`LambdaContext` too.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Exit status of an invocation that raised, and of one that ran out of time.
EXIT_ERROR = 1
EXIT_TIMEOUT = 124


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools read."""

    function_name: str = "movierec-ingest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:movierec-ingest"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.monotonic() + 300)
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _watchdog(context: LambdaContext, timeout_s: float, done: threading.Event) -> None:
    if not done.wait(max(0.0, context.deadline - time.monotonic())):
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {context.aws_request_id} "
              f"Task timed out after {timeout_s:.2f} seconds", flush=True)  # fmt: skip
        os._exit(EXIT_TIMEOUT)


def run(spec: dict[str, Any]) -> int:
    """Import the handler, invoke it once, write the result (or the error) to ``spec["result_path"]``."""
    os.chdir(spec["task_root"])
    module_name, attribute = spec["handler"].rsplit(".", 1)
    init_started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attribute)
    init_ms = (time.perf_counter() - init_started) * 1000
    event = json.loads(Path(spec["event_path"]).read_text())
    timeout_s = float(spec["timeout_s"])
    context = LambdaContext(
        function_name=spec["function_name"],
        memory_limit_in_mb=int(spec["memory_mb"]),
        invoked_function_arn=spec["function_arn"],
        aws_request_id=spec["request_id"],
        deadline=time.monotonic() + timeout_s,
        log_group_name=f"/aws/lambda/{spec['function_name']}",
        log_stream_name=spec["log_stream"],
    )
    done = threading.Event()
    threading.Thread(target=_watchdog, args=(context, timeout_s, done), daemon=True).start()
    print(f"START RequestId: {context.aws_request_id} Version: $LATEST", flush=True)
    started = time.perf_counter()
    status = 0
    try:
        outcome: Any = handler(event, context)
    except Exception as exc:  # the invocation failed: Lambda reports the error object, so do we
        status = EXIT_ERROR
        outcome = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                   "stackTrace": traceback.format_tb(exc.__traceback__)}  # fmt: skip
        traceback.print_exc(file=sys.stdout)
    duration_ms = (time.perf_counter() - started) * 1000
    done.set()
    Path(spec["result_path"]).write_text(json.dumps(outcome, default=str))
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"END RequestId: {context.aws_request_id}", flush=True)
    print(f"REPORT RequestId: {context.aws_request_id}\tDuration: {duration_ms:.2f} ms\t"
          f"Memory Size: {spec['memory_mb']} MB\tMax Memory Used: {max_rss_mb} MB\t"
          f"Init Duration: {init_ms:.2f} ms", flush=True)  # fmt: skip
    return status


if __name__ == "__main__":
    # Run as a script: its own folder (infra/) must not be importable by the function, as on Lambda.
    sys.path.pop(0)
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text())))

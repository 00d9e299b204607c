"""Invoke a function of ``template.yaml`` the way ``sam local invoke`` does, without Docker.

:func:`function_spec` reads what the template says of one function: its handler, code, layers,
environment (``Globals`` merged with its own, intrinsics resolved for the given parameters), timeout and
memory. A zip function's code is its ``CodeUri``; an image function's code is assembled from its
Dockerfile's ``COPY ... ${LAMBDA_TASK_ROOT}/...`` lines and its handler is ``ImageConfig.Command`` or the
Dockerfile's ``CMD``, so the image and the local invocation cannot disagree about what runs.

:func:`invoke` runs the handler once in a fresh process (:mod:`infra.lambda_runtime`) with only that
environment plus the caller's AWS connection settings (endpoint, region, credentials: what
``sam local invoke --env-vars`` and the container's network give it), and returns the result and the log.
The EMF documents in the log are published as metrics by :class:`infra.emf.MetricsPublisher`, as CloudWatch
Logs does on AWS, on whatever endpoint the caller points at (moto or LocalStack).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from movierec.config import REPO_ROOT, Settings
from infra import cfn
from infra.lambda_runtime import EXIT_TIMEOUT

#: Caller variables a local invocation keeps: where AWS is and who calls it (nothing else leaks in).
PASSTHROUGH = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "PATH", "HOME", "LANG", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # fmt: skip
_COPY = re.compile(r"^COPY\s+(?P<src>.+?)\s+\$\{LAMBDA_TASK_ROOT\}(?P<dest>/\S*)\s*$")
_CMD = re.compile(r"^CMD\s+(\[.*\])\s*$")


class InvokeError(RuntimeError):
    """The template does not describe the function well enough to run it; the message says what is missing."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the template declares it."""

    logical_id: str
    function_name: str
    handler: str
    #: (source in the checkout, path inside the task root) pairs; ("functions/ingest", "") is the whole folder.
    code: tuple[tuple[Path, str], ...]
    #: Folders that Lambda puts on the import path from the function's layers (``/opt/python``).
    layer_paths: tuple[Path, ...]
    environment: dict[str, str]
    timeout_s: float
    memory_mb: int
    region: str
    account_id: str

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"


def template_parameters(settings: Settings) -> dict[str, str]:
    """The template parameters that the local settings decide (the rest keep their defaults)."""
    return {"Prefix": settings.prefix, "Stage": settings.stage, "LocalEndpointUrl": settings.aws_endpoint_url or ""}


def function_ids(template: dict[str, Any]) -> list[str]:
    """Logical ids of every function in the template, in template order."""
    return [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]


def _image_code(metadata: dict[str, Any]) -> tuple[tuple[tuple[Path, str], ...], str | None]:
    """The task-root COPY lines and the CMD handler of an image function's Dockerfile."""
    dockerfile = REPO_ROOT / metadata["Dockerfile"]
    context = REPO_ROOT / metadata.get("DockerContext", ".")
    code, cmd = [], None
    for line in dockerfile.read_text().splitlines():
        if m := _COPY.match(line.strip()):
            sources = m.group("src").split()
            for src in sources:
                dest = m.group("dest").lstrip("/")
                if dest == "" or dest.endswith("/"):
                    dest += Path(src).name
                code.append((context / src, dest))
        elif m := _CMD.match(line.strip()):
            cmd = json.loads(m.group(1))[0]
    return tuple(code), cmd


def _layer_path(layer: dict[str, Any]) -> Path:
    """Where a layer's importable code is: ``python/`` inside its content, as Lambda unpacks it to /opt."""
    root = REPO_ROOT / layer["Properties"]["ContentUri"]
    # With a SAM build method the content IS the python/ folder's source (sam build puts it under python/).
    return root if layer.get("Metadata", {}).get("BuildMethod", "").startswith("python") else root / "python"


def function_spec(logical_id: str, settings: Settings, template: dict[str, Any] | None = None,
                  parameters: Mapping[str, str] | None = None) -> FunctionSpec:  # fmt: skip
    """What the template says of function ``logical_id``, resolved for the local settings and any
    ``parameters`` given (``sam local invoke --parameter-overrides``; checked as a deploy checks them)."""
    template = template or cfn.load()
    resources = template["Resources"]
    if logical_id not in function_ids(template):
        raise InvokeError(f"{logical_id} is not a function of template.yaml; functions: {', '.join(function_ids(template))}")
    ctx = cfn.Context(template, {**template_parameters(settings), **(parameters or {})}, region=settings.region)
    globals_ = template.get("Globals", {}).get("Function", {})
    props = resources[logical_id]["Properties"]
    if props.get("PackageType") == "Image":
        code, cmd = _image_code(resources[logical_id]["Metadata"])
        command = props.get("ImageConfig", {}).get("Command")
        handler = command[0] if command else cmd
    else:
        code, handler = ((REPO_ROOT / props["CodeUri"], ""),), props.get("Handler")
    if not handler:
        raise InvokeError(f"{logical_id}: no handler (Handler, ImageConfig.Command or the Dockerfile's CMD)")
    layers = [cfn.resolve(ref, ctx) for ref in props.get("Layers", [])]
    by_name = {ctx.physical_name(k): v for k, v in resources.items() if v["Type"] == "AWS::Serverless::LayerVersion"}
    env = {**globals_.get("Environment", {}).get("Variables", {}), **props.get("Environment", {}).get("Variables", {})}
    return FunctionSpec(
        logical_id=logical_id,
        function_name=str(cfn.resolve(props["FunctionName"], ctx)),
        handler=handler,
        code=code,
        layer_paths=tuple(_layer_path(by_name[name]) for name in layers),
        environment={k: str(v) for k, v in cfn.resolve(env, ctx).items()},
        timeout_s=float(props.get("Timeout", globals_.get("Timeout", 3))),
        memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        region=settings.region,
        account_id=ctx.account_id,
    )


@dataclass(frozen=True)
class Invocation:
    """What one invocation gave: the handler's return value (or Lambda's error object) and the log."""

    request_id: str
    result: Any
    log: str
    failed: bool
    timed_out: bool


def _task_root(spec: FunctionSpec, into: Path) -> Path:
    """The function's code laid out as in its zip or image (a copy, so the run writes nothing in the checkout)."""
    root = into / "task"
    root.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for src, dest in spec.code:
        target = root / dest if dest else root
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True, ignore=ignore)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return root


def invoke(
    spec: FunctionSpec,
    event: Any,
    env: dict[str, str] | None = None,
    caller_env: dict[str, str] | None = None,
) -> Invocation:
    """Run ``spec``'s handler once on ``event`` in a fresh process; ``env`` overrides the function's environment."""
    caller = dict(os.environ if caller_env is None else caller_env)
    request_id = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="movierec-invoke-") as tmp:
        work = Path(tmp)
        root = _task_root(spec, work)
        (work / "event.json").write_text(json.dumps(event))
        runtime_spec = {
            "task_root": str(root), "handler": spec.handler, "event_path": str(work / "event.json"),
            "result_path": str(work / "result.json"), "timeout_s": spec.timeout_s, "memory_mb": spec.memory_mb,
            "function_name": spec.function_name, "function_arn": spec.arn, "request_id": request_id,
            "log_stream": f"local/[$LATEST]{request_id.replace('-', '')}",
        }  # fmt: skip
        (work / "spec.json").write_text(json.dumps(runtime_spec))
        child_env = {k: caller[k] for k in PASSTHROUGH if k in caller}
        child_env |= {
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": runtime_spec["log_stream"],
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(root),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join([str(root), *(str(p) for p in spec.layer_paths)]),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        child_env |= spec.environment | (env or {})
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("lambda_runtime.py")), str(work / "spec.json")],
            cwd=root, env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        result_path = work / "result.json"
        result = json.loads(result_path.read_text()) if result_path.exists() else None
    log_text = done.stdout.decode("utf-8", "replace")
    timed_out = done.returncode == EXIT_TIMEOUT
    if result is None and not timed_out:  # the process died before the handler returned (init failed)
        result = {"errorMessage": f"the runtime exited with status {done.returncode} before the handler returned",
                  "errorType": "Runtime.ExitError"}  # fmt: skip
    elif timed_out:
        result = {"errorMessage": f"Task timed out after {spec.timeout_s:.2f} seconds", "errorType": "TimeoutError"}
    return Invocation(request_id, result, log_text, failed=done.returncode != 0, timed_out=timed_out)


def publish_metrics(settings: Settings, log_text: str) -> int:
    """Publish the EMF documents of an invocation's log (what CloudWatch Logs does on AWS); returns the count."""
    from infra.emf import MetricsPublisher, emf_of_line

    publisher = MetricsPublisher(settings)
    documents = [doc for line in log_text.splitlines() if (doc := emf_of_line(line)) is not None]
    for doc in documents:
        publisher.accept(doc)
    publisher.flush()
    return len(documents)

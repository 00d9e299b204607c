"""``make up`` / ``movierec up``: the whole local system in the foreground until Ctrl-C.

Starts the embedded stack, bootstraps the resources, then starts the components of the main job in
order and waits. On Ctrl-C (or SIGTERM) it stops the components in reverse order and then only the stack
services this run started itself, so a stack that was already up before stays up.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from movierec.config import Settings
from infra.alarm_evaluator import AlarmEvaluator
from infra.api_server import ApiServer
from infra.bootstrap import bootstrap
from infra.emf import MetricsPublisher
from infra.experiment_guard import ExperimentGuard
from infra.scheduled import AuditSampler, GaugeSampler
from infra.signals import stop_on_signals, wait_for_stop
from infra.index_step import EnsureIndex, IndexInterrupted
from infra.ingest_workers import ingest_component
from infra.replay import Replay
from infra.retrain import Retrainer
from infra.stack import Stack


#: A component whose ``stop`` takes this many seconds or more says so (the 15 s Ctrl-C budget is shared).
SLOW_STOP_S = 1.0


class Component(Protocol):
    """A long-running part of the main job (poller, replay, API server, ...)."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def components(settings: Settings, stop: threading.Event | None = None) -> list[Component]:
    """The main job's parts, in start order (stopped in reverse); ``stop`` interrupts a long start."""
    # Metrics first (so every other part's metrics are collected) and stopped last.
    metrics = MetricsPublisher(settings)
    metrics.follow(settings.run_dir / "logs" / "api.log")  # the API child's stdout (infra/api_server.py)
    parts: list[Component] = [metrics, AlarmEvaluator(settings, store=metrics.percentiles), GaugeSampler(settings)]
    parts.append(AuditSampler(settings))  # the security audit's live signals (docs/audits.md)
    # The index first (the first time: a catalog version in seconds, its content embedded in the
    # background), before ingest's threads compete with it for this process; one lock keeps the
    # background publishers apart.
    publishing = threading.Lock()
    parts.append(EnsureIndex(settings, stop, publishing))
    # Ingest: the poller (or MOVIEREC_INGEST_WORKERS processes side by side), then (unless
    # MOVIEREC_REPLAY_ON_UP=none) one replay into the stream; they run while the API (chalice local, its
    # own process) starts and loads the index.
    parts.append(ingest_component(settings))
    if settings.replay_on_up != "none":
        parts.append(Replay(settings, source=settings.replay_on_up))
    parts += [ApiServer(settings), ExperimentGuard(settings)]
    # Every MOVIEREC_RETRAIN_EVERY_MIN minutes (0 = off; every 15 s until a model is trained): new stream
    # movie ids into the index, then retrain v2.
    parts.append(Retrainer(settings, publishing))
    return parts


def run_up(settings: Settings) -> int:
    """Run the local system until the process gets SIGINT/SIGTERM (call from the main thread)."""
    stop = stop_on_signals()
    stack = Stack(settings)
    started = stack.up()
    running: list[Component] = []
    try:
        for name, address, pid, ok in stack.status():
            print(f"{name:<6} {address:<21} pid {pid}  {'answers' if ok else 'NOT ANSWERING'}", flush=True)
        for outcome in bootstrap(settings):
            print(outcome, flush=True)
        for component in components(settings, stop):
            if stop.is_set():
                break
            print(f"starting {component.name}", flush=True)
            try:
                component.start()
            except IndexInterrupted as exc:
                print(f"index: {exc}", flush=True)
                break
            running.append(component)
        else:
            print("movierec is up; Ctrl-C stops everything this run started", flush=True)
        wait_for_stop(stop)
    finally:
        for component in reversed(running):
            print(f"stopping {component.name}", flush=True)
            began = time.monotonic()
            component.stop()
            if (took := time.monotonic() - began) >= SLOW_STOP_S:  # where a slow Ctrl-C went
                print(f"{component.name} took {took:.1f}s to stop", flush=True)
        if started:
            print(f"stopping {', '.join(reversed(started))}", flush=True)
        stopped = stack.down(only=started)
        if stopped:
            print(f"stopped {', '.join(stopped)}", flush=True)
    return 0

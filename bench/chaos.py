"""Chaos and load suite: crashes, restarts and bad clients against the real local stack; prints figures.

    .venv/bin/python bench/chaos.py [--only kill,broker,storage,load,slow] [--quick]

One private stack (moto + tansu, loopback, free ports unless given) is started for the run and stopped at
the end; every scenario uses its own table prefix and topic on it, and runs for a bounded time:

- ``kill``: MovieLens lines (plus known bad lines) are sent to Kafka, then the ingest poller runs as its
  own process (``movierec ingest``) and is SIGKILLed at random moments, many times, until a last run
  applies the rest. Expected contents are computed from the sent lines by this file's own small fold
  (its own regular expressions and counting, none of the project's parser or aggregation), and compared
  with what DynamoDB holds: lost effects (minutes, ratings, counters short) and duplicated effects
  (counters or minutes over). Kills that left an intent pending in the offsets table are counted.
- ``broker``: tansu on its default storage is restarted between two halves of a replay; the same fold
  shows what the second half left in DynamoDB, and whether the poller stopped loudly or went on.
- ``storage``: moto is restarted under a running API and poller; the answers of ``/health`` and
  ``/recommend`` after it, then (after the tables are bootstrapped again, as an operator would) what the
  tables hold compared with the fold over everything sent.
- ``load``: N concurrent keep-alive clients for T seconds against ``chalice local``, valid user ids only:
  statuses, ``X-Degraded`` answers, latency percentiles against the request budget, the server's RSS.
- ``slow``: N connections that send an unfinished request head and wait; how many the server closes
  and when, and whether a normal client is still answered meanwhile.

Measures the code as it is; asserts nothing, exits 0 (figures go to docs/reliability.md). Run on a
quiet machine where possible: the load generator shares the CPU with the server it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from movierec.config import REPO_ROOT, Settings, get_settings  # noqa: E402
from movierec.index.manifest import Manifest  # noqa: E402
from infra.stack import LOCAL_CREDENTIALS, Stack, free_port  # noqa: E402
from infra.wait import wait_until  # noqa: E402

SCENARIOS = ("kill", "broker", "storage", "load", "slow")

#: Lines the ingest must quarantine (bad timestamp, empty, not UTF-8, bad user id), sent among the good ones.
NOISE = [
    b"2022-1k0-28T04:23:23,90586,GET /data/m/heat+1995/155.mpg",
    b"",
    b"\xff\xfe,1,GET /rate/x=1",
    b"2022-10-28T04:23:24,24f162,GET /data/m/heat+1995/2.mpg",
]


# --- the independent fold: what the sent lines must leave in the tables ------------------------------

_TS = rb"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?"
_WATCH = re.compile(rb"^" + _TS + rb",(\d{1,6}),GET /data/m/([a-z0-9+\-._*]+)/(\d{1,4})\.mpg$")
_RATE = re.compile(rb"^" + _TS + rb",(\d{1,6}),GET /rate/([a-z0-9+\-._*]+)=([1-5])$")


@dataclass
class Expected:
    """Per (user, movie): the set of minutes and the last rating; and how many lines were not events."""

    minutes: dict[tuple[int, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    rating: dict[tuple[int, str], int] = field(default_factory=dict)
    bad: int = 0

    def pairs(self) -> set[tuple[int, str]]:
        return set(self.minutes) | set(self.rating)


def fold(lines: list[bytes]) -> Expected:
    """The sent lines folded by this file's own rules (lines of one user arrive in time order)."""
    out = Expected()
    for line in lines:
        if m := _WATCH.match(line):
            out.minutes[(int(m[1]), m[2].decode())].add(int(m[3]))
        elif m := _RATE.match(line):
            out.rating[(int(m[1]), m[2].decode())] = int(m[3])
        else:
            out.bad += 1
    return out


def movie_counters(history: dict[tuple[int, str], tuple[set[int], int | None]]) -> dict[str, Counter]:
    """Per movie: watchers, distinct (user, minute) pairs, ratings and their sum, from (user, movie) state."""
    out: dict[str, Counter] = defaultdict(Counter)
    for (_, movie), (minutes, rating) in history.items():
        c = out[movie]
        c["watchers"] += 1 if minutes else 0
        c["watch_minutes"] += len(minutes)
        c["ratings_count"] += 1 if rating is not None else 0
        c["ratings_sum"] += rating or 0
    return out


def user_counters(history: dict[tuple[int, str], tuple[set[int], int | None]]) -> dict[int, Counter]:
    out: dict[int, Counter] = defaultdict(Counter)
    for (user, _), (_, rating) in history.items():
        out[user]["movies"] += 1
        out[user]["ratings"] += 1 if rating is not None else 0
    return out


def expected_history(exp: Expected) -> dict[tuple[int, str], tuple[set[int], int | None]]:
    return {pair: (set(exp.minutes.get(pair, ())), exp.rating.get(pair)) for pair in exp.pairs()}


# --- what the tables hold (read through the public table contents) ----------------------------------

def _scan(settings: Settings, logical: str) -> Iterator[dict]:
    import boto3.dynamodb.types as t

    from movierec import aws

    deser = t.TypeDeserializer()
    client = aws.client("dynamodb", settings)
    for page in client.get_paginator("scan").paginate(TableName=settings.table(logical), ConsistentRead=True):
        for raw in page["Items"]:
            yield {k: deser.deserialize(v) for k, v in raw.items()}


def stored_history(settings: Settings) -> dict[tuple[int, str], tuple[set[int], int | None]]:
    """(user, movie) -> (minutes, rating) as the history table holds them (pages decoded by the DAL)."""
    from movierec.dal.history import scan_states
    from movierec.dal.tables import Tables

    return {(user, movie): (set(s.minutes), s.rating)
            for user, states in scan_states(Tables(settings)) for movie, s in states.items()}  # fmt: skip


def applied(settings: Settings) -> int:
    """Records applied over all partitions: the sum of the offsets table's watermarks (0 when gone)."""
    try:
        return sum(int(i.get("next_offset", 0)) for i in _scan(settings, "offsets") if "#" not in i["source"])
    except Exception:  # the table is gone (storage restart): nothing is known to be applied
        return 0


def pending_intents(settings: Settings) -> int:
    """Partitions whose offsets item still holds an intent (a chunk recorded but not yet applied)."""
    return sum(1 for i in _scan(settings, "offsets") if "#" not in i["source"] and i.get("intent") is not None)


@dataclass
class Comparison:
    lost: Counter
    duplicated: Counter
    quarantined: int
    expected_bad: int

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def duplicated_total(self) -> int:
        return sum(self.duplicated.values())

    def lines(self) -> list[str]:
        def fmt(c: Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if v) or "none"

        return [
            f"lost effects:       {self.lost_total} ({fmt(self.lost)})",
            f"duplicated effects: {self.duplicated_total} ({fmt(self.duplicated)})",
            f"quarantined lines:  {self.quarantined} (sent bad lines: {self.expected_bad})",
        ]


def compare(settings: Settings, exp: Expected, seeded: frozenset[int] = frozenset()) -> Comparison:
    """Every effect the fold expects, against the tables: what is short (lost) and what is over (doubled).

    ``seeded``: users whose histories the scenario wrote itself (the serving users), not sent as lines.
    """
    want = expected_history(exp)
    have = {pair: v for pair, v in stored_history(settings).items() if pair[0] not in seeded}
    lost, dup = Counter(), Counter()
    for pair in want.keys() | have.keys():
        w_min, w_rating = want.get(pair, (set(), None))
        h_min, h_rating = have.get(pair, (set(), None))
        lost["history minutes"] += len(w_min - h_min)
        dup["history minutes"] += len(h_min - w_min)
        if w_rating is not None and h_rating != w_rating:
            lost["history ratings"] += 1
        if w_rating is None and h_rating is not None:
            dup["history ratings"] += 1
    for logical, key, want_c, cast in (
        ("movies", "movie_id", movie_counters(want), str),
        ("users", "user_id", user_counters(want), int),
    ):
        names = {"movies": ("watchers", "watch_minutes", "ratings_count", "ratings_sum"),
                 "users": ("movies", "ratings")}[logical]  # fmt: skip
        # A movie's counters are sharded by partition (one item per (movie, shard), issue 17): its
        # figure is the sum of its items. A user has one item.
        have_c: dict = defaultdict(Counter)
        for item in _scan(settings, logical):
            have_c[cast(item[key])].update({name: int(item.get(name, 0)) for name in names})
        for k in want_c.keys() | have_c.keys():
            for name in names:
                diff = have_c.get(k, Counter())[name] - want_c.get(k, Counter())[name]
                lost[f"{logical}.{name}"] += max(0, -diff)
                dup[f"{logical}.{name}"] += max(0, diff)
    quarantined = sum(1 for _ in _scan(settings, "quarantine"))
    if quarantined < exp.bad:
        lost["quarantine"] += exp.bad - quarantined
    else:
        dup["quarantine"] += quarantined - exp.bad
    return Comparison(lost, dup, quarantined, exp.bad)


# --- driving the system ------------------------------------------------------------------------------

@dataclass
class Run:
    """What every scenario shares: the stack, its base settings, a work folder, the seeded randomness."""

    stack: Stack
    base: Settings
    work: Path
    rng: random.Random
    index_folder: Path | None = None
    manifest: Manifest | None = None

    def settings(self, name: str, **overrides: object) -> Settings:
        """The scenario's own prefix, stage and topic, bootstrapped; the environment follows (children too)."""
        from infra.bootstrap import bootstrap

        os.environ.update({"MOVIEREC_PREFIX": f"chaos-{name}", "MOVIEREC_STAGE": f"chaos-{name}",
                           "MOVIEREC_TOPIC": f"chaos-{name}", "MOVIEREC_GROUP": f"chaos-{name}"})  # fmt: skip
        get_settings.cache_clear()
        s = dataclasses.replace(get_settings(), **overrides)  # type: ignore[arg-type]
        bootstrap(s)
        return s


def start_ingest(settings: Settings, log: Path) -> subprocess.Popen:
    """``movierec ingest`` as its own process (small batches: many commit points to be killed between)."""
    env = os.environ | {"MOVIEREC_BATCH_SIZE": str(settings.batch_size),
                        "MOVIEREC_BATCH_WINDOW_S": str(settings.batch_window_s)}  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "infra.cli", "ingest", "--report-every", "1"],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def settle(settings: Settings, target: int, timeout_s: float, quiet_s: float | None = 45.0) -> int:
    """Wait until ``target`` records are applied, or the count stopped moving for ``quiet_s``; the count.

    ``quiet_s`` ends the wait where lines may never be applied (skipped, lost); it must outlast a poller
    process's start on a loaded machine (15 s and more were seen at load average 12).
    """
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = applied(settings)
        if now >= target:
            return now
        if now != last:
            last, since = now, time.monotonic()
        elif quiet_s is not None and time.monotonic() - since > quiet_s:
            break
        time.sleep(0.5)
    return applied(settings)


def stop_process(proc: subprocess.Popen, timeout_s: float = 30.0) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def replay_lines(run: Run, ratings: int) -> list[bytes]:
    """MovieLens ratings in the course format (3 watch minutes and a rating each), bad lines mixed in."""
    from infra.replay import movielens_lines

    lines = list(movielens_lines(minutes_per_rating=3, limit=ratings, settings=run.base))
    for bad in NOISE:
        lines.insert(run.rng.randrange(len(lines)), bad)
    return lines


def send(settings: Settings, lines: list[bytes]) -> None:
    from infra.replay import produce

    produce(settings, lines, progress=False)


def log_errors(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "Traceback" in line]


# --- scenarios ---------------------------------------------------------------------------------------

def scenario_kill(run: Run, args: argparse.Namespace) -> None:
    s = run.settings("kill", batch_size=200, batch_window_s=0.2)
    lines = replay_lines(run, args.kill_ratings)
    exp = fold(lines)
    send(s, lines)
    log = run.work / "kill-ingest.log"
    kills, pending, lives = 0, 0, []
    started = time.monotonic()
    while kills < args.kills and time.monotonic() - started < args.kill_seconds:
        before = applied(s)
        if before >= len(lines):
            break
        proc = start_ingest(s, log)
        # Let the new process get going (it applied something), then kill it at a random moment.
        wait_until(lambda: applied(s) > before or proc.poll() is not None, 120, 0.05)
        time.sleep(run.rng.uniform(0.0, args.kill_max_delay_s))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        pending += 1 if pending_intents(s) else 0
        lives.append(applied(s) - before)
    proc = start_ingest(s, log)
    final = settle(s, len(lines), timeout_s=300, quiet_s=None)  # nothing is skipped here: wait for all
    code = stop_process(proc)
    result = compare(s, exp)
    print(f"lines sent: {len(lines)} ({len(lines) - exp.bad} events of {len(exp.pairs())} (user, movie) pairs, "
          f"{exp.bad} bad); SIGKILLs: {kills}, {pending} of them with an intent pending")
    print(f"records applied per life (before the kill): {lives}")
    print(f"after the last run: {final} of {len(lines)} records applied; last run exit code {code}")
    for line in result.lines():
        print(line)
    print(f"target: 0 lost, 0 duplicated -> {'met' if not result.lost_total and not result.duplicated_total else 'NOT met'}")


def scenario_broker(run: Run, args: argparse.Namespace) -> None:
    s = run.settings("broker", batch_size=200, batch_window_s=0.2)
    print(f"tansu storage: {s.tansu_storage}")
    lines = replay_lines(run, args.broker_ratings)
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2:]
    send(s, first)
    log = run.work / "broker-ingest.log"
    proc = start_ingest(s, log)
    try:
        before = settle(s, len(first), timeout_s=args.broker_seconds)
        print(f"first half: {before} of {len(first)} records applied before the restart")
        run.stack.down(only=["tansu"])
        run.stack.up()
        from infra.bootstrap import bootstrap

        bootstrap(s)  # the topic, as `make up` creates it when missing
        send(s, second)
        after = settle(s, len(lines), timeout_s=args.broker_seconds)
        state = "still running" if proc.poll() is None else f"exited with code {proc.returncode}"
    finally:
        stop_process(proc)
    result = compare(s, fold(lines))
    second_pairs = fold(second).pairs()
    have = stored_history(s)
    want = expected_history(fold(lines))
    short = sum(1 for p in second_pairs if have.get(p) != want.get(p))
    kept = "the log kept its offsets" if after == len(lines) else "the log did not continue where it was"
    print(f"second half: {len(second)} lines sent after the restart; watermark sum now {after} of {len(lines)} "
          f"({kept})")
    print(f"(user, movie) pairs of the second half not as sent: {short} of {len(second_pairs)}")
    for line in result.lines():
        print(line)
    errors = log_errors(log)
    print(f"poller after the restart: {state}; ERROR lines in its log: {len(errors)}")
    for line in errors[:3]:
        print(f"  {line[:160]}")
    loud = proc.returncode not in (None, 0) or bool(errors)
    print(f"target: 0 lost, or a loud stop -> {'met' if not result.lost_total or loud else 'NOT met'}")


def ensure_index(run: Run) -> None:
    """A small real index (course movies embedded by the real model), built once per run."""
    if run.index_folder is not None:
        return
    from movierec.catalog.course import read_course_catalog
    from movierec.index.build import build_index
    from movierec.index.embed import EmbeddingCache

    movies = read_course_catalog(run.base.data_dir / "catalog" / "movies.jsonl").movies[:: 50][:400]
    started = time.monotonic()
    built = build_index(movies, run.work / "index" / "v", cache=EmbeddingCache(run.work / "embeddings"), progress=False)
    run.index_folder, run.manifest = built.folder, built.manifest
    print(f"(index of {len(movies)} course movies built in {time.monotonic() - started:.0f}s)")


def serving(run: Run, name: str) -> tuple[Settings, list[int]]:
    """The scenario's tables with the index published and users of 0..200 movies written; (settings, users)."""
    from bench._recommend_setup import write_users
    from movierec.index.publish import publish

    ensure_index(run)
    assert run.index_folder is not None and run.manifest is not None
    os.environ["MOVIEREC_INDEX_CACHE"] = str(run.work / f"index-cache-{name}")
    s = run.settings(name)
    publish(run.index_folder, run.manifest.version, s)
    users = write_users(run.manifest, s, per_length=3)
    return s, sorted(users)


@contextmanager
def api(settings: Settings) -> Iterator[int]:
    """``chalice local`` as ``make up`` runs it; yields its pid."""
    from infra.api_server import ApiServer

    server = ApiServer(settings, start_timeout_s=180)
    server.start()
    try:
        [(_, _, pid, _)] = server.status()
        assert pid is not None
        yield pid
    finally:
        server.stop()


@dataclass
class Answer:
    status: int  # 0: no answer (timeout, connection closed)
    ms: float
    degraded: str | None


class KeepAlive:
    """One keep-alive connection; reconnects after a failure (which it reports as status 0).

    The server closes a connection idle for its read timeout (``api_read_timeout_s``); a request sent on
    a connection idle that long is sent again once on a new one, as HTTP clients do with an idempotent
    request on a connection the server closed (a probe that waited out a storage restart would otherwise
    count the server's own idle close as an unanswered request). A failure on a fresher connection
    counts as it is.
    """

    def __init__(self, settings: Settings, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = settings.api_host, settings.api_port, timeout_s
        self.idle_close_s = settings.api_read_timeout_s
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        self.used = time.monotonic()

    def get(self, path: str) -> Answer:
        t = time.perf_counter()
        retry = time.monotonic() - self.used >= self.idle_close_s
        while True:
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                r.read()
                self.used = time.monotonic()
                return Answer(r.status, (time.perf_counter() - t) * 1000, r.getheader("X-Degraded"))
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
                self.used = time.monotonic()
                if not retry:
                    return Answer(0, (time.perf_counter() - t) * 1000, None)
                retry = False

    def close(self) -> None:
        self.conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def scenario_load(run: Run, args: argparse.Namespace) -> None:
    import psutil

    s, users = serving(run, "load")
    with api(s) as pid:
        process = psutil.Process(pid)
        warm = KeepAlive(s, 60)
        for user in users:
            warm.get(f"/recommend/{user}")
        warm.close()
        answers: list[Answer] = []
        rss: list[float] = [process.memory_info().rss / 2**20]
        threads_peak = process.num_threads()
        stop = threading.Event()

        def client(n: int) -> None:
            conn = KeepAlive(s, 30)
            i = n
            while not stop.is_set():
                answers.append(conn.get(f"/recommend/{users[i % len(users)]}"))
                i += 1
            conn.close()

        clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
        started = time.monotonic()
        for t in clients:
            t.start()
        while time.monotonic() - started < args.load_seconds:
            time.sleep(min(5.0, args.load_seconds / 6))
            rss.append(process.memory_info().rss / 2**20)
            threads_peak = max(threads_peak, process.num_threads())
        stop.set()
        for t in clients:
            t.join(60)
        elapsed = time.monotonic() - started
        rss.append(process.memory_info().rss / 2**20)
    statuses = Counter(a.status for a in answers)
    ok = [a.ms for a in answers if 200 <= a.status < 300]
    non2xx = sum(v for k, v in statuses.items() if not 200 <= k < 300)
    degraded = Counter(a.degraded for a in answers if a.degraded)
    p99 = pct([a.ms for a in answers], 99)
    print(f"{args.clients} keep-alive clients, {elapsed:.0f}s, {len(users)} valid users (histories 0..200 movies)")
    print(f"answers: {len(answers)} ({len(answers) / elapsed:.0f}/s); statuses: "
          + ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(statuses.items())))
    print(f"X-Degraded answers: {sum(degraded.values())} {dict(degraded) if degraded else ''}")
    print(f"latency ms (all answers): p50 {pct([a.ms for a in answers], 50):.0f}, p99 {p99:.0f}, "
          f"max {max((a.ms for a in answers), default=float('nan')):.0f}; 2xx only: p99 {pct(ok, 99):.0f}")
    print("server RSS MiB: " + " ".join(f"{v:.0f}" for v in rss) + f"; threads peak {threads_peak}")
    print(f"target: 0 non-2xx -> {'met' if not non2xx else f'NOT met ({non2xx})'}; "
          f"p99 <= {args.budget_ms + 100} ms -> {'met' if p99 <= args.budget_ms + 100 else 'NOT met'}; "
          f"RSS flat (last/first after warm-up) {rss[-1] / rss[0]:.2f}x")


def scenario_slow(run: Run, args: argparse.Namespace) -> None:
    import psutil

    s, users = serving(run, "slow")
    with api(s) as pid:
        process = psutil.Process(pid)
        threads_before = process.num_threads()
        socks: list[socket.socket] = []
        refused = 0
        for _ in range(args.slow_clients):
            try:
                sock = socket.create_connection((s.api_host, s.api_port), timeout=10)
                sock.sendall(f"GET /recommend/{users[0]} HTTP/1.1\r\nHost: {s.api_host}\r\n".encode())  # no blank line
                socks.append(sock)
            except OSError:
                refused += 1
        opened_at = time.monotonic()
        closed_at: dict[int, float] = {}
        probes: list[Answer] = []
        threads_peak = threads_before
        rng = random.Random(7)
        while time.monotonic() - opened_at < args.slow_seconds:
            readable, _, _ = select.select([x for x in socks if x.fileno() not in closed_at], [], [], 0.5)
            for sock in readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data or data.startswith(b"HTTP/"):  # closed, or answered with an error (e.g. 408)
                    closed_at[sock.fileno()] = time.monotonic() - opened_at
            probe = KeepAlive(s, 10)  # a normal client on a fresh connection, meanwhile
            probes.append(probe.get(f"/recommend/{rng.choice(users)}"))
            probe.close()
            threads_peak = max(threads_peak, process.num_threads())
        still_open = len(socks) - len(closed_at)
        for sock in socks:
            sock.close()
    ok = [p for p in probes if 200 <= p.status < 300]
    print(f"{len(socks)} connections with an unfinished request head ({refused} refused), held {args.slow_seconds:.0f}s")
    print(f"closed by the server: {len(closed_at)}; still open at the end: {still_open}"
          + (f"; closed after {pct(list(closed_at.values()), 50):.1f}s (median)" if closed_at else ""))
    print(f"server threads: {threads_before} before, peak {threads_peak}")
    print(f"normal clients meanwhile: {len(ok)} of {len(probes)} answered 2xx; "
          f"latency p50 {pct([p.ms for p in probes], 50):.0f} ms, max {max((p.ms for p in probes), default=0):.0f} ms")
    print(f"target: slow connections closed, normal clients served -> "
          f"{'met' if still_open == 0 and len(ok) == len(probes) else 'NOT met'}")


def scenario_storage(run: Run, args: argparse.Namespace) -> None:
    s, users = serving(run, "storage")
    s = dataclasses.replace(s, batch_size=200, batch_window_s=0.2)
    lines = replay_lines(run, args.storage_ratings)
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2:]
    log = run.work / "storage-ingest.log"
    with api(s):
        proc = start_ingest(s, log)
        try:
            send(s, first)
            before = settle(s, len(first), timeout_s=args.storage_seconds)
            print(f"first half: {before} of {len(first)} records applied before the restart")
            probe = KeepAlive(s, 10)
            baseline = [probe.get(f"/recommend/{u}") for u in users[:10]]
            run.stack.down(only=["moto"])
            run.stack.up()
            kept = applied(s) == before  # the storage came back with its data (moto's journal)
            answers: list[tuple[str, Answer]] = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < args.storage_probe_s:
                answers.append(("health", probe.get("/health")))
                answers.append(("recommend", probe.get(f"/recommend/{run.rng.choice(users)}")))
                time.sleep(0.2)
            probe.close()
            from infra.bootstrap import bootstrap

            bootstrap(s)  # the tables and bucket again (empty), as an operator or `make up` would
            send(s, second)
            after = settle(s, len(lines), timeout_s=args.storage_seconds)
            state = "still running" if proc.poll() is None else f"exited with code {proc.returncode}"
        finally:
            stop_process(proc)
    result = compare(s, fold(lines), frozenset(users))
    print(f"storage after the restart: {'kept its data' if kept else 'empty'}")
    print(f"before the restart: /recommend statuses {dict(Counter(a.status for a in baseline))}")
    for kind in ("health", "recommend"):
        got = [a for k, a in answers if k == kind]
        print(f"after the restart ({args.storage_probe_s:.0f}s): /{kind} statuses {dict(Counter(a.status for a in got))}"
              f", X-Degraded {sum(1 for a in got if a.degraded)}")
    print(f"after re-bootstrap and the second half: watermark sum {after} of {len(lines)} sent; poller {state}")
    for line in result.lines():
        print(line)
    health = [a.status for k, a in answers if k == "health"]
    recommend = [a.status for k, a in answers if k == "recommend"]
    # Storage that kept its data must serve at once; storage that came back empty must say so on /health.
    honest = all(h == 200 for h in health) if kept else all(h != 200 for h in health)
    print(f"target: 0 lost, 0 duplicated -> {'met' if not result.lost_total and not result.duplicated_total else 'NOT met'}; "
          f"no non-2xx /recommend -> {'met' if all(200 <= r < 300 for r in recommend) else 'NOT met'}; "
          f"/health true to the storage -> {'met' if honest else 'NOT met'}")


# --- main --------------------------------------------------------------------------------------------

def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--quick", action="store_true", help="short durations everywhere (a run of a few minutes)")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--moto-port", type=int, default=0, help="0 = a free port")
    p.add_argument("--kafka-port", type=int, default=0)
    p.add_argument("--api-port", type=int, default=0)
    p.add_argument("--kill-ratings", type=int, default=5000, help="MovieLens ratings replayed (4 lines each)")
    p.add_argument("--kills", type=int, default=15)
    p.add_argument("--kill-max-delay-s", type=float, default=1.5, help="kill up to this long after progress")
    p.add_argument("--kill-seconds", type=float, default=240, help="stop killing after this long")
    p.add_argument("--broker-ratings", type=int, default=2000)
    p.add_argument("--broker-seconds", type=float, default=90, help="longest wait for each half to apply")
    p.add_argument("--storage-ratings", type=int, default=1000)
    p.add_argument("--storage-seconds", type=float, default=90)
    p.add_argument("--storage-probe-s", type=float, default=10, help="how long to probe the API after the restart")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--load-seconds", type=float, default=60)
    p.add_argument("--budget-ms", type=float, default=400, help="the API's request budget (issue 12: 400 ms)")
    p.add_argument("--slow-clients", type=int, default=300)
    p.add_argument("--slow-seconds", type=float, default=60)
    args = p.parse_args()
    if args.quick:
        args.kill_ratings, args.kills, args.kill_seconds = 2000, 8, 120
        args.broker_ratings, args.broker_seconds = 1000, 60
        args.storage_ratings, args.storage_seconds, args.storage_probe_s = 500, 60, 5
        args.load_seconds, args.slow_seconds = 20, 20
    chosen = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")

    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="movierec-chaos-"))
    moto_port = args.moto_port or free_port()
    os.environ.update({
        "MOVIEREC_MOTO_PORT": str(moto_port), "MOVIEREC_KAFKA_PORT": str(args.kafka_port or free_port()),
        "MOVIEREC_API_PORT": str(args.api_port or free_port()), "MOVIEREC_RUN_DIR": str(work / "run"),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "AWS_DEFAULT_REGION": "us-east-1",
        "MOVIEREC_INDEX_REFRESH_S": "30", **LOCAL_CREDENTIALS,
    })  # fmt: skip
    os.environ.pop("MOVIEREC_TANSU_STORAGE", None)  # the default storage is what is measured
    get_settings.cache_clear()
    base = get_settings()
    from movierec.observability import emf_output

    emf_output().attach(lambda doc: None)  # this process's own metric documents are not what is measured
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"moto :{base.moto_port}, tansu :{base.kafka_port}, api :{base.api_port}; seed {args.seed}")
    stack = Stack(base, start_timeout_s=120)
    stack.up()
    run = Run(stack, base, work, random.Random(args.seed))
    scenarios = {"kill": scenario_kill, "broker": scenario_broker, "storage": scenario_storage,
                 "load": scenario_load, "slow": scenario_slow}  # fmt: skip
    order = [name for name in ("kill", "load", "slow", "broker", "storage") if name in chosen]  # restarts last
    try:
        for name in order:
            print(f"\n== {name} ==", flush=True)
            started = time.monotonic()
            try:
                scenarios[name](run, args)
            except Exception as exc:  # one scenario's failure is a figure too; the others still run
                print(f"scenario {name} could not complete: {exc!r}")
            print(f"({name}: {time.monotonic() - started:.0f}s; load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        stack.down()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

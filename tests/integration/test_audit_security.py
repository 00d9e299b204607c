"""The security audit: each detector on injected attacks (flagged) and on real clean data (not flagged),
end to end through the real stack (tansu -> poller -> ingest -> moto; the API child over HTTP), the live
metrics of the audit function and its alarms, and the training mitigation.
"""

from __future__ import annotations

import dataclasses
import http.client
from collections import Counter
import uuid
from pathlib import Path

import pytest

from movierec import aws
from movierec.audit.mitigation import exclude_suspected_shilling, log_ratings, suspected_shilling
from movierec.audit.security import (
    ScrapingParams, live_signals, rejections, scraping, shilling,
)  # fmt: skip
from movierec.config import Settings
from movierec.dal.tables import Tables
from movierec.evaluation.interactions import InteractionLog, load_movielens
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from movierec.index.publish import publish
from infra.replay import movielens_events
from movierec.catalog.movielens_stream import movie_ids
from movierec.logic.stream_format import format_line
from movierec.models.audit import ApiCall, RatingRow, RejectRow
from movierec.models.events import RateEvent, WatchEvent
from movierec.models.ranking import Interaction
from movierec.ranking.collab import FoldIn
from movierec.training.job import ranker_for
from movierec.training.model import fit_collab
from infra.alarm_evaluator import AlarmEvaluator
from infra.api_server import ApiServer
from infra.emf import MetricsPublisher
from infra.handlers import load_handler
from infra.stack import free_port
from tests.fixtures.ingest import produce_lines, run_poller_to_end, wait_until
from tests.fixtures.timeouts import TEST_TIMEOUT_S
DAY = 86_400.0


def campaign(target: str, fillers: list[str], start: float, accounts: int = 30, first_user: int = 900_001) -> list[RatingRow]:
    """An 'average attack': new accounts, one every 40 s, each rating the target and a few popular movies 5."""
    return [
        RatingRow(first_user + i, movie, 5.0, start + 40.0 * i + j)
        for i in range(accounts)
        for j, movie in enumerate([target, *fillers])
    ]


# ---- the detectors on rows -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def movielens_ratings(data_dir: Path) -> tuple[list[RatingRow], dict[int, float]]:
    return log_ratings(load_movielens(Settings(data_dir=data_dir)))


def test_shilling_flags_an_injected_campaign_and_nothing_in_real_movielens(movielens_ratings) -> None:
    rows, first = movielens_ratings
    assert shilling(rows, first) == []  # 100,836 real ratings: nothing flagged
    end = max(r.at for r in rows)
    counts = Counter(r.movie_id for r in rows)
    target = min((m for m, n in counts.items() if n == 2), key=int)  # an obscure movie (two ratings)
    spam = campaign(target, ["318", "356"], end + DAY)  # with two of the most rated movies as filler
    flags = shilling(rows + spam, first)
    assert [f.movie_id for f in flags] == [target]
    assert flags[0].accounts == 30 and flags[0].users == tuple(range(900_001, 900_031))
    # The popular fillers got the same burst, but it is a small share of their ratings: not flagged.


def test_shilling_ignores_real_course_stream_ratings(data_dir: Path) -> None:
    """The course stream: ~one rating per user, so almost every rater is 'new'; popular movies stay unflagged."""
    from movierec.logic.parser import parse_line

    rows = []
    for name in ("cmu_f24_rate_lines.txt", "cmu_s25_rate_lines.txt"):
        for line in (data_dir / "stream" / name).read_bytes().splitlines():
            event = parse_line(line)
            if isinstance(event, RateEvent):
                rows.append(RatingRow(event.user_id, event.movie_id, float(event.rating), event.at))
    assert len(rows) > 25_000
    first: dict[int, float] = {}
    assert shilling(rows, first) == []
    spam = campaign("a+pushed+film+2024", [], max(r.at for r in rows) - 3600, accounts=12)
    assert [f.movie_id for f in shilling(rows + spam, first)] == ["a+pushed+film+2024"]


def test_scraping_flags_an_enumerating_caller_and_a_polled_user() -> None:
    t0 = 1_700_000_000.0
    normal = [ApiCall(f"10.0.0.{u % 50}", u, t0 + u) for u in range(1, 200)]  # 50 clients, ~4 users each
    assert scraping(normal).callers == [] and scraping(normal).hot_users == []
    scraper = [ApiCall("10.9.9.9", 5000 + i, t0 + i * 0.5) for i in range(150)]
    polled = [ApiCall("10.0.0.7", 42, t0 + i) for i in range(40)]
    report = scraping(normal + scraper + polled)
    assert [(c.caller, c.distinct_users) for c in report.callers] == [("10.9.9.9", 150)]
    assert [h.user_id for h in report.hot_users] == [42]
    assert report.max_distinct_users == 150


def test_reject_spike_is_found_per_reason() -> None:
    t0 = 1_700_000_000.0
    steady = [RejectRow("bad_timestamp", t0 + h * 3600 + k) for h in range(24) for k in range(3)]
    assert rejections(steady).spikes == []
    burst = [RejectRow("user_id_out_of_range", t0 + 10 * 3600 + k) for k in range(200)]
    report = rejections(steady + burst)
    assert [(s.reason, s.count) for s in report.spikes] == [("user_id_out_of_range", 200)]
    assert report.counts[min(report.counts)] == {"bad_timestamp": 3}


def test_live_signals_judge_the_most_recent_window(movielens_ratings) -> None:
    rows, first = movielens_ratings
    end = max(r.at for r in rows)
    old_spam = campaign("old+pushed+film+2017", ["318"], end - 30 * DAY)  # a campaign long before the newest rating
    assert live_signals(rows + old_spam, first, [], now=end)["ShillingSuspects"] == 0
    new_spam = campaign("new+pushed+film+2018", ["318"], end + 60)
    calls = [ApiCall("10.9.9.9", u, 1000.0 + u) for u in range(150)]
    values = live_signals(rows + new_spam, first, calls, now=1200.0)
    assert values == {"ShillingSuspects": 1.0, "ScrapingCallers": 1.0, "ScrapingMaxDistinctUsers": 150.0, "HotUsers": 0.0}


# ---- end to end: a spam campaign replayed through the real stack raises the alarm --------------------------


def _state(settings: Settings, name: str) -> str:
    [a] = aws.client("cloudwatch", settings).describe_alarms(AlarmNames=[f"{settings.prefix}-{name}"])["MetricAlarms"]
    return a["StateValue"]


def _spam_lines(target: str, fillers: list[str], start: float) -> list[bytes]:
    """The campaign as course stream lines: each account watches two minutes, then rates 5."""
    lines = []
    for r in campaign(target, fillers, start):
        lines += [format_line(WatchEvent(r.at - 120 + 60 * k, r.user_id, r.movie_id, k)).encode() for k in range(2)]
        lines.append(format_line(RateEvent(r.at, r.user_id, r.movie_id, 5)).encode())
    return lines


@pytest.mark.slow
def test_spam_campaign_replayed_through_ingest_raises_the_shilling_alarm(
    observed: Settings, publisher: MetricsPublisher, data_dir: Path, tmp_path: Path
) -> None:
    s = dataclasses.replace(observed, batch_window_s=0.2, kafka_group=f"g-{uuid.uuid4().hex[:8]}")
    events = list(movielens_events(3, limit=4000, settings=s))
    produce_lines(s, [format_line(e).encode() for e in events])
    run_poller_to_end(s, TEST_TIMEOUT_S)
    handler, evaluator = load_handler("audit"), AlarmEvaluator(s, store=publisher.percentiles)

    clean = handler({}, None)  # what the schedule runs
    publisher.flush()
    evaluator.evaluate_once()
    assert clean["ShillingSuspects"] == 0 and _state(s, "audit-shilling") == "OK"

    seen = {e.movie_id for e in events}
    target = next(m for m in sorted(movie_ids(s).values()) if m not in seen)  # a movie nobody rated yet
    produce_lines(s, _spam_lines(target, [], max(e.at for e in events) + DAY))
    run_poller_to_end(s, TEST_TIMEOUT_S)
    spammed = handler({}, None)
    publisher.flush()
    evaluator.evaluate_once()
    assert spammed["ShillingSuspects"] == 1 and _state(s, "audit-shilling") == "ALARM"

    from infra.cli import main

    assert main(["audit", "security", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "audit-security.md").read_text()
    print(f"clean: {clean}; spammed: {spammed}\n" + report[: report.index("## Scraping")])
    assert "**Flagged movies: 1**" in report and f"| {target} |" in report


@pytest.mark.slow
def test_enumeration_over_http_is_recorded_per_caller_and_raises_the_scraping_alarm(
    observed: Settings, publisher: MetricsPublisher, ml_built: BuildResult, tmp_path: Path
) -> None:
    """chalice local passes the peer address (any 127.x.y.z is loopback); the answer log records it."""
    publish(ml_built.folder, ml_built.manifest.version, observed)
    s = dataclasses.replace(observed, api_port=free_port(), run_dir=tmp_path / "run")
    server = ApiServer(s)
    server.start()

    def ask(source: str, users: range) -> None:
        conn = http.client.HTTPConnection(s.api_host, s.api_port, timeout=TEST_TIMEOUT_S, source_address=(source, 0))
        try:
            for u in users:
                conn.request("GET", f"/recommend/{u}")
                response = conn.getresponse()
                assert response.status == 200
                response.read()
        finally:
            conn.close()

    try:
        ask("127.0.0.1", range(1, 6))  # an ordinary client
        ask("127.0.0.9", range(1000, 1000 + ScrapingParams().max_users_per_caller + 20))  # enumerating
        from movierec.dal.audit_reads import read_api_calls

        assert wait_until(lambda: len(read_api_calls(Tables(s))) == 125, TEST_TIMEOUT_S)  # written off the request path
    finally:
        server.stop()
    by_caller = Counter(c.caller for c in read_api_calls(Tables(s)))
    assert by_caller == {"127.0.0.1": 5, "127.0.0.9": 120}
    values = load_handler("audit")({}, None)
    publisher.flush()
    AlarmEvaluator(s, store=publisher.percentiles).evaluate_once()
    assert values["ScrapingCallers"] == 1 and values["ScrapingMaxDistinctUsers"] == 120
    assert _state(s, "audit-scraping") == "ALARM"


# ---- the mitigation in training ----------------------------------------------------------------------------


def _with_campaign(log: InteractionLog, target: str, fillers: list[str]) -> InteractionLog:
    start = max(i.last_seen for h in log.users.values() for i in h) + DAY
    users = dict(log.users)
    for r in campaign(target, fillers, start):
        users[r.user_id] = users.get(r.user_id, ()) + (Interaction(r.movie_id, r.at, r.rating),)
    return dataclasses.replace(log, users=users)


def _pushed_to(log: InteractionLog, built: BuildResult, target: str, unrelated: list[int]) -> int:
    """Real users (who never saw the target) with the target in their top 20 under a model fitted on ``log``."""
    ranker = ranker_for(load_index(built.folder), fit_collab(log.users), FoldIn())
    return sum(target in {s.movie_id for s in ranker.rank(log.users[u], 20)} for u in unrelated)


def test_excluding_flagged_ratings_keeps_the_pushed_movie_out_of_unrelated_users_top_20(
    slice_log: InteractionLog, ml_built: BuildResult
) -> None:
    counts = Counter(i.movie_id for h in slice_log.users.values() for i in h)
    target = min((m for m in counts if counts[m] >= 3), key=lambda m: (counts[m], m))  # a rarely watched movie
    fillers = [m for m, _ in counts.most_common(3)]
    unrelated = [u for u, h in slice_log.users.items() if target not in {i.movie_id for i in h}]
    before = _pushed_to(slice_log, ml_built, target, unrelated)

    attacked = _with_campaign(slice_log, target, fillers)
    pushed = _pushed_to(attacked, ml_built, target, unrelated)
    print(f"unrelated users with the target in their top 20: {before} before the attack, {pushed} after")
    assert pushed >= before + 10  # the attack works on the unprotected model

    flagged = {f.movie_id for f in suspected_shilling(attacked)}
    # 30 accounts beside 80 real users: a filler whose burst is half its ratings is flagged too (harmless:
    # those ratings are fake as well); the real users' ratings all stay.
    assert target in flagged and flagged <= {target, *fillers}
    cleaned = exclude_suspected_shilling(attacked)
    assert attacked.n_interactions - cleaned.n_interactions == 30 * len(flagged)
    assert all(cleaned.users[u] == h for u, h in slice_log.users.items())
    mitigated = _pushed_to(cleaned, ml_built, target, unrelated)
    print(f"... {mitigated} after training without the flagged ratings (of {len(unrelated)} unrelated users)")
    assert mitigated <= before
    assert exclude_suspected_shilling(slice_log) == slice_log  # clean data: nothing removed


@pytest.mark.slow
def test_the_training_job_hook_leaves_the_flagged_ratings_out(
    observed: Settings, slice_log: InteractionLog, ml_built: BuildResult
) -> None:
    """``train(..., interaction_filter=...)`` (what ``movierec train --exclude-suspected-shilling`` passes) on
    the local stack's tables: the published version was trained without the campaign's ratings."""
    from movierec.training.job import train
    from tests.fixtures.training import write_histories

    publish(ml_built.folder, ml_built.manifest.version, observed)
    counts = Counter(i.movie_id for h in slice_log.users.values() for i in h)
    target = min((m for m in counts if counts[m] >= 3), key=lambda m: (counts[m], m))
    attacked = _with_campaign(slice_log, target, [])
    assert write_histories(Tables(observed), attacked) == slice_log.n_interactions + 30
    outcome = train(observed, interaction_filter=exclude_suspected_shilling)
    assert outcome is not None
    assert outcome.manifest.build["training"]["data"]["interactions"] == slice_log.n_interactions  # type: ignore[index]

"""The closing-the-loop replay: asks before each new session, against the real API, ingest and Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.api_server import ApiServer
from infra.poller import Poller
from infra.replay_loop import Ask, ReplayLoop, timeline
from infra.stack import free_port
from movierec.config import Settings, get_settings
from movierec.dal.history import get_states
from movierec.evaluation.online import load_online
from movierec.index.build import BuildResult
from movierec.models.events import RateEvent, WatchEvent
from movierec.dal.tables import Tables

from tests.fixtures.timeouts import TEST_TIMEOUT_S

H = 3600.0


def test_timeline_asks_one_second_before_each_new_session() -> None:
    events = [
        WatchEvent(0.0, 1, "a", 0),
        RateEvent(60.0, 1, "a", 4),
        WatchEvent(100.0, 2, "b", 0),
        WatchEvent(60.0 + H, 1, "c", 0),  # user 1: a gap of exactly one hour -> new session
        WatchEvent(100.0 + H - 1, 2, "d", 0),  # user 2: just under an hour -> same session
        WatchEvent(10 * H, 1, "e", 0),
    ]
    steps = list(timeline(events, gap_s=H))
    assert [s for s in steps if isinstance(s, Ask)] == [Ask(1, 59.0 + H), Ask(1, 10 * H - 1)]
    # Every ask comes before all of that user's events at or after its time, after all earlier ones.
    for i, step in enumerate(steps):
        if isinstance(step, Ask):
            before = [e for e in steps[:i] if not isinstance(e, Ask) and e.user_id == step.user_id]
            after = [e for e in steps[i:] if not isinstance(e, Ask) and e.user_id == step.user_id]
            assert all(e.at < step.at for e in before) and all(e.at > step.at for e in after)


def test_timeline_caps_asks_per_user() -> None:
    events = [WatchEvent(i * 2 * H, 1, f"m{i}", 0) for i in range(5)]
    assert sum(isinstance(s, Ask) for s in timeline(events, gap_s=H, max_asks_per_user=2)) == 2
    assert sum(isinstance(s, Ask) for s in timeline(events, gap_s=H)) == 4


@pytest.fixture
def running(settings: Settings, published: BuildResult, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:  # fmt: skip
    """The isolated stack plus the ingest poller and the API (a real HTTP child) on a free port."""
    monkeypatch.setenv("MOVIEREC_API_PORT", str(free_port()))
    monkeypatch.setenv("MOVIEREC_RUN_DIR", str(tmp_path / "run"))
    get_settings.cache_clear()
    s = get_settings()
    poller, api = Poller(s), ApiServer(s, start_timeout_s=TEST_TIMEOUT_S)
    poller.start()
    try:
        api.start()
        try:
            yield s
        finally:
            api.stop()
    finally:
        poller.stop()


@pytest.mark.slow
def test_loop_asks_the_real_api_with_only_the_past_known(running: Settings, data_dir: Path, tables: Tables) -> None:
    # Users 548 (26 ratings in 4 sessions) and 595 (20 ratings in 2 sessions): 4 questions in all.
    loop = ReplayLoop(running, users=[548, 595], max_asks_per_user=10,
                      ingest_timeout_s=TEST_TIMEOUT_S, http_timeout_s=TEST_TIMEOUT_S)
    stats = loop.run()
    assert (stats.asks, stats.answered, stats.failed, stats.stale_asks) == (4, 4, 0, 0)
    assert stats.events_sent == 4 * (26 + 20)  # 3 watch events and a rating per MovieLens rating
    requests, _ = load_online(running)
    replayed = [r for r in requests if r.source.startswith("stream:replay-")]
    assert len(replayed) == 4
    for r in replayed:
        assert r.status == 200 and len(r.movie_ids) == 20
        history = get_states(tables, r.user_id)
        watched_before = {m for m, h in history.items() if h.first_seen < r.at}
        assert watched_before, "the API was asked after the user's first session was ingested"
        assert not watched_before & set(r.movie_ids), "a movie watched before the request was recommended"

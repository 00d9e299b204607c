"""Drift: a shifted stream (ratings skewed to 1, a burst of movies the index lacks) through Kafka and
ingest makes the drift alarms fire; an unshifted window does not."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.alarm_evaluator import AlarmEvaluator
from infra.emf import MetricsPublisher
from infra.poller import Poller
from movierec.config import Settings
from movierec.drift.job import run_drift
from movierec.dal.movie_stats import scan_movie_stats
from movierec.dal.tables import Tables
from movierec.drift.stats import (
    RATINGS, PredictionWindow, WindowData, chi_square_p, compare, compare_predictions, popularity_percentiles, psi,
)  # fmt: skip
from movierec.index.build import BuildResult
from movierec.index.loaded import load_index
from tests.fixtures.ingest import produce_lines, wait_until
from tests.fixtures.observability import stats
from tests.fixtures.timeouts import TEST_TIMEOUT_S
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()


def test_psi_and_chi_square_tell_equal_from_shifted_distributions() -> None:
    even = Counter({r: 100 for r in RATINGS})
    assert psi(even, Counter({r: 98 + r for r in RATINGS}), RATINGS) < 0.01
    assert chi_square_p(even, Counter({r: 98 + r for r in RATINGS}), RATINGS) > 0.5
    skewed = Counter({1: 400, 2: 25, 3: 25, 4: 25, 5: 25})
    assert psi(even, skewed, RATINGS) > 0.5 and chi_square_p(even, skewed, RATINGS) < 1e-6
    ref, cur = WindowData(0, 3600, ratings=even, watch_minutes=[10] * 50), WindowData(3600, 7200, ratings=skewed,
                                                                                      watch_minutes=[1] * 50)
    report = compare(ref, cur)
    assert report.minutes_ks == pytest.approx(1.0) and report.minutes_ks_p < 1e-6


def test_popularity_percentiles_and_prediction_drift() -> None:
    pct = popularity_percentiles({"a": 10, "b": 5, "c": 5, "d": 1})
    assert pct == {"a": 1.0, "b": 0.75, "c": 0.75, "d": 0.25}
    head = PredictionWindow(0, 1, answers=2, percentiles=[1.0, 0.75] * 10, movies={"a", "b"})
    tail = PredictionWindow(1, 2, answers=2, percentiles=[0.0, 0.25] * 10, movies={"d", "x", "y"})
    drift = compare_predictions(head, tail, catalog_size=10)
    assert drift.popularity_ks == pytest.approx(1.0) and drift.popularity_ks_p < 1e-6
    assert drift.coverage == pytest.approx(0.3) and head.coverage(10) == pytest.approx(0.2)
    assert compare_predictions(head, head, 10).popularity_ks == 0.0


def _line(at: float, body: str) -> bytes:
    return f"{datetime.fromtimestamp(at, tz=timezone.utc):%Y-%m-%dT%H:%M:%S},{body}".encode()


@pytest.mark.slow
def test_a_shifted_stream_fires_the_drift_alarms(observed: Settings, published: BuildResult, settings: Settings,
                                                 tmp_path: Path) -> None:  # fmt: skip
    s = dataclasses.replace(settings, run_dir=tmp_path / "run", batch_window_s=0.2, kafka_group=f"g-{uuid.uuid4().hex[:8]}")
    known = load_index(published.folder).ids
    lines = []
    # Reference, 00:00-02:00: 60 users rate known movies evenly 1..5 after watching 5-24 minutes.
    for u in range(60):
        at = T0 + u * 110
        movie = known[u % len(known)]
        lines += [_line(at + k, f"{u},GET /data/m/{movie}/{k}.mpg") for k in range(5 + u % 20)]
        lines.append(_line(at + 60, f"{u},GET /rate/{movie}={RATINGS[u % 5]}"))
    # Current, 02:00-03:00: 40 users (half of them new) rate 1 only; 30 of them watch movies the index lacks.
    for i in range(40):
        u, at = 30 + i, T0 + 7200 + i * 80
        movie = f"brand+new+movie+{i}+2031" if i < 30 else known[(i * 7) % len(known)]
        lines += [_line(at + k, f"{u},GET /data/m/{movie}/{k}.mpg") for k in range(2)]
        lines.append(_line(at + 30, f"{u},GET /rate/{movie}=1"))
    poller = Poller(s)
    poller.start()
    try:
        produce_lines(s, lines)
        assert wait_until(lambda: poller.stats.records >= len(lines), TEST_TIMEOUT_S), poller.stats
    finally:
        poller.stop()

    # What the API recommended (its answer log, serving time): the most watched movies for two hours,
    # then, in the last hour, movies nobody watched (a ranker gone wrong).
    tables = Tables(s)
    watchers = {movie: w for movie, w, _ in scan_movie_stats(tables)}
    head = sorted(watchers, key=lambda m: -watchers[m])[:5]
    unwatched = [m for m in known if m not in watchers][:5]
    assert len(unwatched) == 5
    now = T0 + 30 * 86400
    for n in range(60):
        at, movies = (now - 3 * 3600 + n * 150, head) if n < 40 else (now - 3600 + (n - 40) * 150, unwatched)
        tables.recommendations(n, f"{round(at * 1000):013d}#api#{n}", at=at, source="api", status=200,
                               movie_ids=",".join(movies)).save()  # fmt: skip

    # No shift: the second reference hour against the first.
    calm = run_drift(s, window_h=1, reference_h=1, end=T0 + 7200)
    assert calm.rating_psi < 0.1 and calm.unseen_share == 0.0

    publisher = MetricsPublisher(s, interval_s=3600)
    publisher.start()
    try:
        report = run_drift(s, window_h=1, reference_h=2, end=T0 + 3 * 3600, emit=True)
    finally:
        publisher.stop()
    assert report.current.ratings == Counter({1: 40}) and sum(report.reference.ratings.values()) == 60
    assert report.rating_psi > 0.25 and report.rating_chi2_p < 1e-6
    assert report.unseen_share == pytest.approx(30 / 40)
    assert report.current.new_user_share == pytest.approx(10 / 40)  # users 60-69 were never seen before
    assert report.minutes_ks > 0.5
    assert stats(s, "DriftRatingPSI", "drift", "Maximum") == pytest.approx(report.rating_psi, rel=1e-4)
    p = report.predictions
    assert p is not None and (p.reference.answers, p.current.answers) == (40, 20)
    assert set(p.current.percentiles) == {0.0} and min(p.reference.percentiles) > 0.5
    assert p.popularity_ks == pytest.approx(1.0) and p.coverage == pytest.approx(5 / len(known))
    assert stats(s, "DriftRecoPopularityKS", "drift", "Maximum") == pytest.approx(1.0)
    verdicts = {v.alarm: v.state for v in AlarmEvaluator(s).evaluate_once()}
    assert verdicts["drift-ratings"] == "ALARM" and verdicts["drift-unseen-movies"] == "ALARM"
    assert verdicts["drift-recommendations"] == "ALARM"

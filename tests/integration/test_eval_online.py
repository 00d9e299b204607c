"""Online conversion on a small constructed log with answers worked out by hand."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.cli import main as cli
from movierec.config import Settings
from movierec.index.build import BuildResult
from movierec.metrics import ONLINE_CONVERSION, ONLINE_CONVERSION_CURRENT, ONLINE_CONVERSION_PREVIOUS
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.evaluation.online import (
    Request, Watch, conversion_metrics, evaluate_online, format_report, load_online, previous_version,
)  # fmt: skip
from movierec.dal.tables import Tables
from tests.fixtures.observability import stats

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc).timestamp()
H = 3600.0

REQUESTS = [
    # A: user 1 watches m2 one hour later -> converted (30 minutes); m3 only after 25 h.
    Request(1, T0, "api", 200, ("m1", "m2", "m3"), 10.0, "v1"),
    # B: user 2 had watched m1 before the request -> not converted; slow.
    Request(2, T0 + 60, "api", 200, ("m1",), 1200.0, "v2"),
    # C: failed request from a course server in the stream.
    Request(3, T0 + 120, "stream:s1", 500, (), 40.0),
    # D: next day, user 3 watches m6 ten seconds later -> converted (5 minutes).
    Request(3, T0 + 24 * H, "stream:s1", 200, ("m5", "m6"), 50.0),
]
WATCHES = [
    Watch(1, "m2", T0 + H, 30),
    Watch(1, "m3", T0 + 25 * H, 12),
    Watch(2, "m1", T0 - 100, 90),
    Watch(3, "m6", T0 + 24 * H + 10, 5),
    Watch(4, "m9", T0 + 100, 7),  # never recommended
]


def test_conversion_share_and_failures_by_hand() -> None:
    report = evaluate_online(REQUESTS, WATCHES, window_h=24, slow_ms=800)
    g = report.overall
    assert (g.requests, g.failed, g.slow, g.answered, g.converted) == (4, 1, 1, 3, 2)
    assert g.conversion_rate == pytest.approx(2 / 3)
    assert g.mean_minutes == pytest.approx((30 + 5) / 2)
    # watches in the period: m2, m3, m6, m9 (user 2's m1 predates the log); recommended within 24 h: m2, m6
    assert (g.watches, g.recommended_watches) == (4, 2)
    assert g.share_recommended == 0.5


def test_per_version_and_per_day() -> None:
    report = evaluate_online(REQUESTS, WATCHES)
    v = report.by_version
    assert list(v) == ["stream:s1", "v1", "v2"]
    assert (v["v1"].converted, v["v1"].conversion_rate, v["v1"].recommended_watches) == (1, 1.0, 1)
    assert (v["v2"].answered, v["v2"].converted, v["v2"].slow) == (1, 0, 1)
    assert (v["stream:s1"].requests, v["stream:s1"].failed, v["stream:s1"].converted) == (2, 1, 1)
    d = report.by_day
    assert list(d) == ["2024-01-01", "2024-01-02"]
    assert (d["2024-01-01"].requests, d["2024-01-01"].converted, d["2024-01-01"].watches) == (3, 1, 2)
    assert (d["2024-01-02"].requests, d["2024-01-02"].converted) == (1, 1)
    assert (d["2024-01-02"].watches, d["2024-01-02"].recommended_watches) == (2, 1)  # m3 (late), m6
    text = format_report(report)
    assert "| all | 4 | 1 | 1 | 3 | 2 | 0.6667 | 17.5 | 4 | 2 | 0.5000 |" in text


def test_a_wider_window_counts_the_late_watch() -> None:
    g = evaluate_online(REQUESTS, WATCHES, window_h=26).overall
    assert g.converted == 2 and g.converted_minutes == [30, 12, 5]
    assert (g.watches, g.recommended_watches) == (4, 3)


def test_empty_log_reports_zeros() -> None:
    report = evaluate_online([], WATCHES)
    assert report.overall.requests == 0 and report.overall.conversion_rate == 0.0 and report.by_day == {}


def test_load_online_reads_both_sources_from_dynamodb(isolated: Settings, tables: Tables) -> None:
    at_ms = int(T0 * 1000)
    tables.recommendations(1, f"{at_ms:013d}#api#x-0", at=T0, source="api", status=200,
                       movie_ids="m1,m2", latency_ms=12.5, version="v1").save()
    tables.recommendations(1, f"{at_ms + 5000:013d}#stream:s1#ab", at=T0 + 5, source="stream:s1", status=200,
                       movie_ids="m3", latency_ms=300).save()
    save_histories(tables, {1: {
        "m2": HistoryState(frozenset({0, 1, 2}), 2, first_seen=int(T0 + 60), last_seen=int(T0 + 120)),
        "m7": HistoryState(rating=5, first_seen=int(T0 + 60), last_seen=int(T0 + 60)),  # rated, not watched
    }})
    requests, watches = load_online(isolated)
    assert sorted((r.at, r.source, r.movie_ids, r.version) for r in requests) == [
        (T0, "api", ("m1", "m2"), "v1"),
        (T0 + 5, "stream:s1", ("m3",), None),
    ]
    assert watches == [Watch(1, "m2", T0 + 60, 3)]
    g = evaluate_online(requests, watches).overall
    assert (g.converted, g.recommended_watches, g.watches) == (1, 1, 1)


def test_the_previous_version_is_the_one_served_last_before_the_current() -> None:
    log = [Request(1, T0, "api", 200, ("m1",), 5.0, "v1"), Request(1, T0 + 9, "api", 200, ("m1",), 5.0, "v2"),
           Request(1, T0 + 5, "api", 200, ("m1",), 5.0, "v3"), Request(1, T0 + 99, "stream:s1", 200, ("m1",))]
    assert previous_version(log, "v3") == "v2"
    assert previous_version(log, "v2") == "v3"
    assert previous_version(log[:1], "v1") is None


def test_conversion_metrics_name_what_has_answers() -> None:
    report = evaluate_online(REQUESTS, WATCHES)
    assert conversion_metrics(report, "v1", "v2") == {
        ONLINE_CONVERSION: pytest.approx(2 / 3), ONLINE_CONVERSION_CURRENT: 1.0, ONLINE_CONVERSION_PREVIOUS: 0.0,
    }
    assert conversion_metrics(report, "v9", None) == {ONLINE_CONVERSION: pytest.approx(2 / 3)}  # v9 served nothing
    assert conversion_metrics(evaluate_online([], WATCHES), "v1", None) == {}


def test_emit_publishes_the_current_and_previous_versions_conversion(
    settings: Settings, published: BuildResult, tmp_path: Path
) -> None:
    """`movierec eval online --emit` on the real log: the current version (the published pointer) converted
    one answer of two, the version before it none of one; the metrics land in CloudWatch (moto)."""
    tables = Tables(settings)
    current, old = published.manifest.version, "20240101T000000Z-0a1b2c3d"
    at = time.time() - 3 * H
    for n, (user, version, movie) in enumerate([(1, old, "m1"), (2, current, "m2"), (3, current, "m3")]):
        at_ms = int((at + n) * 1000)
        tables.recommendations(user, f"{at_ms:013d}#api#t-{n}", at=at + n, source="api", status=200,
                               movie_ids=movie, latency_ms=10.0, version=version).save()  # fmt: skip
    save_histories(tables, {2: {"m2": HistoryState(frozenset({0, 1}), 1, first_seen=int(at + H), last_seen=int(at + H))}})
    assert cli(["eval", "online", "--emit", "--out", str(tmp_path)]) == 0
    assert stats(settings, ONLINE_CONVERSION_CURRENT, "online", "Maximum") == pytest.approx(0.5)
    assert stats(settings, ONLINE_CONVERSION_PREVIOUS, "online", "Maximum") == 0.0
    assert stats(settings, ONLINE_CONVERSION, "online", "Maximum") == pytest.approx(1 / 3)

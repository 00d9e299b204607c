"""Online conversion on a small constructed log with answers worked out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from movierec.config import Settings
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.evaluation.online import Request, Watch, evaluate_online, format_report, load_online
from movierec.dal.tables import Tables

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

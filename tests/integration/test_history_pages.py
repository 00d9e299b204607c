"""A user's history as compressed pages: exact round trip, stable bytes, growth past one page."""

from __future__ import annotations

import random

from infra.handlers import load_handler
from movierec.config import Settings
from movierec.dal.history import PAGE_BYTES, decode_page, encode_pages, get_history, get_states, merge_pages, page_of
from movierec.dal.tables import HistoryItem, Tables
from movierec.models.state import HistoryState
from tests.fixtures.ingest import kafka_event, snapshot
def _state(rng: random.Random) -> HistoryState:
    first = rng.randint(1_600_000_000, 1_700_000_000) + rng.random()
    return HistoryState(
        minutes=frozenset(rng.sample(range(200), rng.randint(0, 40))),
        max_minute=rng.randint(0, 199),
        rating=rng.choice([None, 1, 2, 3, 4, 5]),
        rated_at=rng.choice([None, first + 5.5]),
        first_seen=first,
        last_seen=first + rng.randint(0, 10_000),
    )


def test_pages_round_trip_exactly_and_deterministically() -> None:
    rng = random.Random(1)
    states = {f"movie+{rng.getrandbits(40):x}+{1950 + i % 70}": _state(rng) for i in range(300)}
    [page] = encode_pages(7, states)
    assert (page.user_id, page.page, page.pages, page.movies) == (7, 0, 1, 300)
    assert decode_page(page) == states
    reordered = dict(sorted(states.items(), reverse=True))
    assert encode_pages(7, reordered)[0].body == page.body  # same history, same bytes


def test_a_large_history_spreads_over_pages_each_within_the_limit() -> None:
    rng = random.Random(2)
    states = {f"{rng.getrandbits(64):016x}": _state(rng) for _ in range(6_000)}
    pages = encode_pages(1, states)
    assert len(pages) > 1 and len(pages) & (len(pages) - 1) == 0  # doubled from 1: a power of two
    assert all(len(p.body) <= PAGE_BYTES and p.pages == len(pages) for p in pages)
    assert all(page_of(m, len(pages)) == p.page for p in pages for m in decode_page(p))
    assert merge_pages(pages) == states


def test_mid_repaging_the_newer_layout_wins() -> None:
    old = HistoryState(max_minute=1, first_seen=1.0, last_seen=1.0)
    new = HistoryState(max_minute=9, first_seen=1.0, last_seen=2.0)
    movie = next(m for m in (f"m{i}" for i in range(100)) if page_of(m, 2) == 1)
    [stale] = encode_pages(3, {movie: old}, 1)
    fresh = encode_pages(3, {movie: new}, 2)
    assert merge_pages([fresh[1], stale]) == {movie: new}
    assert decode_page(HistoryItem(3, 0, pages=2, movies=1, body=stale.body)) == {}  # not this page's movie


def test_ingest_grows_a_heavy_user_past_one_page_exactly_once(isolated: Settings, tables: Tables) -> None:
    """4,000 rated movies of one user: pages split while ingesting, nothing lost, re-delivery changes nothing."""
    handler = load_handler("ingest")
    rng = random.Random(3)
    movies = [f"{rng.getrandbits(48):012x}+1999" for _ in range(4_000)]
    lines = [f"2025-02-12T{6 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},9,GET /rate/{m}={1 + i % 5}".encode()
             for i, m in enumerate(movies)]  # fmt: skip
    for start in range(0, len(lines), 1_000):
        handler(kafka_event(lines[start : start + 1_000], first_offset=start), None)
    stored = list(tables.history.query(9))
    assert len(stored) > 1 and all(int(p.pages) == len(stored) for p in stored)
    history = get_history(tables, 9)
    assert len(history) == 4_000 and {h.rating for h in history} == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert get_states(tables, 9)[movies[7]].rating == 3
    before = snapshot(isolated)
    assert handler(kafka_event(lines), None)["skipped"] == len(lines)
    assert snapshot(isolated) == before

"""A user's history as a few ``history`` items ("pages"), each holding many movies, compressed.

Why pages and not one item per (user, movie): every read and write of an item has a fixed cost (on
DynamoDB a request unit, on moto ~0.5 ms of serialisation), and both our hot paths touch a user's
movies together. Serving reads the whole history for every request: one Query returning one page
instead of hundreds of items. Ingest folds a batch per user: it rewrites one page per user instead of
one item per movie watched. Measured figures are in docs/benchmarks.md.

Layout: movie ``m`` of a user with ``P`` pages lives in page ``crc32(m) % P``; every page stores ``P``.
A user starts with one page; when a page's body would outgrow :data:`PAGE_BYTES`, the user's page count
doubles and all pages are rewritten (so DynamoDB's 400 KB item limit is never reached, however many
movies a user watches). Pages never shrink. Bodies are deterministic (entries sorted by movie id), so
the same history is the same bytes: re-applying a batch leaves the table exactly as it was.
"""

from __future__ import annotations

import itertools
import json
import zlib
from typing import Iterable, Iterator, Mapping

from movierec.dal.tables import HistoryItem, Tables
from movierec.models.state import HistoryState
from movierec.models.ranking import Interaction

#: Largest compressed page body (~1,000-3,000 movies); far below the 400 KB item limit. When a re-paging
#: rewrites a heavy user's every page, the redo intent is stored in slices (see dal/offsets.py).
PAGE_BYTES = 48_000


def page_of(movie_id: str, pages: int) -> int:
    """The page holding ``movie_id`` for a user with ``pages`` pages (stable across processes)."""
    return zlib.crc32(movie_id.encode()) % pages


def _runs(minutes: frozenset[int]) -> list[int]:
    """Sorted minutes as flat inclusive runs ``[a1, b1, a2, b2, ...]`` (a whole film is two numbers)."""
    out: list[int] = []
    for m in sorted(minutes):
        if out and m == out[-1] + 1:
            out[-1] = m
        else:
            out += [m, m]
    return out


def _minutes(runs: list[int]) -> frozenset[int]:
    return frozenset(m for a, b in zip(runs[::2], runs[1::2]) for m in range(a, b + 1))


def _body(states: Mapping[str, HistoryState], movie_ids: Iterable[str]) -> bytes:
    rows = [
        [m, _runs(s.minutes), s.max_minute, s.rating, s.rated_at, s.first_seen, s.last_seen]
        for m in sorted(movie_ids)
        for s in (states[m],)
    ]
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 6)


def decode_page(item: HistoryItem) -> dict[str, HistoryState]:
    """The movies of one page (entries that belong to another page layout are left out)."""
    pages, page = int(item.pages), int(item.page)
    return {
        m: HistoryState(_minutes(runs), max_minute, rating, rated_at, first_seen, last_seen)
        for m, runs, max_minute, rating, rated_at, first_seen, last_seen in json.loads(zlib.decompress(item.body))
        if page_of(m, pages) == page
    }


def encode_pages(
    user_id: int, states: Mapping[str, HistoryState], pages: int = 1, model: type[HistoryItem] = HistoryItem
) -> list[HistoryItem]:
    """Every page of the user's history (``pages`` of them, or more if one would outgrow PAGE_BYTES).

    ``model`` is the class of the pages built: a :class:`Tables`' bound ``history`` for pages to save.
    """
    while True:
        groups: list[list[str]] = [[] for _ in range(pages)]
        for movie_id in states:
            groups[page_of(movie_id, pages)].append(movie_id)
        bodies = [_body(states, group) for group in groups]
        if all(len(b) <= PAGE_BYTES for b in bodies) or pages >= 1024:
            return [
                model(user_id, page, pages=pages, movies=len(group), body=body)
                for page, (group, body) in enumerate(zip(groups, bodies))
            ]
        pages *= 2


def merge_pages(items: Iterable[HistoryItem]) -> dict[str, HistoryState]:
    """One user's history from its pages; mid-way through a re-paging, the newer layout wins."""
    out: dict[str, HistoryState] = {}
    for item in sorted(items, key=lambda i: int(i.pages)):
        out.update(decode_page(item))
    return out


def to_interaction(movie_id: str, state: HistoryState) -> Interaction:
    return Interaction(
        movie_id=movie_id,
        last_seen=float(state.last_seen),
        rating=None if state.rating is None else float(state.rating),
        max_minute=state.max_minute,
        watch_count=len(state.minutes),
    )


def get_states(tables: Tables, user_id: int) -> dict[str, HistoryState]:
    """The user's whole history by movie id (empty for an unknown user): one Query."""
    return merge_pages(tables.history.query(user_id))


def get_history(tables: Tables, user_id: int) -> list[Interaction]:
    """The user's whole history (empty for an unknown user), ordered by movie id."""
    states = get_states(tables, user_id)
    return [to_interaction(m, states[m]) for m in sorted(states)]


def scan_states(tables: Tables) -> Iterator[tuple[int, dict[str, HistoryState]]]:
    """(user id, history by movie id) of every user: one paginated Scan (about one call per MB).

    A user's pages share a partition key, so a Scan returns them next to each other.
    """
    for user_id, items in itertools.groupby(tables.history.scan(), key=lambda i: int(i.user_id)):
        yield user_id, merge_pages(items)


def scan_histories(tables: Tables) -> Iterator[tuple[int, Interaction]]:
    """(user id, interaction) for every movie of every user, in no particular order."""
    for user_id, states in scan_states(tables):
        for movie_id, state in states.items():
            yield user_id, to_interaction(movie_id, state)


def save_histories(tables: Tables, histories: Mapping[int, Mapping[str, HistoryState]]) -> None:
    """Write users' whole histories (for loaders, fixtures and benchmarks; ingest folds instead).

    A user's stored page count is kept (one BatchGetItem per 100 users), so no page of an earlier,
    larger layout is left behind.
    """
    stored = {int(i.user_id): int(i.pages) for i in tables.history.batch_get([(u, 0) for u in histories])}
    with tables.history.batch_write() as batch:
        for user_id, states in histories.items():
            for item in encode_pages(user_id, states, stored.get(user_id, 1), tables.history):
                batch.save(item)

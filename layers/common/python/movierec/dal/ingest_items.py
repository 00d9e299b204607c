"""Ingest's items: reading the stored state a chunk touches, building the new items, writing them.

:class:`ItemWriter` maps between DynamoDB items and the plain states the fold works on
(:mod:`movierec.models.state`): it reads what a chunk touches (BatchGetItem), builds the items of the
new states (keeping attributes ingest does not own, such as a user's profile), and writes them
(BatchWriteItem). It knows nothing of watermarks or intents (:mod:`movierec.dal.offsets`) nor of how
states are folded (:mod:`movierec.logic.aggregate`); :mod:`movierec.ingest` puts the three together.

The writer keeps the items it read or wrote (:class:`ItemCache`): ingest is the single writer of these
items, so what it wrote last is what the table holds, and re-reading it for every batch would only cost
time. One writer is built per process (the Lambda container, the poller) and passed down.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from pynamodb.models import Model

from movierec.dal.history import encode_pages, merge_pages
from movierec.dal.intent_codec import Items
from movierec.dal.movie_stats import movie_state, or_default
from movierec.dal.tables import HistoryItem, MovieItem, Tables, UserItem
from movierec.models.events import RecommendationEvent, Rejection
from movierec.models.ingest import Record
from movierec.models.state import HistoryState, MovieState, UserState

#: Intent sections, in write order (each a table's logical name).
SECTIONS = ("quarantine", "recommendations", "history", "movies", "users")
#: The sections whose items ingest reads back (and so keeps in its cache).
CACHED = ("history", "movies", "users")
#: A quarantined line keeps at most this many bytes (stream lines are short; items hold 400 KB).
MAX_RAW_BYTES = 4096


class ItemCache:
    """Items read or written, by section and key (None = known to be absent); bounded.

    Dropped whenever a write fails or another writer was at work, so it never outlives a doubt.
    """

    def __init__(self, max_items: int = 300_000) -> None:
        self.max_items = max_items
        self._items: dict[tuple[str, Any], Model | None] = {}

    def get_many(self, section: str, model: type[Model], keys: list[Any]) -> dict[Any, Model]:
        """The stored items for ``keys`` (absent keys left out), reading only what the cache lacks."""
        missing = [k for k in keys if (section, k) not in self._items]
        if missing:
            found = {_key_of(item): item for item in model.batch_get(missing, consistent_read=True)}
            if len(self._items) + len(missing) > self.max_items:
                self._items.clear()
            for key in missing:
                self._items[(section, key)] = found.get(key)
        return {k: item for k in keys if (item := self._items.get((section, k))) is not None}

    def remember(self, section: str, items: list[Model]) -> None:
        for item in items:
            self._items[(section, _key_of(item))] = item

    def clear(self) -> None:
        self._items.clear()


def _key_of(item: Model) -> Any:
    if isinstance(item, HistoryItem):
        return (int(item.user_id), int(item.page))
    if isinstance(item, UserItem):
        return int(item.user_id)
    return (item.movie_id, item.shard)


@dataclass
class Stored:
    """The stored items a chunk touches, and the states they hold."""

    pages: dict[int, list[HistoryItem]]
    history: dict[int, dict[str, HistoryState]]
    #: This partition's shard of each movie, by movie id.
    movies: dict[str, MovieItem]
    users: dict[int, UserItem]

    def movie_states(self) -> dict[str, MovieState]:
        return {k: movie_state(v) for k, v in self.movies.items()}

    def user_states(self) -> dict[int, UserState]:
        return {k: _user_state(v) for k, v in self.users.items()}


class ItemWriter:
    """Reads, builds and writes ingest's items in one deployment's :class:`Tables`, with a cache."""

    def __init__(self, tables: Tables, cache: ItemCache | None = None) -> None:
        self.tables = tables
        self.cache = cache or ItemCache()
        #: The bound model of each section (also what an intent's items decode into).
        self.models: dict[str, type[Model]] = {s: getattr(tables, s) for s in SECTIONS}

    def read(self, source: str, user_ids: set[int], movie_ids: set[str]) -> Stored:
        """The stored state of these users (history pages, user items) and of ``source``'s shard of
        these movies (the only shard its writer touches)."""
        history = self.tables.history
        first = self.cache.get_many("history", history, [(u, 0) for u in user_ids])
        more = [(u, p) for (u, _), item in first.items() for p in range(1, int(item.pages))]
        rest = self.cache.get_many("history", history, more) if more else {}
        pages: dict[int, list[HistoryItem]] = {}
        for (user_id, _), item in itertools.chain(first.items(), rest.items()):
            pages.setdefault(user_id, []).append(item)
        return Stored(
            pages=pages,
            history={user_id: merge_pages(items) for user_id, items in pages.items()},
            movies={m: item for (m, _), item in
                    self.cache.get_many("movies", self.tables.movies, [(m, source) for m in movie_ids]).items()},
            users=self.cache.get_many("users", self.tables.users, list(user_ids)),
        )

    def build(
        self,
        source: str,
        stored: Stored,
        rejected: Sequence[Record],
        recommendations: Mapping[str, RecommendationEvent],
        history: Mapping[tuple[int, str], HistoryState],
        movies: Mapping[str, MovieState],
        users: Mapping[int, UserState],
    ) -> Items:
        """The items of the new states (foreign attributes of stored items kept), by section."""
        t = self.tables
        out: Items = {section: [] for section in SECTIONS}
        for record in rejected:
            assert isinstance(record.parsed, Rejection)
            out["quarantine"].append(t.quarantine(
                source, record.offset, reason=record.parsed.reason.value, raw=record.raw[:MAX_RAW_BYTES] or None,
                timestamp=record.timestamp_ms, detail=record.parsed.detail,
            ))  # fmt: skip
        for key, event in recommendations.items():
            out["recommendations"].append(t.recommendations(
                event.user_id, key, at=event.at, source=f"stream:{event.server}", status=event.status,
                movie_ids=",".join(event.movie_ids), latency_ms=event.latency_ms,
            ))  # fmt: skip
        out["history"] = self._changed_pages(stored, history)
        for movie_id, m in movies.items():
            item = _copy(stored.movies.get(movie_id)) or t.movies(movie_id, source)
            item.watchers, item.watch_minutes = m.watchers, m.watch_minutes
            item.ratings_count, item.ratings_sum = m.ratings_count, m.ratings_sum
            item.first_seen, item.last_activity = m.first_seen, m.last_activity
            out["movies"].append(item)
        for user_id, u in users.items():
            item = _copy(stored.users.get(user_id)) or t.users(user_id)
            item.movies, item.ratings, item.first_seen, item.last_seen = u.movies, u.ratings, u.first_seen, u.last_seen
            out["users"].append(item)
        return out

    def _changed_pages(self, stored: Stored, changes: Mapping[tuple[int, str], HistoryState]) -> list[HistoryItem]:
        """The history pages to write: each changed user's pages re-encoded, keeping only those that differ."""
        changed: dict[int, dict[str, HistoryState]] = {}
        for (user_id, movie_id), state in changes.items():
            changed.setdefault(user_id, dict(stored.history.get(user_id, {})))[movie_id] = state
        out: list[HistoryItem] = []
        for user_id, states in changed.items():
            old = {int(p.page): p for p in stored.pages.get(user_id, [])}
            layout = max((int(p.pages) for p in old.values()), default=1)
            for page in encode_pages(user_id, states, layout, self.tables.history):
                before = old.get(int(page.page))
                if before is None or before.body != page.body or before.pages != page.pages:
                    out.append(page)
        return out

    def write(self, items: Items) -> None:
        """BatchWriteItem every item (pynamodb sends 25 a request and retries unprocessed ones)."""
        try:
            for section, model in self.models.items():
                if items.get(section):
                    with model.batch_write() as batch:
                        for item in items[section]:
                            batch.save(item)
        except BaseException:
            self.cache.clear()  # some items may or may not have been written: read them again next time
            raise
        for section in CACHED:
            self.cache.remember(section, items.get(section, []))

    def forget(self) -> None:
        """Drop the cache: another writer (or a crashed delivery) wrote behind our back."""
        self.cache.clear()


def _copy(item: Model | None) -> Model | None:
    """A detached copy (the cached item must not change unless the write succeeds).

    Movie and user items hold only numbers and strings, so a new values dict detaches the copy; this is
    ~10x cheaper than a serialize/deserialize round trip (pynamodb encodes every number with json.dumps).
    """
    if item is None:
        return None
    clone = copy.copy(item)
    clone.attribute_values = dict(item.attribute_values)
    return clone


def _user_state(item: UserItem) -> UserState:
    return UserState(
        movies=int(item.movies or 0),
        ratings=int(item.ratings or 0),
        first_seen=or_default(item.first_seen, float("inf")),
        last_seen=or_default(item.last_seen, float("-inf")),
    )

"""Exactly-once-in-effect writes of one topic-partition's records: watermark + redo intent + batched puts.

The ``offsets`` item of a topic-partition holds ``next_offset`` (the watermark). Records below it were
applied already (a re-delivered or overlapping batch) and are skipped. The rest are folded into
contiguous chunks (:func:`movierec.logic.aggregate.chunks`); for each chunk:

1. read the items it touches (BatchGetItem) and compute their absolute new state (:func:`resolve`);
2. **commit point**: store that list of new states as the chunk's *intent* on the offsets item, on
   condition that the watermark is still where we read it and no other intent is pending (an intent
   too big for one item goes in slices, written first under fresh keys and named by this write);
3. write the new states with BatchWriteItem (25 items a request; absolute states, so writing them
   twice is harmless);
4. advance the watermark past the chunk and drop the intent.

A crash before 2 leaves nothing; after 2, the next delivery finds the intent and re-applies exactly it
(3 and 4) before anything else, so a chunk is applied once and whole, and a crash leaves a clean prefix.
"Before anything else" spans partitions: an intent holds absolute states of items that other partitions
share (a movie's counters), so :func:`recover_pending` re-applies every partition's pending intent before
a delivery applies anything new; otherwise a newer chunk of partition A, written before the redo of
partition B's older intent, would be overwritten by it.
A failed condition at 2 means another delivery got there first: re-read and continue from its watermark.
Any other storage failure raises, so the batch is retried.

Why not TransactWriteItems: moto deep-copies a whole table for every action of a transaction (seconds per
transaction once tables hold thousands of items), and a transaction holds at most 100 actions. The redo
intent gives the same all-or-nothing effect with one conditional write per chunk.

Limit (documented in docs/ingest.md): puts are unconditional, so an item must have one writer at a time.
Locally one poller applies all partitions in sequence; on AWS that means one concurrent batch per
function (or lines keyed by user id, which keeps a user's history on one partition, and movie items
updated by a single consumer).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import time
import uuid
import zlib
from typing import Any, Sequence

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from movierec.dal.history import encode_pages, merge_pages
from movierec.dal.tables import HistoryItem, MovieItem, OffsetItem, QuarantineItem, RecommendationItem, UserItem
from movierec.logic.aggregate import Chunk, PairKey, chunks, count_rejections, resolve
from movierec.models.state import HistoryState, MovieState, UserState
from movierec.models.ingest import Record
from movierec.models.ingest import PartitionResult
from movierec.models.events import Rejection

#: Item writes per chunk: bounds the intent's size (one DynamoDB item holds at most 400 KB).
MAX_CHUNK_ITEMS = 2_000
#: Largest compressed intent we want in one item: a bigger chunk is split in two, down to the smallest
#: chunk; an intent still bigger (a user's whole history re-paged) is stored in slices of this size.
MAX_INTENT_BYTES = 300_000
#: A quarantined line keeps at most this many bytes (stream lines are short; items hold 400 KB).
MAX_RAW_BYTES = 4096
#: Intent sections, in write order, and their models.
_MODELS: dict[str, type[Model]] = {
    "quarantine": QuarantineItem,
    "recommendations": RecommendationItem,
    "history": HistoryItem,
    "movies": MovieItem,
    "users": UserItem,
}


def source_of(topic: str, partition: int) -> str:
    """The key of a topic-partition in the offsets and quarantine tables."""
    return f"{topic}-{partition}"


def _offsets(source: str) -> OffsetItem | None:
    try:
        return OffsetItem.get(source, consistent_read=True)
    except OffsetItem.DoesNotExist:
        return None


def read_watermark(source: str) -> int | None:
    """Next offset to apply for ``source``; None when nothing was ever applied."""
    item = _offsets(source)
    return None if item is None else int(item.next_offset)


def apply_partition(
    source: str, records: Sequence[Record], max_items: int = MAX_CHUNK_ITEMS, max_intent_bytes: int = MAX_INTENT_BYTES
) -> PartitionResult:
    """Apply the records of one topic-partition exactly once in effect; return what happened."""
    result = PartitionResult(source, records=len(records))
    watermark = _settle(source, result)
    pending = sorted((r for r in records if watermark is None or r.offset >= watermark), key=lambda r: r.offset)
    result.skipped = len(records) - len(pending)
    while pending:
        chunk = next(chunks(pending, max_items))
        started = time.perf_counter()
        items = _target_items(source, chunk)
        result.seconds["read"] += time.perf_counter() - started
        blob = _encode(items)
        if len(blob) > max_intent_bytes and max_items > 3:
            max_items //= 2  # big history pages: smaller chunks keep the intent within one item
            continue
        started = time.perf_counter()
        committed, more = _commit_intent(source, watermark, chunk.last, blob, max_intent_bytes)
        if committed:
            _write_items(items)
            _finish(source, chunk.last, more)
            for section, batch in items.items():
                result.writes[section] = result.writes.get(section, 0) + len(batch)
        result.seconds["write"] += time.perf_counter() - started
        if committed:
            result.chunks += 1
            result.accepted += chunk.accepted
            for reason, n in count_rejections(chunk.rejected).items():
                result.rejected[reason] = result.rejected.get(reason, 0) + n
            watermark = chunk.last + 1
        else:  # another delivery moved the watermark: finish its intent if needed, continue after it
            result.conflicts += 1
            CACHE.clear()  # another writer was at work: what we hold may be stale
            watermark = _settle(source, result)
        before = len(pending)
        pending = [r for r in pending if watermark is None or r.offset >= watermark]
        if not committed:
            result.skipped += before - len(pending)
    result.next_offset = watermark
    return result


def recover_pending() -> int:
    """Re-apply the pending intent of every partition (see the module docstring); return how many.

    The offsets table holds one small item per topic-partition, so this Scan costs one request.
    """
    recovered = 0
    for item in OffsetItem.scan(OffsetItem.intent.exists(), consistent_read=True):
        _redo(item)
        recovered += 1
    return recovered


def _redo(item: OffsetItem) -> None:
    CACHE.clear()  # a crashed delivery wrote (some of) these items behind our back
    more = list(item.intent_more or [])
    slices = [OffsetItem.get(key, consistent_read=True).part for key in more]
    _write_items(_decode(b"".join([item.intent, *slices])))
    _finish(item.source, int(item.intent_last), more)


def _settle(source: str, result: PartitionResult) -> int | None:
    """The watermark, after re-applying an intent a crashed delivery left behind."""
    item = _offsets(source)
    if item is None:
        return None
    if item.intent is not None and item.intent_last is not None:
        _redo(item)
        result.recovered += 1
        return int(item.intent_last) + 1
    return int(item.next_offset)


def _commit_intent(
    source: str, watermark: int | None, last: int, blob: bytes, max_bytes: int = MAX_INTENT_BYTES
) -> tuple[bool, list[str]]:
    """Record the chunk's intent unless the watermark moved or an intent is pending.

    Returns whether it was recorded, and the keys of the slices beyond the first when the intent is
    bigger than ``max_bytes``. Those are written first, under keys no other delivery uses; they count
    only once the conditional write of the offsets item names them.
    """
    condition = (
        OffsetItem.source.does_not_exist()
        if watermark is None
        else (OffsetItem.next_offset == watermark) & OffsetItem.intent.does_not_exist()
    )
    slices = [blob[i : i + max_bytes] for i in range(0, len(blob), max_bytes)] or [blob]
    token = uuid.uuid4().hex[:12]
    more = [f"{source}#{token}#{n}" for n in range(1, len(slices))]
    for key, part in zip(more, slices[1:]):
        OffsetItem(key, part=part).save()
    item = OffsetItem(source, next_offset=watermark or 0, intent=slices[0], intent_last=last, intent_more=more or None)
    try:
        item.save(condition=condition)
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            _delete_slices(more)
            return False, []
        raise
    return True, more


def _finish(source: str, last: int, more: list[str]) -> None:
    """Advance the watermark past the applied intent and drop it (a no-op when already done)."""
    try:
        OffsetItem(source).update(
            actions=[OffsetItem.next_offset.set(last + 1), OffsetItem.intent.remove(), OffsetItem.intent_last.remove(),
                     OffsetItem.intent_more.remove()],  # fmt: skip
            condition=OffsetItem.intent_last == last,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    _delete_slices(more)


def _delete_slices(keys: list[str]) -> None:
    for key in keys:
        OffsetItem(key).delete()


def _write_items(items: dict[str, list[Model]]) -> None:
    """BatchWriteItem every item (pynamodb sends 25 a request and retries unprocessed ones)."""
    try:
        for section, model in _MODELS.items():
            if items.get(section):
                with model.batch_write() as batch:
                    for item in items[section]:
                        batch.save(item)
    except BaseException:
        CACHE.clear()  # some items may or may not have been written: read them again next time
        raise
    for section in ("history", "movies", "users"):
        CACHE.remember(items.get(section, []))


# ---- building the new item states ------------------------------------------------------------------


class ItemCache:
    """The items this process read or wrote, by table and key (None = known to be absent).

    Ingest is the single writer of these items (see the module docstring), so what it wrote last is
    what the table holds: re-reading it for every batch would only cost time (moto answers a read of
    a hundred keys in tens of milliseconds). The cache is dropped whenever a write fails, so it never
    outlives a doubt, and it is bounded.
    """

    def __init__(self, max_items: int = 300_000) -> None:
        self.max_items = max_items
        self._items: dict[tuple[str, Any], Model | None] = {}

    def get_many(self, model: type[Model], keys: list[Any]) -> dict[Any, Model]:
        """The stored items for ``keys`` (absent keys left out), reading only what the cache lacks."""
        table = model.Meta.table_name
        missing = [k for k in keys if (table, k) not in self._items]
        if missing:
            found = {_key_of(item): item for item in model.batch_get(missing, consistent_read=True)}
            if len(self._items) + len(missing) > self.max_items:
                self._items.clear()
            for key in missing:
                self._items[(table, key)] = found.get(key)
        return {k: item for k in keys if (item := self._items.get((table, k))) is not None}

    def remember(self, items: list[Model]) -> None:
        for item in items:
            self._items[(item.Meta.table_name, _key_of(item))] = item

    def clear(self) -> None:
        self._items.clear()


def _key_of(item: Model) -> Any:
    if isinstance(item, HistoryItem):
        return (int(item.user_id), int(item.page))
    if isinstance(item, UserItem):
        return int(item.user_id)
    return item.movie_id


#: The process-wide cache (a Lambda container keeps it between invocations, the poller for its life).
CACHE = ItemCache()


def _target_items(source: str, chunk: Chunk) -> dict[str, list[Model]]:
    """The absolute new state of every item the chunk changes (foreign attributes of read items kept)."""
    pages = _history_pages(chunk.users)
    stored = {user_id: merge_pages(items) for user_id, items in pages.items()}
    movies = CACHE.get_many(MovieItem, list(chunk.movies))
    users = CACHE.get_many(UserItem, list(chunk.users))
    resolution = resolve(
        chunk,
        {(u, m): state for (u, m) in chunk.pairs if (state := stored.get(u, {}).get(m)) is not None},
        {k: _movie_state(v) for k, v in movies.items()},
        {k: _user_state(v) for k, v in users.items()},
    )
    out: dict[str, list[Model]] = {section: [] for section in _MODELS}
    for record in chunk.rejected:
        assert isinstance(record.parsed, Rejection)
        out["quarantine"].append(QuarantineItem(
            source, record.offset, reason=record.parsed.reason.value, raw=record.raw[:MAX_RAW_BYTES] or None,
            timestamp=record.timestamp_ms, detail=record.parsed.detail,
        ))
    for key, event in chunk.recommendations.items():
        out["recommendations"].append(RecommendationItem(
            event.user_id, key, at=event.at, source=f"stream:{event.server}", status=event.status,
            movie_ids=",".join(event.movie_ids), latency_ms=event.latency_ms,
        ))
    out["history"] = _changed_pages(pages, stored, resolution.history)
    for movie_id, m in resolution.movies.items():
        item = _copy(movies.get(movie_id)) or MovieItem(movie_id)
        item.watchers, item.watch_minutes = m.watchers, m.watch_minutes
        item.ratings_count, item.ratings_sum = m.ratings_count, m.ratings_sum
        item.first_seen, item.last_activity = m.first_seen, m.last_activity
        out["movies"].append(item)
    for user_id, u in resolution.users.items():
        item = _copy(users.get(user_id)) or UserItem(user_id)
        item.movies, item.ratings, item.first_seen, item.last_seen = u.movies, u.ratings, u.first_seen, u.last_seen
        out["users"].append(item)
    return out


def _history_pages(user_ids: set[int]) -> dict[int, list[HistoryItem]]:
    """Every stored history page of each user (page 0 says how many there are; most users have one)."""
    first = CACHE.get_many(HistoryItem, [(u, 0) for u in user_ids])
    more = [(u, p) for (u, _), item in first.items() for p in range(1, int(item.pages))]
    rest = CACHE.get_many(HistoryItem, more) if more else {}
    out: dict[int, list[HistoryItem]] = {}
    for (user_id, _), item in itertools.chain(first.items(), rest.items()):
        out.setdefault(user_id, []).append(item)
    return out


def _changed_pages(
    pages: dict[int, list[HistoryItem]], stored: dict[int, dict[str, HistoryState]], changes: dict[PairKey, HistoryState]
) -> list[HistoryItem]:
    """The history pages to write: each changed user's pages re-encoded, keeping only those that differ."""
    changed: dict[int, dict[str, HistoryState]] = {}
    for (user_id, movie_id), state in changes.items():
        changed.setdefault(user_id, dict(stored.get(user_id, {})))[movie_id] = state
    out: list[HistoryItem] = []
    for user_id, states in changed.items():
        old = {int(p.page): p for p in pages.get(user_id, [])}
        for page in encode_pages(user_id, states, max((int(p.pages) for p in old.values()), default=1)):
            before = old.get(int(page.page))
            if before is None or before.body != page.body or before.pages != page.pages:
                out.append(page)
    return out


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


def _or(value: Any, default: float) -> float:
    return default if value is None else float(value)


def _movie_state(item: MovieItem) -> MovieState:
    return MovieState(
        watchers=int(item.watchers or 0),
        watch_minutes=int(item.watch_minutes or 0),
        ratings_count=int(item.ratings_count or 0),
        ratings_sum=int(item.ratings_sum or 0),
        first_seen=_or(item.first_seen, float("inf")),
        last_activity=_or(item.last_activity, float("-inf")),
    )


def _user_state(item: UserItem) -> UserState:
    return UserState(
        movies=int(item.movies or 0),
        ratings=int(item.ratings or 0),
        first_seen=_or(item.first_seen, float("inf")),
        last_seen=_or(item.last_seen, float("-inf")),
    )


# ---- intent encoding ---------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot encode {type(value).__name__} in an intent")


def _json_hook(obj: dict[str, Any]) -> Any:
    return base64.b64decode(obj["$b64"]) if obj.keys() == {"$b64"} else obj


def _encode(items: dict[str, list[Model]]) -> bytes:
    """The items as DynamoDB-typed JSON, zlib-compressed (what the intent stores)."""
    doc = {section: [i.serialize() for i in batch] for section, batch in items.items() if batch}
    return zlib.compress(json.dumps(doc, default=_json_default, separators=(",", ":")).encode(), 6)


def _decode(blob: bytes) -> dict[str, list[Model]]:
    doc = json.loads(zlib.decompress(blob), object_hook=_json_hook)
    return {section: [_MODELS[section].from_raw_data(raw) for raw in raws] for section, raws in doc.items()}

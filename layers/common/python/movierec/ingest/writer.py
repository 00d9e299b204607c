"""Apply one topic-partition's records exactly once in effect: fold, resolve, commit, write, advance.

This is the one place that joins the pure fold (:mod:`movierec.logic.aggregate`: chunks, resolve) with
the data layer (:mod:`movierec.dal.ingest_items` reads and writes items, :mod:`movierec.dal.offsets`
keeps the watermark and the redo intent; the protocol is described there). An :class:`IngestWriter` is
built once per process (the ingest handler's container, the local poller) and passed down; it owns the
item cache, so nothing here is process-global.

Puts are unconditional, so an item must have one writer at a time: every item a partition writes is
its own (its shard of a movie's counters, the users its key routes to it; docs/ingest.md), so one writer
per partition, in parallel, is safe.
"""

from __future__ import annotations

import time
from typing import Sequence

from movierec.dal.ingest_items import ItemWriter
from movierec.dal.intent_codec import Items, encode
from movierec.dal.offsets import MAX_INTENT_BYTES, OffsetLog
from movierec.dal.tables import Tables
from movierec.logic.aggregate import Chunk, chunks, count_rejections, count_unkeyed, resolve
from movierec.models.ingest import PartitionResult, Record

#: Item writes per chunk: bounds the intent's size (one DynamoDB item holds at most 400 KB).
MAX_CHUNK_ITEMS = 2_000


class IngestWriter:
    """Applies partitions' records to one deployment's tables; one per process."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.items = ItemWriter(tables)
        self.offsets = OffsetLog(self.items)

    def target_items(self, source: str, chunk: Chunk) -> Items:
        """The absolute new state of every item the chunk changes (foreign attributes of read items kept)."""
        stored = self.items.read(source, chunk.users, chunk.movies)
        history = {(u, m): s for (u, m) in chunk.pairs if (s := stored.history.get(u, {}).get(m)) is not None}
        resolution = resolve(chunk, history, stored.movie_states(), stored.user_states())
        return self.items.build(source, stored, chunk.rejected, chunk.recommendations,
                                resolution.history, resolution.movies, resolution.users)  # fmt: skip

    def apply_partition(
        self,
        source: str,
        records: Sequence[Record],
        max_items: int = MAX_CHUNK_ITEMS,
        max_intent_bytes: int = MAX_INTENT_BYTES,
    ) -> PartitionResult:
        """Apply the records of one topic-partition exactly once in effect; return what happened.

        A chunk whose intent is bigger than ``max_intent_bytes`` is split in two, down to the smallest
        chunk; an intent still bigger (a user's whole history re-paged) is stored in slices.
        """
        result = PartitionResult(source, records=len(records))
        watermark = self._settle(source, result)
        pending = sorted((r for r in records if watermark is None or r.offset >= watermark), key=lambda r: r.offset)
        result.skipped = len(records) - len(pending)
        result.unkeyed = count_unkeyed(pending)
        while pending:
            chunk = next(chunks(pending, max_items))
            started = time.perf_counter()
            items = self.target_items(source, chunk)
            result.seconds["read"] += time.perf_counter() - started
            blob = encode(items)
            if len(blob) > max_intent_bytes and max_items > 3:
                max_items //= 2  # big history pages: smaller chunks keep the intent within one item
                continue
            started = time.perf_counter()
            committed, more = self.offsets.commit_intent(source, watermark, chunk.last, blob, max_intent_bytes)
            if committed:
                self.items.write(items)
                self.offsets.finish(source, chunk.last, more)
                for section, batch in items.items():
                    result.writes[section] = result.writes.get(section, 0) + len(batch)
            result.seconds["write"] += time.perf_counter() - started
            if committed:
                result.chunks += 1
                result.accepted += chunk.accepted
                result.stream_answers += [(e.status, e.latency_ms) for e in chunk.recommendations.values()]
                for reason, n in count_rejections(chunk.rejected).items():
                    result.rejected[reason] = result.rejected.get(reason, 0) + n
                watermark = chunk.last + 1
            else:  # another delivery moved the watermark: finish its intent if needed, continue after it
                result.conflicts += 1
                self.items.forget()  # another writer was at work: what we hold may be stale
                watermark = self._settle(source, result)
            before = len(pending)
            pending = [r for r in pending if watermark is None or r.offset >= watermark]
            if not committed:
                result.skipped += before - len(pending)
        result.next_offset = watermark
        return result

    def _settle(self, source: str, result: PartitionResult) -> int | None:
        watermark, redone = self.offsets.settle(source)
        result.recovered += redone
        if watermark is None:
            # Nothing applied, says the store: whatever we cached predates a loss of the tables (a rebuild
            # from the log follows), so it must not stand in for what they hold now.
            self.items.forget()
        return watermark

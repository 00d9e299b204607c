"""The exactly-once protocol of ingest: a watermark and a redo intent per topic-partition.

The ``offsets`` item of a topic-partition holds ``next_offset`` (the watermark). Records below it were
applied already (a re-delivered or overlapping batch) and are skipped. For each chunk of the rest
(:mod:`movierec.ingest` folds them):

1. read the items it touches and compute their absolute new state;
2. **commit point** (:meth:`OffsetLog.commit_intent`): store that list of new states as the chunk's
   *intent* on the offsets item, on condition that the watermark is still where we read it and no other
   intent is pending (an intent too big for one item goes in slices, written first under fresh keys and
   named by this write);
3. write the new states with BatchWriteItem (absolute states, so writing them twice is harmless);
4. advance the watermark past the chunk and drop the intent (:meth:`OffsetLog.finish`).

A crash before 2 leaves nothing; after 2, the next delivery of that partition finds the intent and
re-applies exactly it (3 and 4) before anything else, so a chunk is applied once and whole, and a crash
leaves a clean prefix. The redo waits for the partition's own next delivery (Lambda retries a failed
batch; the poller seeks back) and needs nothing from the others: every item an intent holds belongs to
its partition alone (movie counters are sharded by partition, users and their histories follow the
user key, see ``MovieItem`` and docs/ingest.md), so partitions apply in parallel and an older intent
can only ever be redone over its own partition's older writes.
A failed condition at 2 means another delivery got there first: re-read and continue from its watermark.
Any other storage failure raises, so the batch is retried.

Why not TransactWriteItems: moto deep-copies a whole table for every action of a transaction (seconds per
transaction once tables hold thousands of items), and a transaction holds at most 100 actions. The redo
intent gives the same all-or-nothing effect with one conditional write per chunk.
"""

from __future__ import annotations

import uuid

from pynamodb.exceptions import PutError, UpdateError

from movierec.dal.ingest_items import ItemWriter
from movierec.dal.intent_codec import decode, slices
from movierec.dal.tables import OffsetItem, Tables

#: Largest compressed intent we want in one item (one DynamoDB item holds at most 400 KB): a bigger
#: intent is stored in slices of this size.
MAX_INTENT_BYTES = 300_000


def source_of(topic: str, partition: int) -> str:
    """The key of a topic-partition in the offsets and quarantine tables."""
    return f"{topic}-{partition}"


def read_offsets(tables: Tables, source: str) -> OffsetItem | None:
    """The offsets item of ``source`` (strongly consistent), None when nothing was ever applied."""
    try:
        return tables.offsets.get(source, consistent_read=True)
    except tables.offsets.DoesNotExist:
        return None


def read_watermark(tables: Tables, source: str) -> int | None:
    """Next offset to apply for ``source``; None when nothing was ever applied."""
    item = read_offsets(tables, source)
    return None if item is None else int(item.next_offset)


class OffsetLog:
    """Watermarks and intents in one deployment's offsets table; redoes intents through ``items``."""

    def __init__(self, items: ItemWriter) -> None:
        self.items = items
        self.model = items.tables.offsets

    def settle(self, source: str) -> tuple[int | None, bool]:
        """The watermark, after re-applying an intent a crashed delivery left behind (and whether it did)."""
        item = read_offsets(self.items.tables, source)
        if item is None:
            return None, False
        if item.intent is not None and item.intent_last is not None:
            self._redo(item)
            return int(item.intent_last) + 1, True
        return int(item.next_offset), False

    def commit_intent(
        self, source: str, watermark: int | None, last: int, blob: bytes, max_bytes: int = MAX_INTENT_BYTES
    ) -> tuple[bool, list[str]]:
        """Record a chunk's intent (``blob``, covering offsets up to ``last``) unless the watermark moved
        from ``watermark`` or an intent is pending.

        Returns whether it was recorded, and the keys of the slices beyond the first when the intent is
        bigger than ``max_bytes``. Those are written first, under keys no other delivery uses; they count
        only once the conditional write of the offsets item names them.
        """
        m = self.model
        condition = (
            m.source.does_not_exist()
            if watermark is None
            else (m.next_offset == watermark) & m.intent.does_not_exist()
        )
        parts = slices(blob, max_bytes)
        token = uuid.uuid4().hex[:12]
        more = [f"{source}#{token}#{n}" for n in range(1, len(parts))]
        for key, part in zip(more, parts[1:]):
            m(key, part=part).save()
        item = m(source, next_offset=watermark or 0, intent=parts[0], intent_last=last, intent_more=more or None)
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                self._delete_slices(more)
                return False, []
            raise
        return True, more

    def finish(self, source: str, last: int, more: list[str]) -> None:
        """Advance the watermark past the applied intent and drop it (a no-op when already done)."""
        m = self.model
        try:
            m(source).update(
                actions=[m.next_offset.set(last + 1), m.intent.remove(), m.intent_last.remove(),
                         m.intent_more.remove()],  # fmt: skip
                condition=m.intent_last == last,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        self._delete_slices(more)

    def _redo(self, item: OffsetItem) -> None:
        self.items.forget()  # a crashed delivery wrote (some of) these items behind our back
        more = list(item.intent_more or [])
        parts = [self.model.get(key, consistent_read=True).part for key in more]
        self.items.write(decode(b"".join([item.intent, *parts]), self.items.models))
        self.finish(item.source, int(item.intent_last), more)

    def _delete_slices(self, keys: list[str]) -> None:
        for key in keys:
            self.model(key).delete()

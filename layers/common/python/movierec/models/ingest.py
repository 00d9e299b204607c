"""What crosses the ingest boundary: a Kafka record with its parse, and what applying records did.

The ingest function builds :class:`Record` from the Lambda event, the fold consumes it, the data layer
fills :class:`PartitionResult`, and the handler (and the local poller) report :class:`Summary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from movierec.models.events import Parsed


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record with its parse: the coordinates make quarantine entries exactly-once."""

    offset: int
    raw: bytes
    parsed: Parsed
    timestamp_ms: int | None = None
    #: The Kafka key (the producer's user field, see ``infra.replay.key_of``); None when it had none.
    key: bytes | None = None


@dataclass
class PartitionResult:
    """What applying one topic-partition's records did."""

    source: str
    records: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  #: records below the watermark: applied by an earlier delivery
    chunks: int = 0
    conflicts: int = 0  #: chunks another delivery applied first
    recovered: int = 0  #: intents of a crashed delivery re-applied
    #: Accepted records not keyed by their user id: such a user's events may reach two partitions, whose
    #: parallel writers would then both write that user's items (see docs/ingest.md, "keyed by user").
    unkeyed: int = 0
    next_offset: int | None = None
    #: Where the time went: "read" (BatchGetItem + folding) and "write" (intent, puts, watermark).
    seconds: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "write": 0.0})
    #: Items written per table (the store's per-item cost is what bounds ingest throughput).
    writes: dict[str, int] = field(default_factory=dict)
    #: (status, latency ms) of each stream ``recommendation request`` line applied by this delivery (not
    #: those an earlier delivery applied), for the course's availability metric.
    stream_answers: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Summary:
    """What one invocation did; the handler's return value (as a dict)."""

    records: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    chunks: int = 0
    conflicts: int = 0
    recovered: int = 0
    unkeyed: int = 0
    next_offsets: dict[str, int | None] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "write": 0.0})
    writes: dict[str, int] = field(default_factory=dict)
    stream_answers: list[tuple[int, int]] = field(default_factory=list)

    def add(self, part: PartitionResult) -> None:
        self.records += part.records
        self.accepted += part.accepted
        for reason, n in part.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        self.skipped += part.skipped
        self.chunks += part.chunks
        self.conflicts += part.conflicts
        self.recovered += part.recovered
        self.unkeyed += part.unkeyed
        for phase, t in part.seconds.items():
            self.seconds[phase] = self.seconds.get(phase, 0.0) + t
        for table, n in part.writes.items():
            self.writes[table] = self.writes.get(table, 0) + n
        self.stream_answers.extend(part.stream_answers)
        self.next_offsets[part.source] = part.next_offset

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict:
        return {
            "records": self.records,
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": self.rejected_total,
            "skipped": self.skipped,
            "chunks": self.chunks,
            "conflicts": self.conflicts,
            "recovered": self.recovered,
            "unkeyed": self.unkeyed,
            "next_offsets": self.next_offsets,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "writes": dict(sorted(self.writes.items())),
        }

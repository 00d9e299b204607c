"""DynamoDB tables (pynamodb models), shaped by the reads the service makes.

- ``history``: a user's movies in a few compressed pages; one Query on ``user_id`` returns the whole history.
- ``movies``: per-movie aggregates for popularity.
- ``users``: user profile and activity counters.
- ``recommendations``: the log of recommendations served or seen in the stream (online evaluation).
- ``quarantine``: rejected stream lines with their reason and Kafka coordinates.
- ``offsets``: per topic-partition watermark of applied Kafka offsets (exactly-once in effect).

The models below are schemas only (their table is "unbound"): a :class:`Tables` object, built once per
process (or once per job) from a :class:`~movierec.config.Settings` and its own :class:`Timeouts`,
derives from each a subclass bound to one table name, region, endpoint and timeouts, with a pynamodb
connection of its own. So the request path (short timeouts) and a job (long ones) can share a process
without changing each other, and tests can hold several stacks side by side. Nothing process-wide is
mutated. These models are the one source of truth for the key schemas: the local bootstrap creates the
tables from them and a test checks ``template.yaml`` against them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from pynamodb.attributes import (
    BinaryAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from movierec.config import Settings


class _Base(Model):
    class Meta:
        table_name = "unbound"
        region = "us-east-1"


class HistoryItem(_Base):
    """One page of a user's history: many movies in one compressed body (see movierec.dal.history).

    Read and written only through :mod:`movierec.dal.history`, which owns the body's format.
    """

    class Meta(_Base.Meta):
        logical = "history"

    user_id = NumberAttribute(hash_key=True)
    page = NumberAttribute(range_key=True)
    #: The user's page count when this page was written (movie m lives in page crc32(m) % pages).
    pages = NumberAttribute()
    #: Movies in this page (readable without decoding the body).
    movies = NumberAttribute()
    #: zlib-compressed JSON rows: movie id, minute runs, max minute, rating, rated at, first/last seen.
    body = BinaryAttribute(legacy_encoding=False)


class MovieItem(_Base):
    """Popularity aggregates of one movie from one topic-partition (a *shard*), as ingested.

    Each partition's writer owns its own shard of every movie (range key ``shard`` = the partition's
    source, ``<topic>-<partition>``), so partitions apply in parallel without writing each other's items;
    a movie's totals are the sum of its shards (:mod:`movierec.dal.movie_stats`), exact because events
    are keyed by user, so a (user, movie) pair lives in one partition. A Scan of this table (or of items
    with ``first_seen`` after some time) lists the movies the stream knows, new ones included.
    """

    class Meta(_Base.Meta):
        logical = "movies"

    movie_id = UnicodeAttribute(hash_key=True)
    shard = UnicodeAttribute(range_key=True)
    watchers = NumberAttribute(default=0)
    watch_minutes = NumberAttribute(default=0)
    ratings_count = NumberAttribute(default=0)
    ratings_sum = NumberAttribute(default=0)
    first_seen = NumberAttribute(null=True)
    last_activity = NumberAttribute(default=0)


class UserItem(_Base):
    """A user: profile fields (from the user API, when known) and activity counters."""

    class Meta(_Base.Meta):
        logical = "users"

    user_id = NumberAttribute(hash_key=True)
    age = NumberAttribute(null=True)
    occupation = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    movies = NumberAttribute(default=0)
    ratings = NumberAttribute(default=0)
    first_seen = NumberAttribute(null=True)
    last_seen = NumberAttribute(default=0)


class RecommendationItem(_Base):
    """One recommendation answer: who, when, what. ``at`` is epoch seconds, as in every table."""

    class Meta(_Base.Meta):
        logical = "recommendations"

    user_id = NumberAttribute(hash_key=True)
    #: ``<epoch ms, 13 digits>#<source>#<discriminator>``: sortable by time, unique per answer.
    request_key = UnicodeAttribute(range_key=True)
    at = NumberAttribute()
    source = UnicodeAttribute()  # "api" (served by us) or "stream:<server>"
    status = NumberAttribute()
    movie_ids = UnicodeAttribute()  # comma-separated, in ranked order
    latency_ms = NumberAttribute(null=True)
    version = UnicodeAttribute(null=True)  # index/model version that produced the answer
    caller = UnicodeAttribute(null=True)  # the caller address the API saw (security audit: scraping)
    experiment = UnicodeAttribute(null=True)  # the experiment the API served it in (source "api" only)
    arm = UnicodeAttribute(null=True)  # "control" or "treatment" of that experiment
    #: Why the API answered the popular list instead (X-Degraded: timeout, history-unavailable, ...), if it did.
    degraded = UnicodeAttribute(null=True)


class QuarantineItem(_Base):
    """A stream line that failed validation, kept aside with its reason and Kafka coordinates."""

    class Meta(_Base.Meta):
        logical = "quarantine"

    source = UnicodeAttribute(hash_key=True)  # "<topic>-<partition>" (or "replay:<file>")
    offset = NumberAttribute(range_key=True)
    reason = UnicodeAttribute()
    raw = BinaryAttribute(legacy_encoding=False, null=True)  # None for an empty line
    timestamp = NumberAttribute(null=True)
    detail = UnicodeAttribute(null=True)


class OffsetItem(_Base):
    """Next offset to apply for one topic-partition, and the chunk being applied (a redo record).

    Ingest first records a chunk's intent (the absolute new state of every item it touches) here, on
    condition that ``next_offset`` is unchanged; then writes the items; then advances ``next_offset`` and
    drops the intent. A crash in between leaves the intent, which the next delivery re-applies first.
    """

    class Meta(_Base.Meta):
        logical = "offsets"

    source = UnicodeAttribute(hash_key=True)  # "<topic>-<partition>"
    next_offset = NumberAttribute(default=0)
    #: zlib-compressed JSON of the items to write (see movierec.dal.intent_codec).
    intent = BinaryAttribute(legacy_encoding=False, null=True)
    #: The last offset the intent covers; ``next_offset`` becomes this + 1 when it is applied.
    intent_last = NumberAttribute(null=True)
    #: Keys of the items holding the rest of an intent too big for one item, in order (see ``part``).
    intent_more = ListAttribute(of=UnicodeAttribute, null=True)
    #: On such an item (key ``<source>#<token>#<n>``): one slice of a pending intent, inert on its own.
    part = BinaryAttribute(legacy_encoding=False, null=True)


ALL_MODELS: tuple[type[_Base], ...] = (
    HistoryItem,
    MovieItem,
    UserItem,
    RecommendationItem,
    QuarantineItem,
    OffsetItem,
)


@dataclass(frozen=True)
class Timeouts:
    """How long one DynamoDB call may take, and how often botocore retries it."""

    connect_s: int
    read_s: float
    retries: int


#: pynamodb's own defaults: right for jobs, where a Scan of a large table may take seconds.
JOB_TIMEOUTS = Timeouts(connect_s=15, read_s=30, retries=3)

M = TypeVar("M", bound=_Base)


def _bound(model: type[M], settings: Settings, timeouts: Timeouts) -> type[M]:
    """A subclass of ``model`` on its physical table, with its own Meta and its own (lazy) connection."""
    meta = type("Meta", (), {
        "logical": model.Meta.logical,
        "table_name": settings.table(model.Meta.logical),
        "region": settings.region,
        "host": settings.aws_endpoint_url,
        "connect_timeout_seconds": timeouts.connect_s,
        "read_timeout_seconds": timeouts.read_s,
        "max_retry_attempts": timeouts.retries,
    })  # fmt: skip
    return type(model.__name__, (model,), {"Meta": meta, "_connection": None, "__module__": __name__})


class Tables:
    """The six tables of one deployment, bound to its names, endpoint and ``timeouts``.

    Each attribute is a pynamodb model class of its own (``tables.users.get(42)``), a subclass
    of the schema model above, so ``isinstance`` checks against the schemas hold. Build it once per
    process or job and pass it down: a new one costs a new connection (tens of ms) on first use.
    """

    def __init__(self, settings: Settings, timeouts: Timeouts | None = None) -> None:
        """``timeouts`` default to :data:`JOB_TIMEOUTS`, with the read timeout of
        ``settings.aws_read_timeout_s`` when that is set (tests on a loaded machine set it; the request
        path passes its own short timeouts and is not affected)."""
        if timeouts is None:
            timeouts = JOB_TIMEOUTS
            if settings.aws_read_timeout_s:
                timeouts = replace(timeouts, read_s=settings.aws_read_timeout_s)
        self.settings = settings
        self.timeouts = timeouts
        self.history = _bound(HistoryItem, settings, timeouts)
        self.movies = _bound(MovieItem, settings, timeouts)
        self.users = _bound(UserItem, settings, timeouts)
        self.recommendations = _bound(RecommendationItem, settings, timeouts)
        self.quarantine = _bound(QuarantineItem, settings, timeouts)
        self.offsets = _bound(OffsetItem, settings, timeouts)

    def all(self) -> tuple[type[_Base], ...]:
        """Every bound model, in the order of :data:`ALL_MODELS`."""
        return (self.history, self.movies, self.users, self.recommendations, self.quarantine, self.offsets)

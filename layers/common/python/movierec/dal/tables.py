"""DynamoDB tables (pynamodb models), shaped by the reads the service makes.

- ``history``: a user's movies in a few compressed pages; one Query on ``user_id`` returns the whole history.
- ``movies``: per-movie aggregates for popularity.
- ``users``: user profile and activity counters.
- ``recommendations``: the log of recommendations served or seen in the stream (online evaluation).
- ``quarantine``: rejected stream lines with their reason and Kafka coordinates.
- ``offsets``: per topic-partition watermark of applied Kafka offsets (exactly-once in effect).

Table names are not fixed at import: :func:`bind` points every model at the names and endpoint of a
:class:`~movierec.config.Settings`, so tests and several stacks can share one process or endpoint.
These models are the one source of truth for the key schemas: the local bootstrap creates the tables
from them and a test checks ``template.yaml`` against them.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from movierec.config import Settings, get_settings


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
    """Popularity aggregates of one movie, as ingested from the stream.

    Ingest keeps one item for every movie id seen in a watch or rate line, so a Scan of this table (or
    of items with ``first_seen`` after some time) lists the movies the stream knows, new ones included.
    """

    class Meta(_Base.Meta):
        logical = "movies"

    movie_id = UnicodeAttribute(hash_key=True)
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
    experiment = UnicodeAttribute(null=True)  # the experiment the API served it in (source "api" only)
    arm = UnicodeAttribute(null=True)  # "control" or "treatment" of that experiment


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
    #: zlib-compressed JSON of the items to write (see movierec.dal.ingest_writer).
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


#: pynamodb's own defaults: right for jobs, where a Scan of a large table may take seconds.
JOB_TIMEOUTS = {"connect_timeout_seconds": 15, "read_timeout_seconds": 30, "max_retry_attempts": 3}


def bind(settings: Settings | None = None, timeouts: dict[str, int] | None = None) -> None:
    """Point every model at the tables, region and endpoint of ``settings``, with ``timeouts``.

    ``timeouts`` (pynamodb Meta settings) default to :data:`JOB_TIMEOUTS`; the recommend function passes
    short ones so a slow DynamoDB fails its request fast. Binding is part of the process-wide model state,
    so every bind states its timeouts: one caller's request-path limits never leak into another's job.
    Cheap when nothing changes (the cached connection is kept; a new one costs tens of ms).
    """
    s = settings or get_settings()
    limits = timeouts or JOB_TIMEOUTS
    for model in ALL_MODELS:
        meta = model.Meta
        target = (s.table(meta.logical), s.region, s.aws_endpoint_url, *(limits[k] for k in JOB_TIMEOUTS))
        current = (meta.table_name, meta.region, getattr(meta, "host", None), *(getattr(meta, k, None) for k in JOB_TIMEOUTS))
        if current == target:
            continue
        meta.table_name, meta.region, meta.host = target[:3]
        for name in JOB_TIMEOUTS:
            setattr(meta, name, limits[name])
        # pynamodb caches its connection per model; drop it so the new endpoint/name/limits take effect.
        model._connection = None

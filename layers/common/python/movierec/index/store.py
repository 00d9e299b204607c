"""The S3 layout of published index versions, owned here: the writer (:mod:`movierec.index.publish`,
:func:`movierec.index.build.write_index_version`) and the reader (:mod:`movierec.dal.index_store`) both
import it, so they cannot drift apart and neither imports the other.

::

    s3://<bucket>/index/<version>/manifest.json, movies.lance/...
    s3://<bucket>/index/CURRENT          {"version": "<version>"}

A version older than the newest ``MOVIEREC_INDEX_KEEP_VERSIONS`` loses its ``movies.lance/`` (the
data: 75 MB for a trained version of the 19,965 course-file movies) and keeps its manifest (a few KB),
so what any logged recommendation was made with can still be explained (:func:`expired`; the writer
deletes, the reader says "pruned").

A version name is data read from S3 and then used as a key prefix and a local folder name, so it is
checked against the one format the writer produces (``20261201T221500Z-1a2b3c4d``: UTC build time and the
first 8 hex digits of the source fingerprint) before it is used: ``../evil`` or ``/abs/path`` in the
pointer can never name a folder outside the cache or a key outside the version's prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

PREFIX = "index/"
POINTER_KEY = PREFIX + "CURRENT"
#: What :func:`version_name` produces, and all that a reader accepts.
VERSION_FORMAT = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")


class InvalidVersionError(ValueError):
    """A version name (from the pointer, a manifest or a caller) that the index writer never produces."""


def version_name(built_at: datetime, fingerprint: str) -> str:
    """The name of a version built at ``built_at`` (UTC) from sources with ``fingerprint`` (hex)."""
    return check_version(f"{built_at:%Y%m%dT%H%M%S}Z-{fingerprint[:8]}")


def check_version(name: str) -> str:
    """``name`` itself when it has the writer's format; else :class:`InvalidVersionError`."""
    if not isinstance(name, str) or not VERSION_FORMAT.fullmatch(name):
        raise InvalidVersionError(f"not an index version name: {str(name)[:80]!r}")
    return name


def version_prefix(version: str) -> str:
    """The S3 key prefix of a version's files (the name is checked first)."""
    return f"{PREFIX}{check_version(version)}/"


def expired(versions: Iterable[str], keep: int, protected: Iterable[str]) -> list[str]:
    """The versions whose data may go: all but the ``keep`` newest (names sort by build time) and the
    ``protected`` ones (the current version, a running experiment's arms). ``keep`` 0 keeps everything.

    Why by count and not by age: a rollback or an experiment needs a few recent versions whole, however
    fast they came; a stream that stops retraining keeps its last ones for ever."""
    if keep <= 0:
        return []
    names = sorted(set(versions), reverse=True)
    return sorted(set(names[keep:]) - set(protected))

"""Course movie API records (``/movie/<id>`` responses) -> :class:`Movie`.

The recorded responses in ``catalog/movies.jsonl`` carry numbers as strings (``"popularity":"8.2e-05"``),
``"null"`` and ``"False"`` strings, missing or empty overviews. This module is the one place that knows
it; the live API client reuses :func:`parse_record` so recorded and live responses normalise alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.models.movie import Movie

#: Strings the API uses where JSON would have null.
_NULLS = {"", "null", "none", "nan", "n/a"}


class RecordError(ValueError):
    """A record that cannot become a movie (no id, not an object); the message says why."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _NULLS else text


def _float(value: Any) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number else None  # NaN -> unknown


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _year(release_date: Any) -> int | None:
    text = _text(release_date)
    if text is None or len(text) < 4 or not text[:4].isdigit():
        return None
    return int(text[:4])


def _genres(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (_text(g.get("name")) if isinstance(g, Mapping) else _text(g) for g in value)
    return tuple(n for n in names if n)


def parse_record(raw: Any, source: str = "course") -> Movie:
    """One API response (a JSON object) as a :class:`Movie`; raises :class:`RecordError` if it has no id."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"expected a JSON object, got {type(raw).__name__}")
    movie_id = _text(raw.get("id"))
    if movie_id is None:
        raise RecordError(f"record has no id: {str(raw)[:120]}")
    title = _text(raw.get("title")) or _text(raw.get("original_title")) or movie_id.replace("+", " ")
    return Movie(
        id=movie_id,
        title=title,
        year=_year(raw.get("release_date")),
        genres=_genres(raw.get("genres")),
        overview=_text(raw.get("overview")) or "",
        popularity=max(_float(raw.get("popularity")) or 0.0, 0.0),
        vote_average=_float(raw.get("vote_average")),
        vote_count=max(_int(raw.get("vote_count")) or 0, 0),
        original_language=_text(raw.get("original_language")),
        runtime=_int(raw.get("runtime")),
        tmdb_id=_int(raw.get("tmdb_id")),
        source=source,
    )


@dataclass
class CourseCatalog:
    """The parsed catalog file: its movies (first record of an id wins) and the lines it rejected."""

    movies: list[Movie] = field(default_factory=list)
    #: (line number, reason) of every line that did not become a movie.
    rejected: list[tuple[int, str]] = field(default_factory=list)


def read_course_catalog(path: Path) -> CourseCatalog:
    """Parse a JSON-lines file of API responses; bad lines are reported in ``rejected``, never dropped silently."""
    out = CourseCatalog()
    seen: set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                movie = parse_record(json.loads(line))
            except (json.JSONDecodeError, RecordError) as exc:
                out.rejected.append((number, str(exc)))
                continue
            if movie.id in seen:
                out.rejected.append((number, f"duplicate id {movie.id}"))
                continue
            seen.add(movie.id)
            out.movies.append(movie)
    return out


def load_course_catalog(settings: Settings | None = None) -> CourseCatalog:
    """The shared data folder's ``catalog/movies.jsonl``, parsed."""
    return read_course_catalog(data_path("catalog", "movies.jsonl", settings=settings))

"""The one internal movie record.

Every source of movie metadata (the course movie API and its recorded responses, MovieLens ``movies.csv``,
a title derived from the stream's movie id) is normalised into :class:`Movie`, so the index job, the
rankers and the evaluation never see a source's quirks (numbers as strings, ``"null"`` strings).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Movie:
    """A movie as the rest of the system sees it.

    ``id`` is the course movie id (``heat+1995``) when one is known, else a course-style id derived
    from the title (a MovieLens movie with no course link), as the stream replay names it. ``source``
    says where the metadata came from:
    ``course`` (recorded API responses), ``api`` (fetched live), ``movielens`` or ``derived`` (from the
    id alone). ``popularity`` is the source's popularity figure (TMDB popularity for course records,
    0 when unknown); rankers normalise it.
    """

    id: str
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    overview: str = ""
    popularity: float = 0.0
    vote_average: float | None = None
    vote_count: int = 0
    original_language: str | None = None
    runtime: int | None = None
    tmdb_id: int | None = None
    movielens_id: int | None = None
    source: str = "course"

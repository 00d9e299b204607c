"""The one internal movie record.

Every source of movie metadata (the course movie API and its recorded responses, MovieLens ``movies.csv``,
a title derived from the stream's movie id) is normalised into :class:`Movie`, so the index job, the
rankers and the evaluation never see a source's quirks (numbers as strings, ``"null"`` strings).
The movie-id rules live here too (what a valid stream id is, and the course-style id of a title), since
the parser, the catalog sources and the MovieLens replay must all name a movie the same way.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

#: A stream movie id: 1..200 characters of ``a-z0-9+-._*`` (the parser's rule, and the index's keys).
MAX_MOVIE_ID_LEN = 200
MOVIE_ID_CHARS = r"[a-z0-9+\-._*]"
_MOVIE_ID = re.compile(rf"{MOVIE_ID_CHARS}{{1,{MAX_MOVIE_ID_LEN}}}")
#: Articles MovieLens moves to the end of a title ("Heat, The"); the course ids keep them in front.
_ARTICLES = ("The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der", "Die", "El", "Los", "Las")
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
_ALTERNATE = re.compile(r"\s*\(.*?\)")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 -._*")


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


def is_movie_id(text: str) -> bool:
    """True when ``text`` is a valid stream movie id."""
    return _MOVIE_ID.fullmatch(text) is not None


def course_style_id(title: str) -> str:
    """A course-style id for a MovieLens title: ``"American President, The (1995)"`` -> ``the+american+president+1995``.

    Alternate titles in parentheses are dropped, a trailing article moves to the front, commas become
    ``_`` (as in ``the+good_+the+bad+and+the+ugly+1966``), other characters outside the id charset are
    dropped, spaces become ``+`` and the year is appended.
    """
    match = _TITLE_YEAR.match(title)
    name, year = (match.group(1), match.group(2)) if match else (title, "")
    name = _ALTERNATE.sub("", name)
    for article in _ARTICLES:
        if name.endswith(", " + article):
            name = article + ("" if article.endswith("'") else " ") + name[: -len(article) - 2]
            break
    name = "".join(ch for ch in name.lower().replace(",", "_") if ch in _ALLOWED or ch == "_")
    movie_id = name.replace(" ", "+") + (f"+{year}" if year else "")
    # A title with nothing left (all non-Latin characters) still needs a stable, valid id.
    return movie_id if is_movie_id(movie_id) and name.strip() else f"movielens+{zlib.crc32(title.encode()):08x}"

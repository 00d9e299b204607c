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
from typing import Collection, Mapping

#: A stream movie id: 1..200 characters of ``a-z0-9+-._*`` (the parser's rule, and the index's keys).
MAX_MOVIE_ID_LEN = 200
MOVIE_ID_CHARS = r"[a-z0-9+\-._*]"
_MOVIE_ID = re.compile(rf"{MOVIE_ID_CHARS}{{1,{MAX_MOVIE_ID_LEN}}}")
#: Articles MovieLens moves to the end of a title ("Heat, The"); the course ids keep them in front.
_ARTICLES = ("The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der", "Die", "El", "Los", "Las")
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
_ALTERNATE = re.compile(r"\s*\(.*?\)")
_PARENTHESISED = re.compile(r"\(([^()]*)\)")
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


def _article_in_front(name: str) -> str:
    """``"American President, The"`` -> ``"The American President"``."""
    for article in _ARTICLES:
        if name.endswith(", " + article):
            return article + ("" if article.endswith("'") else " ") + name[: -len(article) - 2]
    return name


def course_style_id(title: str) -> str:
    """A course-style id for a MovieLens title: ``"American President, The (1995)"`` -> ``the+american+president+1995``.

    Alternate titles in parentheses are dropped, a trailing article moves to the front, commas become
    ``_`` (as in ``the+good_+the+bad+and+the+ugly+1966``), other characters outside the id charset are
    dropped, spaces become ``+`` and the year is appended.
    """
    match = _TITLE_YEAR.match(title)
    name, year = (match.group(1), match.group(2)) if match else (title, "")
    name = _article_in_front(_ALTERNATE.sub("", name))
    name = "".join(ch for ch in name.lower().replace(",", "_") if ch in _ALLOWED or ch == "_")
    movie_id = name.replace(" ", "+") + (f"+{year}" if year else "")
    # A title with nothing left (all non-Latin characters) still needs a stable, valid id.
    return movie_id if is_movie_id(movie_id) and name.strip() else f"movielens+{zlib.crc32(title.encode()):08x}"


def _title_key(text: str) -> str:
    """Letters and digits only, ``&`` read as "and": ``Dumb & Dumber``, ``dumb+and+dumber`` and ``Old Boy`` /
    ``oldboy`` meet."""
    return re.sub(r"[^0-9a-z]", "", text.lower().replace("&", " and "))


def _title_names(title: str) -> tuple[int, tuple[str, ...], tuple[str, ...]] | None:
    """A MovieLens title's year, its whole names (the title, then its alternates in parentheses, ``a.k.a.``
    dropped) and the parts of those names around ``:`` or `` - `` (``Star Wars: Episode IV - A New Hope``
    -> ``Star Wars``, ``Episode IV - A New Hope``, ``Star Wars: Episode IV``, ``A New Hope``); None
    without a year."""
    match = _TITLE_YEAR.match(title)
    if not match:
        return None
    body = match.group(1)
    alternates = [re.sub(r"^a\.k\.a\.\s*", "", a.strip()) for a in _PARENTHESISED.findall(body)]
    names = tuple(_article_in_front(n) for n in [_ALTERNATE.sub("", body).strip(), *alternates] if n)
    parts = tuple(_article_in_front(piece.strip()) for n in names for sep in (":", " - ") if sep in n
                  for piece in n.split(sep, 1))  # fmt: skip
    return int(match.group(2)), names, parts


def matched_ids(titles: Mapping[int, str], known: Collection[str]) -> dict[int, str]:
    """MovieLens movies (id -> title) -> the one ``known`` course id each names, where one is found.

    The course ids are TMDB's titles (``star+wars+1977``, ``harry+potter+and+the+philosophers+stone+2001``),
    MovieLens' are its own (``Star Wars: Episode IV - A New Hope (1977)``, ``Harry Potter and the
    Sorcerer's Stone (a.k.a. Harry Potter and the Philosopher's Stone) (2001)``), so
    :func:`course_style_id` misses the movie and its MovieLens ratings land on an id no stream speaks.
    Tried in order, the first step that names any known id decides, and only if it names exactly one: a
    whole name at the title's year, a part of a name at that year, then a whole name at the year before
    or after, either (release dates differ by a year between the two sources: ``300 (2007)`` is
    ``300+2006``); a part never at another year (a part alone is weaker evidence: ``Air Bud: Golden
    Receiver (1998)`` is not ``air+bud+1997``). An id claimed by several titles goes to the one that named
    it at the earliest step, or to none on a tie. Wrong matches remain possible (``Resident Evil:
    Afterlife (2010)`` finds ``after.life+2010``, another film)."""
    by_key: dict[tuple[str, int], set[str]] = {}
    for movie_id in known:
        name, _, year = movie_id.rpartition("+")
        if name and len(year) == 4 and year.isdigit():
            by_key.setdefault((_title_key(name), int(year)), set()).add(movie_id)
    claims: dict[str, list[tuple[int, int]]] = {}
    for ml_id, title in titles.items():
        named = _title_names(title)
        if named is None:
            continue
        year, names, parts = named
        steps = [(names, (year,)), (parts, (year,)), (names, (year - 1, year + 1))]
        for step, (group, years) in enumerate(steps):
            hits = {m for n in group for y in years for m in by_key.get((_title_key(n), y), ())}
            if hits:
                if len(hits) == 1:
                    claims.setdefault(hits.pop(), []).append((step, ml_id))
                break
    out: dict[int, str] = {}
    for movie_id, claim in claims.items():
        claim.sort()
        if len(claim) == 1 or claim[0][0] < claim[1][0]:
            out[claim[0][1]] = movie_id
    return out

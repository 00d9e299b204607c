"""A movie record from the stream's movie id alone (``the+lion+king+1994`` -> "the lion king", 1994).

About 40% of the ids in the stream are not in the recorded catalog; they still need a record so they can
be embedded, recommended and shown. The id is the API's slug of the title plus the year, so it carries
a usable (lower-case) title.
"""

from __future__ import annotations

from movierec.models.movie import Movie

#: A trailing token in this range is read as the release year.
_YEARS = range(1870, 2101)


def movie_from_id(movie_id: str) -> Movie:
    """The title words and year encoded in ``movie_id``; ``source`` is ``derived``."""
    tokens = [t for t in movie_id.replace("_", " ").replace("+", " ").split() if t]
    year = None
    if len(tokens) > 1 and tokens[-1].isdigit() and int(tokens[-1]) in _YEARS:
        year = int(tokens.pop())
    title = " ".join(tokens) or movie_id
    return Movie(id=movie_id, title=title, year=year, source="derived")

"""A record for any movie id: the catalog's, else the live API's, else one derived from the id.

The index update uses this for ids first seen in the stream, so every movie a user can watch has a
record and an embedding, even when neither the recorded catalog nor the API knows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from movierec.catalog.derived import movie_from_id
from movierec.catalog.movie_api import MovieApiClient, MovieApiError
from movierec.models.movie import Movie


def resolve_movies(
    movie_ids: Iterable[str], known: Mapping[str, Movie], api: MovieApiClient | None = None
) -> list[Movie]:
    """One record per id, in the order given (duplicates once): known, fetched, or derived."""
    out: list[Movie] = []
    for movie_id in dict.fromkeys(movie_ids):
        movie = known.get(movie_id)
        if movie is None and api is not None:
            try:
                movie = api.get(movie_id)
            except MovieApiError:
                movie = None  # logged by the client; the id still gets a derived record below
        out.append(movie or movie_from_id(movie_id))
    return out

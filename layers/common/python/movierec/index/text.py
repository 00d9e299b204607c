"""The text embedded for one movie, and its hash (the key under which its embedding is reused)."""

from __future__ import annotations

import hashlib

from movierec.models.movie import Movie


def movie_text(movie: Movie) -> str:
    """Title and year, genres, overview: what a person would read to decide whether two movies are alike."""
    head = f"{movie.title} ({movie.year})" if movie.year else movie.title
    parts = [head]
    if movie.genres:
        parts.append("Genres: " + ", ".join(movie.genres))
    if movie.overview:
        parts.append(movie.overview)
    return ". ".join(parts)


def text_hash(text: str) -> str:
    """A stable key for ``text`` (same text, same embedding, whatever the movie id)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

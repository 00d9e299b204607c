"""MovieLens ``movies.csv`` -> :class:`Movie`, joined to the course catalog where the two overlap.

``ml_to_course_ids.csv`` links 5,368 MovieLens movies to course ids (through TMDB ids). A linked movie
takes the course record (richer: overview, popularity) under its course id, with ``movielens_id`` set,
so the same movie has the same id and text whether it reaches the index from the stream or from
MovieLens. An unlinked movie gets the course-style id the stream replay gives it
(:func:`~movierec.models.movie.course_style_id`, e.g. ``the+american+president+1995``), so the
index and the replayed stream name every movie alike; when that id is a course id (a link the TMDB join
missed) it takes that course record, else it keeps MovieLens' title, year and genres.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.models.movie import Movie, course_style_id

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
#: "Usual Suspects, The" -> "The Usual Suspects" (MovieLens moves leading articles to the end).
_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$")


def split_title(raw: str) -> tuple[str, int | None]:
    """MovieLens' "Title, The (1995)" -> ("The Title", 1995)."""
    raw = raw.strip()
    match = _TITLE_YEAR.match(raw)
    title, year = (match["title"], int(match["year"])) if match else (raw, None)
    # Alternative titles follow in parentheses: "City of Lost Children, The (Cité des enfants perdus, La)".
    main = re.sub(r"\s*\(.*\)\s*$", "", title) or title
    article = _ARTICLE.match(main)
    if article:
        main = f"{article['article']} {article['rest']}".replace("L' ", "L'")
    return main, year


def read_links(path: Path) -> dict[int, str]:
    """MovieLens movieId -> course movie id."""
    with open(path, encoding="utf-8", newline="") as f:
        return {int(row["movieId"]): row["course_movie_id"] for row in csv.DictReader(f) if row["course_movie_id"]}


def genres_of(raw: str) -> tuple[str, ...]:
    """MovieLens' "Adventure|Comedy" -> ("Adventure", "Comedy"); its "(no genres listed)" is no genre."""
    return tuple(g for g in raw.split("|") if g and g != "(no genres listed)")


def load_movielens_genres(settings: Settings | None = None) -> dict[str, tuple[str, ...]]:
    """ml-latest-small's genres by MovieLens movieId (the ids :func:`~movierec.evaluation.interactions.load_movielens`
    gives its histories), for the feedback simulation's genre index: the CLI and its test read them here,
    so both build the same index."""
    with data_path("movielens", "ml-latest-small", "movies.csv", settings=settings).open(encoding="utf-8", newline="") as f:
        return {row["movieId"]: genres_of(row["genres"]) for row in csv.DictReader(f)}


def read_movielens_movies(
    movies_csv: Path, links: dict[int, str], course: dict[str, Movie]
) -> list[Movie]:
    """Every movie of ``movies_csv``: the linked course record when there is one, else MovieLens' own."""
    out: list[Movie] = []
    with open(movies_csv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            ml_id = int(row["movieId"])
            movie_id = links.get(ml_id) or course_style_id(row["title"])
            linked = course.get(movie_id)
            if linked is not None:
                out.append(replace(linked, movielens_id=ml_id))
                continue
            title, year = split_title(row["title"])
            genres = genres_of(row["genres"])
            out.append(
                Movie(id=movie_id, title=title, year=year, genres=genres, movielens_id=ml_id, source="movielens")
            )
    return out


def load_movielens_catalog(course: list[Movie], settings: Settings | None = None) -> list[Movie]:
    """ml-latest-small's movies from the shared data folder, joined to ``course`` (the course catalog)."""
    links = read_links(data_path("movielens", "ml_to_course_ids.csv", settings=settings))
    movies_csv = data_path("movielens", "ml-latest-small", "movies.csv", settings=settings)
    return read_movielens_movies(movies_csv, links, {m.id: m for m in course})

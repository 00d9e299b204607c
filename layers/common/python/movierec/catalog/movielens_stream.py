"""MovieLens ml-latest-small as the source of a course stream: its ratings in time order and its stream movie ids.

MovieLens gives long, timestamped histories; the course stream gives the format. Movie ids are the course
ids from ``movielens/ml_to_course_ids.csv`` where one exists, else derived from the MovieLens title in
the course style (:func:`~movierec.models.movie.course_style_id`, which reproduces 92% of the known course
ids exactly). This module reads the files; turning ratings into events is pure logic
(:func:`movierec.logic.stream_format.ratings_as_events`), which the replay applies to what this returns.
"""

from __future__ import annotations

import csv

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.models.events import MovieLensRating
from movierec.models.movie import course_style_id

MOVIELENS = ("movielens", "ml-latest-small")


def movie_ids(settings: Settings | None = None) -> dict[int, str]:
    """MovieLens movieId -> stream movie id (course id when known, else :func:`course_style_id`)."""
    known: dict[int, str] = {}
    with open(data_path("movielens", "ml_to_course_ids.csv", settings=settings), newline="") as f:
        for row in csv.DictReader(f):
            known[int(row["movieId"])] = row["course_movie_id"]
    out: dict[int, str] = {}
    with open(data_path(*MOVIELENS, "movies.csv", settings=settings), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ml_id = int(row["movieId"])
            out[ml_id] = known.get(ml_id) or course_style_id(row["title"])
    return out


def movielens_ratings(limit: int | None = None, settings: Settings | None = None) -> list[MovieLensRating]:
    """The first ``limit`` MovieLens ratings (all by default) in time order, ties by (user, movie)."""
    with open(data_path(*MOVIELENS, "ratings.csv", settings=settings), newline="") as f:
        rows = [(int(r["timestamp"]), int(r["userId"]), int(r["movieId"]), float(r["rating"])) for r in csv.DictReader(f)]
    rows.sort()
    return rows[:limit] if limit is not None else rows

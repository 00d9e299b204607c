"""MovieLens ml-latest-small as the source of a course stream: its ratings in time order and its stream movie ids.

MovieLens gives long, timestamped histories; the course stream gives the format. Movie ids are the course
ids from ``movielens/ml_to_course_ids.csv`` where one exists, else (given the ids of the data they will
join) the known id the title names, else derived from the MovieLens title in the course style
(:func:`~movierec.models.movie.course_style_id`, which reproduces 92% of the known course ids exactly).
This module reads the files; turning ratings into events is pure logic
(:func:`movierec.logic.stream_format.ratings_as_events`), which the replay applies to what this returns.
"""

from __future__ import annotations

import csv
from typing import Collection

from movierec.config import Settings
from movierec.datasets import data_path
from movierec.models.events import MovieLensRating
from movierec.models.movie import course_style_id, matched_ids

MOVIELENS = ("movielens", "ml-latest-small")


def movie_ids(settings: Settings | None = None, known: Collection[str] = ()) -> dict[int, str]:
    """MovieLens movieId -> stream movie id: the course id when ``ml_to_course_ids.csv`` links the movie,
    else the one ``known`` id (the course and stream ids of the data the ids will join) its title names
    (:func:`~movierec.models.movie.matched_ids`: ``Star Wars: Episode IV - A New Hope (1977)`` is the
    stream's ``star+wars+1977``), else :func:`course_style_id`. No ``known`` ids (the replay, which
    writes its own stream): linked or course-style ids only."""
    links: dict[int, str] = {}
    with open(data_path("movielens", "ml_to_course_ids.csv", settings=settings), newline="") as f:
        for row in csv.DictReader(f):
            links[int(row["movieId"])] = row["course_movie_id"]
    out: dict[int, str] = {}
    titles: dict[int, str] = {}
    with open(data_path(*MOVIELENS, "movies.csv", settings=settings), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ml_id = int(row["movieId"])
            out[ml_id] = links.get(ml_id) or course_style_id(row["title"])
            titles[ml_id] = row["title"]
    known = set(known)
    unmatched = {m: t for m, t in titles.items() if m not in links and out[m] not in known}
    # An id another MovieLens movie already has is not free: two movies would merge into one.
    return out | matched_ids(unmatched, known - set(out.values()))


def movielens_ratings(limit: int | None = None, settings: Settings | None = None) -> list[MovieLensRating]:
    """The first ``limit`` MovieLens ratings (all by default) in time order, ties by (user, movie)."""
    with open(data_path(*MOVIELENS, "ratings.csv", settings=settings), newline="") as f:
        rows = [(int(r["timestamp"]), int(r["userId"]), int(r["movieId"]), float(r["rating"])) for r in csv.DictReader(f)]
    rows.sort()
    return rows[:limit] if limit is not None else rows

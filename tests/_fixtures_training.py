"""Helpers of the training / ranker v2 tests: a hand-made index and a real MovieLens-linked index slice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from movierec.catalog.course import read_course_catalog
from movierec.catalog.movielens import read_links
from movierec.index.build import BuildResult, build_index
from movierec.index.embed import EmbeddingCache
from movierec.index.loaded import MovieIndex
from movierec.index.manifest import Manifest
from movierec.index.neighbours import all_neighbours
from movierec.index.table import to_arrow
from movierec.models.movie import Movie
from movierec.dal.tables import Tables


def tiny_index(vectors: np.ndarray, k: int, extra: dict[str, pa.Array] | None = None) -> MovieIndex:
    """An index of movies ``m0..m{n-1}`` with the given (normalised) vectors, built by the index code."""
    n = len(vectors)
    movies = [Movie(id=f"m{i}", title=f"Movie {i}") for i in range(n)]
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    nbr_idx, nbr_sim = all_neighbours(vectors, k)
    table = to_arrow(movies, [hashlib.sha1(m.id.encode()).hexdigest() for m in movies], vectors, nbr_idx, nbr_sim, extra)
    manifest = Manifest(version="tiny", model="hand-made", dim=vectors.shape[1], rows=n, source_fingerprint="tiny",
                        created_at="", code_version="", ranker="content-v1", neighbours_k=k)  # fmt: skip
    return MovieIndex(manifest, table)


#: MovieLens movies (by number of ratings) whose course records make the real index slice; plus some
#: course movies nobody in MovieLens watched (cold: no learned neighbours, only content).
POPULAR_MOVIES = 120
COLD_MOVIES = 10


@pytest.fixture(scope="session")
def ml_slice(data_dir: Path) -> list[Movie]:
    """Course records of the most-rated linked MovieLens movies + a few never-rated course movies."""
    import csv
    from collections import Counter

    links = read_links(data_dir / "movielens" / "ml_to_course_ids.csv")
    with open(data_dir / "movielens" / "ml-latest-small" / "ratings.csv", newline="") as f:
        counts = Counter(int(r["movieId"]) for r in csv.DictReader(f))
    linked = [links[m] for m, _ in counts.most_common() if m in links][:POPULAR_MOVIES]
    course = {m.id: m for m in read_course_catalog(data_dir / "catalog" / "movies.jsonl").movies}
    rated = set(links.values())
    cold = [m for m in course if m not in rated][:: 997][:COLD_MOVIES]
    return [course[m] for m in linked + cold if m in course]


@pytest.fixture(scope="session")
def ml_built(ml_slice: list[Movie], tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The slice's content index version (real model), built once per session."""
    cache = EmbeddingCache(tmp_path_factory.mktemp("ml-embeddings"))
    return build_index(ml_slice, tmp_path_factory.mktemp("ml-built") / "v", cache=cache, progress=False)


#: MovieLens users whose (slice) histories are written to DynamoDB for the job tests.
HISTORY_USERS = 80


@pytest.fixture(scope="session")
def slice_log(data_dir: Path, ml_built: BuildResult):
    """MovieLens interactions of the first users on the slice's movies, in course ids (an InteractionLog)."""
    from movierec.config import Settings
    from movierec.evaluation.interactions import InteractionLog
    from movierec.training.job import load_interactions

    full = load_interactions("movielens", Settings(data_dir=data_dir))
    keep = {m.id for m in ml_built_movies(ml_built)}
    users = {u: tuple(i for i in h if i.movie_id in keep) for u, h in list(full.users.items())[:HISTORY_USERS]}
    return InteractionLog({u: h for u, h in users.items() if h}, tuple(sorted(keep)), source="movielens-slice")


def ml_built_movies(built: BuildResult) -> list[Movie]:
    from movierec.index.loaded import load_index
    from movierec.index.table import movies_of

    return movies_of(load_index(built.folder).table)


def write_histories(tables: Tables, log) -> int:
    """The log's interactions as ``history`` pages in ``tables``, as ingest would have written them."""
    from movierec.dal.history import save_histories
    from movierec.models.state import HistoryState

    save_histories(tables, {
        user_id: {
            i.movie_id: HistoryState(rating=None if i.rating is None else int(i.rating),
                                     first_seen=int(i.last_seen), last_seen=int(i.last_seen))
            for i in history
        }
        for user_id, history in log.users.items()
    })
    return sum(len(history) for history in log.users.values())

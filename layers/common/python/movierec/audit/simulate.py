"""A closed-loop simulation of the feedback loop, over the project's own training and ranking code.

Real MovieLens users start from the first part of their real history. In each cycle, the current model
(:func:`movierec.training.model.fit_collab`, served by :class:`movierec.ranking.collab.CollabRanker`
over an index built by the index code) recommends 20 movies at each of a user's next ``steps`` visits;
with probability ``p_follow`` the user watches one of them (rank-weighted: the first is likelier),
otherwise the next movie of their real history. After the cycle the model is retrained on everything
watched so far, recommendations included. Every answer is logged as an online-evaluation
:class:`~movierec.evaluation.online.Request` (version = the cycle's model) and every watch as a
:class:`~movierec.evaluation.online.Watch`, so the feedback audit reads the simulation's telemetry
exactly as it reads the running system's.

The mitigation is a popularity penalty in ranker v2's own scoring (``FoldIn.popularity_weight`` =
``-penalty``, on the log of the movie's training users): the more the loop makes a movie popular, the more
it is held back, a negative feedback against the positive one.

Bounded: ``users`` users, ``cycles`` x ``steps`` visits each, a model of at most ``max_items`` movies.
The index's content vectors are the movies' genres (multi-hot), not MiniLM embeddings: they only matter
for movies without learned neighbours, and embedding 9.7k texts would dominate the run.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from movierec.evaluation.interactions import InteractionLog
from movierec.evaluation.online import Request, Watch
from movierec.index.loaded import MovieIndex
from movierec.index.manifest import Manifest
from movierec.index.neighbours import all_neighbours
from movierec.index.table import to_arrow
from movierec.models.movie import Movie
from movierec.models.ranking import Interaction
from movierec.ranking.base import Ranker
from movierec.ranking.collab import CollabRanker, FoldIn
from movierec.training.model import FitParams, fit_collab, index_columns


@dataclass(frozen=True)
class SimParams:
    users: int = 300
    cycles: int = 5
    steps: int = 8
    p_follow: float = 0.5
    start_fraction: float = 0.5
    #: popularity penalty (the mitigation): ranker v2's ``popularity_weight`` set to minus this; 0 = none
    penalty: float = 0.0
    seed: int = 0
    k: int = 20
    max_items: int = 3000


@dataclass
class SimRun:
    params: SimParams
    requests: list[Request] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    catalog_size: int = 0
    seconds: float = 0.0


def genre_index(genres: Mapping[str, Sequence[str]], neighbours: int = 20) -> MovieIndex:
    """An index version over ``genres`` (movie id -> genres), with multi-hot genre vectors (see above)."""
    ids = sorted(genres)
    names = sorted({g for gs in genres.values() for g in gs}) or ["none"]
    col = {g: j for j, g in enumerate(names)}
    vectors = np.full((len(ids), len(names) + 1), 1e-3, dtype=np.float32)  # the constant keeps rows non-zero
    for i, m in enumerate(ids):
        for g in genres[m]:
            vectors[i, col[g]] = 1.0
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    nbr_idx, nbr_sim = all_neighbours(vectors, neighbours)
    movies = [Movie(id=m, title=m, genres=tuple(genres[m]), source="movielens") for m in ids]
    hashes = [hashlib.sha1(m.encode()).hexdigest() for m in ids]
    manifest = Manifest(version="simulation", model="genres", dim=vectors.shape[1], rows=len(ids),
                        source_fingerprint="simulation", created_at="", code_version="", ranker="content-v1",
                        neighbours_k=neighbours)  # fmt: skip
    return MovieIndex(manifest, to_arrow(movies, hashes, vectors, nbr_idx, nbr_sim))


def _ranker(index: MovieIndex, histories: Mapping[int, Sequence[Interaction]], p: SimParams) -> Ranker:
    model = fit_collab(histories, FitParams(max_items=p.max_items))
    fold = FoldIn(popularity_weight=-p.penalty) if p.penalty > 0 else FoldIn()
    ranker: Ranker = CollabRanker(index, index_columns(model, index.row_of, len(index)), fold)
    return ranker


def simulate(log: InteractionLog, index: MovieIndex, p: SimParams = SimParams()) -> SimRun:
    """Run the loop (see the module docstring); the log's movies must be in ``index``."""
    started = time.perf_counter()
    rng = random.Random(p.seed)
    eligible = sorted(u for u, h in log.users.items() if len(h) >= 2 * p.steps)
    chosen = set(rng.sample(eligible, min(p.users, len(eligible))))
    histories: dict[int, list[Interaction]] = {}
    future: dict[int, list[Interaction]] = {}
    for u, h in log.users.items():
        cut = max(1, int(len(h) * p.start_fraction))
        histories[u] = list(h[:cut]) if u in chosen else list(h)  # the others are plain training data
        future[u] = list(h[cut:]) if u in chosen else []
    clock = max(i.last_seen for h in log.users.values() for i in h) + 1.0
    weights = [1.0 / r for r in range(1, p.k + 1)]
    run = SimRun(p, catalog_size=len(index))
    for cycle in range(p.cycles):
        ranker = _ranker(index, histories, p)
        version = f"cycle-{cycle}"
        for _ in range(p.steps):
            for u in sorted(chosen):
                seen = {i.movie_id for i in histories[u]}
                recs = [s.movie_id for s in ranker.rank(histories[u], p.k)]
                run.requests.append(Request(u, clock, "simulation", 200, tuple(recs), None, version))
                clock += 1.0
                if recs and rng.random() < p.p_follow:
                    movie = rng.choices(recs, weights=weights[: len(recs)])[0]
                else:
                    while future[u] and future[u][0].movie_id in seen:
                        future[u].pop(0)
                    if not future[u]:
                        continue
                    movie = future[u].pop(0).movie_id
                histories[u].append(Interaction(movie, clock, None))
                run.watches.append(Watch(u, movie, clock, 1))
                clock += 1.0
    run.seconds = time.perf_counter() - started
    return run


"""Which movies the collaborative model learns, and the binary user x movie matrix over them.

A movie needs a few users before co-occurrence says anything about it: movies with fewer than
``min_count`` training users stay out of the model (they are "cold" and ranker v2 scores them by content
similarity instead). ``max_items`` bounds the model (EASE inverts a dense items x items matrix: 10k
movies = 400 MB of float32 and ~1 minute on 2 cores), keeping the most popular movies. Training's
models and evaluation's baselines both build their matrices here, so it lives beside the rankers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np
from scipy.sparse import csr_matrix

from movierec.models.ranking import Interaction

Train = Mapping[int, Sequence[Interaction]]


@dataclass(frozen=True)
class Vocabulary:
    """The model's movies (most popular first, ties by id) and their training user counts."""

    items: tuple[str, ...]
    counts: np.ndarray

    @cached_property
    def position(self) -> dict[str, int]:
        return {m: i for i, m in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)


def vocabulary(train: Train, min_count: int = 3, max_items: int = 10_000) -> Vocabulary:
    """Movies with at least ``min_count`` distinct training users, the ``max_items`` most popular."""
    counts = Counter(m for history in train.values() for m in {i.movie_id for i in history})
    kept = sorted((m for m, c in counts.items() if c >= min_count), key=lambda m: (-counts[m], m))[:max_items]
    return Vocabulary(tuple(kept), np.array([counts[m] for m in kept], dtype=np.int64))


def user_item_matrix(train: Train, vocab: Vocabulary) -> csr_matrix:
    """Binary users x vocabulary matrix (a movie a user saw twice counts once)."""
    pos = vocab.position
    rows: list[int] = []
    cols: list[int] = []
    for r, history in enumerate(train.values()):
        for j in {pos[i.movie_id] for i in history if i.movie_id in pos}:
            rows.append(r)
            cols.append(j)
    data = np.ones(len(rows), dtype=np.float32)
    return csr_matrix((data, (rows, cols)), shape=(len(train), len(vocab)), dtype=np.float32)


def sequences(train: Train, vocab: Vocabulary) -> list[np.ndarray]:
    """Each user's history in time order as vocabulary positions; cold movies kept as -1 (they break
    adjacency: a transition across a cold movie is not a transition between its neighbours)."""
    pos = vocab.position
    return [np.array([pos.get(i.movie_id, -1) for i in history], dtype=np.int64) for history in train.values()]

"""Fitting ranker v2's model: EASE neighbours + "watched next" neighbours per movie, as index columns.

:func:`fit_collab` turns training histories into a :class:`CollabModel` (per-movie top-N lists over the
model's own vocabulary). :func:`index_columns` maps it onto the rows of an index version, producing
the :class:`~movierec.ranking.collab.Neighbours` a :class:`~movierec.ranking.collab.CollabRanker` reads, stored as extra index columns (``cf_count``, ``cf_idx``,
``cf_w``, ``seq_idx``, ``seq_w``). The training state (the dense EASE matrix) is dropped after fitting.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa

from movierec.models.ranking import Interaction
from movierec.index.loaded import MovieIndex
from movierec.ranking.collab import CollabRanker, FoldIn, Neighbours
from movierec.training.ease import ease_weights
from movierec.training.prior import gram_with_prior
from movierec.training.side import add_side_gram
from movierec.training.topn import top_n_dense, top_n_sparse
from movierec.training.transitions import transition_matrix
from movierec.ranking.vocabulary import Train, Vocabulary, sequences

#: Column names of the model inside an index version.
COLUMNS = ("cf_count", "cf_idx", "cf_w", "seq_idx", "seq_w")


class NotEnoughData(ValueError):
    """Too few movies with enough users to fit a model (a first start before enough is ingested)."""


@dataclass(frozen=True)
class FitParams:
    """What training decides (changing these needs a refit). Defaults chosen on the validation split."""

    lam: float = 100.0
    min_count: int = 3
    max_items: int = 10_000
    neighbours: int = 100
    window: int = 3
    #: Weight of the prior users' rows in EASE's Gram matrix (:mod:`~movierec.training.prior`); 0 = off.
    prior_weight: float = 0.0
    #: Weight of the release-era and genre pseudo-users in EASE's Gram matrix (:mod:`~movierec.training.side`); 0 = off.
    side_weight: float = 0.0


@dataclass(frozen=True)
class CollabModel:
    vocab: Vocabulary
    cf_idx: np.ndarray
    cf_w: np.ndarray
    seq_idx: np.ndarray
    seq_w: np.ndarray
    params: FitParams
    #: Facts for the manifest: data size and window, fit time.
    info: Mapping[str, object]


def data_window(train: Train) -> dict[str, object]:
    """Users, interactions and the time window of the training data (epoch seconds)."""
    times = [i.last_seen for h in train.values() for i in h]
    return {
        "users": sum(1 for h in train.values() if h),
        "interactions": len(times),
        "first_at": min(times, default=0.0),
        "last_at": max(times, default=0.0),
    }


def fit_collab(train: Train, params: FitParams = FitParams(), prior: Train | None = None,
               side: Mapping[str, Sequence[str]] | None = None) -> CollabModel:  # fmt: skip
    """EASE and transition neighbour lists of the movies with enough users in ``train`` (and, when
    ``params.prior_weight`` > 0, in the usable part of ``prior``: EASE only, transitions stay ``train``'s).
    With ``params.side_weight`` > 0, ``side`` (movie id -> features, :func:`~movierec.training.side.side_features`)
    joins EASE's Gram matrix as pseudo-users; a positive weight without features is an error, not a silent
    fit without them."""
    started = time.perf_counter()
    if params.side_weight > 0 and not side:
        raise ValueError("side_weight > 0 needs the movies' side features")
    vocab, gram, extra = gram_with_prior(train, prior, params.prior_weight, params.min_count, params.max_items)
    if len(vocab) < 2:
        raise NotEnoughData(f"too little data to train: {len(vocab)} movies with >= {params.min_count} users")
    if params.side_weight > 0 and side:
        add_side_gram(gram, vocab.items, side, params.side_weight)
    b = ease_weights(gram, params.lam)
    del gram
    cf_idx, cf_w = top_n_dense(b, params.neighbours)
    del b
    seq_idx, seq_w = top_n_sparse(transition_matrix(sequences(train, vocab), len(vocab), params.window), params.neighbours)
    info = {**data_window(train), "movies": len(vocab), "fit_s": round(time.perf_counter() - started, 2),
            "prior_users": len(extra), "prior_interactions": sum(len(h) for h in extra.values())}  # fmt: skip
    return CollabModel(vocab, cf_idx, cf_w, seq_idx, seq_w, params, info)


def _remap(idx: np.ndarray, w: np.ndarray, to_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary positions -> index rows; entries whose movie is not in the index become padding."""
    rows = np.where(idx >= 0, to_row[np.maximum(idx, 0)], -1).astype(np.int32)
    return rows, np.where(rows >= 0, w, 0.0).astype(np.float32)


def arrow_columns(model: Neighbours) -> dict[str, pa.Array]:
    """The model's index columns (fixed-size lists, one row per index movie)."""

    def fixed(m: np.ndarray, t: pa.DataType) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(m).reshape(-1), type=t), m.shape[1])

    return {
        "cf_count": pa.array(model.cf_count, pa.int32()),
        "cf_idx": fixed(model.cf_idx, pa.int32()),
        "cf_w": fixed(model.cf_w, pa.float32()),
        "seq_idx": fixed(model.seq_idx, pa.int32()),
        "seq_w": fixed(model.seq_w, pa.float32()),
    }


def index_columns(model: CollabModel, row_of: Mapping[str, int], n_rows: int) -> Neighbours:
    """The model on the rows of an index with ``row_of`` (movie id -> row) and ``n_rows`` rows."""
    to_row = np.array([row_of.get(m, -1) for m in model.vocab.items], dtype=np.int64)
    present = to_row >= 0
    n = model.cf_idx.shape[1]
    count = np.zeros(n_rows, dtype=np.int32)
    cf_idx = np.full((n_rows, n), -1, dtype=np.int32)
    cf_w = np.zeros((n_rows, n), dtype=np.float32)
    seq_idx = np.full((n_rows, n), -1, dtype=np.int32)
    seq_w = np.zeros((n_rows, n), dtype=np.float32)
    dest = to_row[present]
    count[dest] = model.vocab.counts[present]
    cf_idx[dest], cf_w[dest] = _remap(model.cf_idx[present], model.cf_w[present], to_row)
    seq_idx[dest], seq_w[dest] = _remap(model.seq_idx[present], model.seq_w[present], to_row)
    return Neighbours(count, cf_idx, cf_w, seq_idx, seq_w)


def ranker_for(index: MovieIndex, model: CollabModel, fold: FoldIn) -> CollabRanker:
    """Ranker v2 of ``model`` over ``index`` without writing a version (the tuner's and the gate's)."""
    return CollabRanker(index, index_columns(model, index.row_of, len(index)), fold)


def describe(model: CollabModel) -> dict[str, object]:
    """The manifest's record of a trained model: type, parameters, data window and size."""
    return {"model": "ease+transitions", "fit": asdict(model.params), "data": dict(model.info)}


def translate(train: Train, to_index: Mapping[str, str]) -> dict[int, tuple[Interaction, ...]]:
    """Histories with movie ids mapped through ``to_index`` (unmapped movies dropped), order kept."""
    return {u: tuple(replace(i, movie_id=to_index[i.movie_id]) for i in h if i.movie_id in to_index) for u, h in train.items()}

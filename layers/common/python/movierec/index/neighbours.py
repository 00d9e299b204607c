"""Exact nearest neighbours by brute-force matrix products (cosine = dot product on normalised vectors).

The index stores each movie's ``k`` nearest neighbours, computed here exactly at build time, so serving
a user costs a gather over the user's watched movies instead of one vector search per watched movie.
Approximate indexes (IVF_PQ) lost most of the recall at this size; brute force in blocks keeps it exact
and takes seconds for the whole catalog. Ties are broken by row number, so results are deterministic.
"""

from __future__ import annotations

import threading

import numpy as np

from movierec.models.cancel import checkpoint

#: Rows per matrix-product block: bounds the temporary similarity matrix to block x N floats.
BLOCK = 512


def _top_k(sims: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` best (similarity desc, then candidate row asc) of ``sims``/``cand`` (same shape)."""
    if sims.shape[1] > k:
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        sims = np.take_along_axis(sims, part, axis=1)
        cand = np.take_along_axis(cand, part, axis=1)
    order = np.lexsort((cand, -sims), axis=1)
    return np.take_along_axis(cand, order, axis=1).astype(np.int32), np.take_along_axis(sims, order, axis=1)


def neighbours_of(rows: np.ndarray, vectors: np.ndarray, k: int,
                  stop: threading.Event | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The exact ``k`` nearest neighbours (row numbers, similarities) of ``vectors[rows]``, self excluded;
    ``stop`` cancels between blocks (:class:`~movierec.models.cancel.Cancelled`)."""
    n = len(vectors)
    k = min(k, n - 1)
    out_idx = np.empty((len(rows), max(k, 0)), dtype=np.int32)
    out_sim = np.empty((len(rows), max(k, 0)), dtype=np.float32)
    if k <= 0:
        return out_idx, out_sim
    all_rows = np.arange(n, dtype=np.int32)
    for start in range(0, len(rows), BLOCK):
        checkpoint(stop, f"after the neighbours of {start} of {len(rows)} rows")
        block = rows[start : start + BLOCK]
        sims = vectors[block] @ vectors.T
        sims[np.arange(len(block)), block] = -np.inf  # a movie is not its own neighbour
        cand = np.broadcast_to(all_rows, sims.shape)
        out_idx[start : start + len(block)], out_sim[start : start + len(block)] = _top_k(sims, cand, k)
    return out_idx, out_sim


def all_neighbours(vectors: np.ndarray, k: int, stop: threading.Event | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour lists of every row (``stop``: as :func:`neighbours_of`)."""
    return neighbours_of(np.arange(len(vectors), dtype=np.int32), vectors, k, stop)


def extend_neighbours(
    old_idx: np.ndarray, old_sim: np.ndarray, vectors: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour lists after rows were appended to ``vectors`` (the first ``len(old_idx)`` rows are old).

    Still exact: an old row's new top-k is the top-k of its old top-k and the new rows; new rows get a
    full search. Costs (old x new) + (new x all) products instead of (all x all).
    """
    n_old, n = len(old_idx), len(vectors)
    k = min(k, n - 1)
    new_rows = np.arange(n_old, n, dtype=np.int32)
    if n_old == 0 or old_idx.shape[1] < min(k, n_old - 1):
        return all_neighbours(vectors, k)  # old lists were not complete: nothing to extend
    idx = np.empty((n, k), dtype=np.int32)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n_old, BLOCK):
        stop = min(start + BLOCK, n_old)
        cross = vectors[start:stop] @ vectors[n_old:].T
        cand = np.concatenate([old_idx[start:stop], np.broadcast_to(new_rows, cross.shape)], axis=1)
        sims = np.concatenate([old_sim[start:stop], cross], axis=1)
        idx[start:stop], sim[start:stop] = _top_k(sims, cand, k)
    idx[n_old:], sim[n_old:] = neighbours_of(new_rows, vectors, k)
    return idx, sim

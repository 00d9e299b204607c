"""The index table's columns: movies + vectors + neighbour lists (+ extra columns) as one Arrow table.

The Arrow table is written as the LanceDB table (``movies.lance``), the one artefact of record: the
recommend function reads that same table (:mod:`movierec.index.loaded`).
Extra columns (e.g. a learned ranker's item factors) ride along unchanged, so a later ranker only needs
to pass them to :func:`movierec.index.build.build_index` and name itself in the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

from movierec.index.manifest import LANCE_DIR
from movierec.models.movie import Movie

#: The columns every index version has (extra columns follow them).
BASE_COLUMNS = (
    "id", "title", "year", "genres", "overview", "popularity", "vote_average", "vote_count",
    "source", "movielens_id", "text_hash", "vector", "nbr_idx", "nbr_sim",
)  # fmt: skip


def _fixed(matrix: np.ndarray, value_type: pa.DataType) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(matrix).reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])


def to_arrow(
    movies: list[Movie],
    hashes: list[str],
    vectors: np.ndarray,
    nbr_idx: np.ndarray,
    nbr_sim: np.ndarray,
    extra: Mapping[str, pa.Array] | None = None,
) -> pa.Table:
    """One row per movie, in the order given (row numbers are what ``nbr_idx`` refers to)."""
    columns: dict[str, pa.Array] = {
        "id": pa.array([m.id for m in movies], pa.string()),
        "title": pa.array([m.title for m in movies], pa.string()),
        "year": pa.array([m.year for m in movies], pa.int32()),
        "genres": pa.array([list(m.genres) for m in movies], pa.list_(pa.string())),
        "overview": pa.array([m.overview for m in movies], pa.string()),
        "popularity": pa.array([m.popularity for m in movies], pa.float64()),
        "vote_average": pa.array([m.vote_average for m in movies], pa.float64()),
        "vote_count": pa.array([m.vote_count for m in movies], pa.int64()),
        "source": pa.array([m.source for m in movies], pa.string()),
        "movielens_id": pa.array([m.movielens_id for m in movies], pa.int64()),
        "text_hash": pa.array(hashes, pa.string()),
        "vector": _fixed(vectors.astype(np.float32), pa.float32()),
        "nbr_idx": _fixed(nbr_idx.astype(np.int32), pa.int32()),
        "nbr_sim": _fixed(nbr_sim.astype(np.float32), pa.float32()),
    }
    for name, values in (extra or {}).items():
        if name in columns:
            raise ValueError(f"extra column {name!r} would replace a base column")
        if len(values) != len(movies):
            raise ValueError(f"extra column {name!r} has {len(values)} values for {len(movies)} movies")
        columns[name] = values
    return pa.table(columns)


def movies_of(table: pa.Table) -> list[Movie]:
    """The movie records stored in an index table (for incremental updates)."""
    d = table.select(["id", "title", "year", "genres", "overview", "popularity", "vote_average",
                      "vote_count", "source", "movielens_id"]).to_pydict()  # fmt: skip
    return [
        Movie(
            id=d["id"][i], title=d["title"][i], year=d["year"][i], genres=tuple(d["genres"][i] or ()),
            overview=d["overview"][i] or "", popularity=d["popularity"][i] or 0.0,
            vote_average=d["vote_average"][i], vote_count=d["vote_count"][i] or 0,
            source=d["source"][i], movielens_id=d["movielens_id"][i],
        )  # fmt: skip
        for i in range(table.num_rows)
    ]


def write_lancedb(table: pa.Table, folder: Path) -> None:
    """The LanceDB table ``movies`` in the database folder ``folder``.

    A LanceDB table on local disk or S3 is the Lance dataset ``<folder>/movies.lance``, so it is written
    with the Lance library itself (pylance, ``import lance``, ~0.5 s) rather than through lancedb, whose
    import alone takes ~2.5 s on an idle machine and 15-20 s on a loaded one: the first start publishes
    a version before anything can be served. ``lancedb.connect(folder).open_table("movies")`` opens it
    the same (tests/integration/test_index.py opens it with lancedb, from S3).
    """
    import lance  # here, not at module import

    lance.write_dataset(table, str(folder / LANCE_DIR), mode="overwrite")

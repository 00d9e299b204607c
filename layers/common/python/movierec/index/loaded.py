"""An index version loaded for serving: ids, titles, one float32 vector matrix, neighbour lists, popularity.

Read from the version's LanceDB table (``movies.lance``) with the Lance format's own library (pylance,
``import lance``), not with lancedb, whose import alone costs most of the cold-start budget; the table is
read whole into memory once per version (the course catalog: ~34 MB). Figures: docs/benchmarks.md. Rankers are built from a :class:`MovieIndex` (see
:mod:`movierec.ranking.registry`); ranker-specific extra columns are reachable through :meth:`column`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from movierec.index.manifest import LANCE_DIR, Manifest


def _matrix(table: pa.Table, name: str, dtype: type) -> np.ndarray:
    column = table[name].combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(len(column), -1)


@dataclass(frozen=True, eq=False)
class MovieIndex:
    manifest: Manifest
    table: pa.Table
    ids: list[str] = field(init=False)
    vectors: np.ndarray = field(init=False)
    nbr_idx: np.ndarray = field(init=False)
    nbr_sim: np.ndarray = field(init=False)
    #: Raw catalog popularity per row (TMDB popularity; 0 when unknown).
    popularity: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        t = self.table
        object.__setattr__(self, "ids", t["id"].to_pylist())
        object.__setattr__(self, "vectors", _matrix(t, "vector", np.float32))
        object.__setattr__(self, "nbr_idx", _matrix(t, "nbr_idx", np.int32))
        object.__setattr__(self, "nbr_sim", _matrix(t, "nbr_sim", np.float32))
        object.__setattr__(self, "popularity", t["popularity"].to_numpy().astype(np.float64))

    @property
    def version(self) -> str:
        return self.manifest.version

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Movie id -> row number."""
        return {movie_id: row for row, movie_id in enumerate(self.ids)}

    @cached_property
    def titles(self) -> list[str]:
        return self.table["title"].to_pylist()

    def column(self, name: str) -> pa.ChunkedArray:
        """Any column, including extra ones written for a particular ranker."""
        return self.table[name]


def load_index(folder: Path) -> MovieIndex:
    """The version stored in ``folder`` (``manifest.json`` + the LanceDB table ``movies.lance``)."""
    import lance  # here, not at module import: jobs that only build indexes never pay for it

    manifest = Manifest.read(folder)
    table = lance.dataset(str(folder / LANCE_DIR)).to_table()
    if table.num_rows != manifest.rows:
        raise ValueError(f"index {folder} has {table.num_rows} rows, its manifest says {manifest.rows}")
    return MovieIndex(manifest, table)

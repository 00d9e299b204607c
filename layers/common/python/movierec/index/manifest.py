"""The manifest of one index version: what it is, what built it, from what, and which ranker reads it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST_FILE = "manifest.json"
TABLE_NAME = "movies"
#: The LanceDB table of a version, as a folder in the version folder (lancedb names it after the table).
LANCE_DIR = f"{TABLE_NAME}.lance"
#: The ranker of a version without content (a first start's catalog version,
#: :func:`movierec.index.build.build_catalog_index`): the popular list (:mod:`movierec.ranking.popular`),
#: until a trained model or the embeddings arrive.
CATALOG_RANKER = "popular"


@dataclass(frozen=True)
class Manifest:
    """Written last when a version is built (so its presence means the version is complete).

    ``ranker`` names the ranker class that serves this version (see :mod:`movierec.ranking.registry`);
    ``columns`` lists every column of the table, including ranker-specific extra ones.
    """

    version: str
    model: str
    dim: int
    rows: int
    #: Hash of every (id, text hash) and the build parameters: same fingerprint, same index.
    source_fingerprint: str
    created_at: str
    code_version: str
    ranker: str
    neighbours_k: int
    columns: list[str] = field(default_factory=list)
    #: The version this one was derived from by an incremental update (None for a full build).
    parent: str | None = None
    #: Free-form facts about the build (catalog name, counts, seconds), shown by ``movierec index status``.
    build: dict[str, object] = field(default_factory=dict)

    @property
    def has_content(self) -> bool:
        """False while the version's vectors and neighbour lists are not computed yet (``build.content``
        false: :func:`movierec.index.build.build_catalog_index`, kept by training and updates until
        :func:`movierec.index.build.embed_version` computes them)."""
        return self.build.get("content", True) is not False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        return cls(**json.loads(text))

    def write(self, folder: Path) -> None:
        (folder / MANIFEST_FILE).write_text(self.to_json())

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        return cls.from_json((folder / MANIFEST_FILE).read_text())

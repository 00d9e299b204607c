"""Where the shared data lives, and a clear message when it does not.

The data is read in place from ``MOVIEREC_DATA_DIR`` (default: ``../shared/data`` beside the checkout),
never copied into the repository. A missing file raises :class:`DataMissingError` that says which file,
where it was looked for, and how to get it.
"""

from __future__ import annotations

from pathlib import Path

from movierec.config import Settings, get_settings

#: What each part of the data folder is and how to obtain it (shown when it is missing).
HOW_TO_GET = {
    "catalog": "the course movie API responses (/movie/<id>), one JSON object a line; ask the course staff "
    "or record them with a crawler of the course API",
    "stream": "lines captured from the course Kafka stream (kafka-console-consumer on the course broker)",
    "movielens": "MovieLens ml-latest-small from GroupLens: `movierec data fetch-movielens` downloads and "
    "unpacks it into the data folder",
}


class DataMissingError(FileNotFoundError):
    """A data file the command needs is not there; the message says how to get it."""


def data_path(*parts: str, settings: Settings | None = None) -> Path:
    """The path of a file under the data folder, checked to exist."""
    root = (settings or get_settings()).data_dir
    path = root.joinpath(*parts)
    if not path.exists():
        how = HOW_TO_GET.get(parts[0], "see the data folder's README.md")
        raise DataMissingError(
            f"missing data: {path} (data folder {root}, set by MOVIEREC_DATA_DIR). "
            f"{parts[0]}/ holds {how}."
        )
    return path

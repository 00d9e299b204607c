"""Downloading MovieLens ml-latest-small into the data folder (``movierec data fetch-movielens``).

The zip is streamed to a temporary file, checked (a real zip, only members under ``ml-latest-small/``,
no absolute or ``..`` paths, the files evaluation reads are present), unpacked into a temporary folder
beside the target and then renamed into place, so an interrupted or bad download never leaves a
half-written ``movielens/ml-latest-small`` that later commands would trust.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from movierec.config import Settings, get_settings

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
FOLDER = "ml-latest-small"
REQUIRED = ("ratings.csv", "movies.csv", "links.csv", "README.txt")


class FetchError(RuntimeError):
    """The download failed or is not the MovieLens archive we expect (nothing was written)."""


def _download(url: str, dest: Path, timeout: float, progress: bool) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="ml-latest-small.zip", disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:  # URLError, HTTPError, timeouts and socket errors are all OSErrors
        raise FetchError(f"could not download {url}: {exc}") from exc


def _check_members(archive: zipfile.ZipFile) -> None:
    names = archive.namelist()
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or path.parts[0] != FOLDER:
            raise FetchError(f"unexpected member {name!r} in the archive (expected everything under {FOLDER}/)")
    missing = [f for f in REQUIRED if f"{FOLDER}/{f}" not in names]
    if missing:
        raise FetchError(f"the archive lacks {', '.join(missing)}: not MovieLens {FOLDER}")


def fetch_movielens(
    url: str = MOVIELENS_URL,
    settings: Settings | None = None,
    force: bool = False,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download and unpack ml-latest-small into ``<data>/movielens/``; return its folder.

    An existing folder is kept unless ``force`` (then replaced only after the new one is complete).
    """
    target_parent = (settings or get_settings()).data_dir / "movielens"
    target = target_parent / FOLDER
    if target.exists() and not force:
        return target
    target_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_parent, prefix=".fetch-") as tmp:
        zip_path = Path(tmp) / "download.zip"
        _download(url, zip_path, timeout, progress)
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _check_members(archive)
                archive.extractall(Path(tmp) / "unpacked")
        except zipfile.BadZipFile as exc:
            raise FetchError(f"{url} did not return a zip archive: {exc}") from exc
        if target.exists():
            shutil.rmtree(target)
        (Path(tmp) / "unpacked" / FOLDER).rename(target)
    return target

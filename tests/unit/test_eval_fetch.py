"""``movierec data fetch-movielens`` against a real local HTTP server serving a zip built here."""

from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.cli import main
from movierec.config import get_settings
from movierec.fetch import FetchError, fetch_movielens

FILES = {
    "ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
    "movies.csv": "movieId,title,genres\n1,Toy Story (1995),Animation\n",
    "links.csv": "movieId,imdbId,tmdbId\n1,0114709,862\n",
    "README.txt": "MovieLens small\n",
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http.server on a free port serving tmp_path/www; yields (base URL, www folder)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()


def _zip(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)


@pytest.fixture
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "data"
    monkeypatch.setenv("MOVIEREC_DATA_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_fetch_downloads_and_unpacks_through_the_cli(served: tuple[str, Path], data_folder: Path) -> None:
    base, www = served
    _zip(www / "ml-latest-small.zip", {f"ml-latest-small/{n}": t for n, t in FILES.items()})
    assert main(["data", "fetch-movielens", "--url", f"{base}/ml-latest-small.zip"]) == 0
    target = data_folder / "movielens" / "ml-latest-small"
    assert (target / "ratings.csv").read_text() == FILES["ratings.csv"]
    assert sorted(p.name for p in (data_folder / "movielens").iterdir()) == ["ml-latest-small"]  # no temp left


def test_existing_copy_is_kept_unless_forced(served: tuple[str, Path], data_folder: Path) -> None:
    base, www = served
    _zip(www / "v1.zip", {f"ml-latest-small/{n}": t for n, t in FILES.items()})
    _zip(www / "v2.zip", {f"ml-latest-small/{n}": t + "changed\n" for n, t in FILES.items()})
    fetch_movielens(f"{base}/v1.zip", progress=False)
    fetch_movielens(f"{base}/v2.zip", progress=False)
    ratings = data_folder / "movielens" / "ml-latest-small" / "ratings.csv"
    assert ratings.read_text() == FILES["ratings.csv"]
    fetch_movielens(f"{base}/v2.zip", force=True, progress=False)
    assert ratings.read_text().endswith("changed\n")


@pytest.mark.parametrize(
    ("name", "members", "message"),
    [
        ("missing.zip", None, "could not download"),
        ("notzip.zip", "plain text", "did not return a zip"),
        ("partial.zip", {"ml-latest-small/movies.csv": "x"}, "lacks ratings.csv"),
        ("evil.zip", {**{f"ml-latest-small/{n}": t for n, t in FILES.items()}, "../evil.txt": "x"}, "unexpected member"),
    ],
)
def test_bad_downloads_fail_clearly_and_write_nothing(
    served: tuple[str, Path], data_folder: Path, name: str, members, message: str
) -> None:
    base, www = served
    if isinstance(members, dict):
        _zip(www / name, members)
    elif isinstance(members, str):
        (www / name).write_text(members)
    with pytest.raises(FetchError, match=message):
        fetch_movielens(f"{base}/{name}", progress=False)
    assert not (data_folder / "movielens" / "ml-latest-small").exists()
    assert not (data_folder.parent / "evil.txt").exists()

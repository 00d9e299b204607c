"""Catalog loading: course records (with their quirks), MovieLens join, id-derived records, the movie API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from movierec.catalog.course import RecordError, parse_record, read_course_catalog
from movierec.catalog.derived import movie_from_id
from movierec.catalog.movie_api import MovieApiClient, MovieApiError
from movierec.catalog.movielens import load_movielens_catalog, split_title
from movierec.catalog.resolve import resolve_movies
from movierec.config import Settings
from movierec.catalog.movielens_stream import movie_ids
from movierec.models.movie import Movie
from tests.fixtures.timeouts import SHORT_S, TEST_TIMEOUT_S
SLOW_S = 3 * SHORT_S

RAW = {
    "id": "+la+mode+1993", "tmdb_id": 349394, "imdb_id": "tt0106878", "title": "À la mode",
    "original_title": "À la mode", "adult": "False", "belongs_to_collection": {}, "budget": "0",
    "genres": [{"id": 35, "name": "Comedy"}], "homepage": "null", "original_language": "en", "overview": "",
    "popularity": "8.2e-05", "poster_path": "null", "production_companies": [], "release_date": "1993-09-10",
    "revenue": "0", "runtime": 82, "status": "null", "vote_average": "6.5", "vote_count": "4",
}  # fmt: skip


def test_course_record_quirks_are_normalised() -> None:
    m = parse_record(RAW)
    assert m == Movie(
        id="+la+mode+1993", title="À la mode", year=1993, genres=("Comedy",), overview="", popularity=8.2e-05,
        vote_average=6.5, vote_count=4, original_language="en", runtime=82, tmdb_id=349394, source="course",
    )  # fmt: skip
    odd = parse_record({**RAW, "title": "null", "release_date": "null", "popularity": "nan", "vote_count": "x"})
    assert (odd.title, odd.year, odd.popularity, odd.vote_count) == ("À la mode", None, 0.0, 0)
    no_overview = {k: v for k, v in RAW.items() if k != "overview"}
    assert parse_record(no_overview).overview == ""
    with pytest.raises(RecordError, match="no id"):
        parse_record({**RAW, "id": "null"})


def test_bad_catalog_lines_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "movies.jsonl"
    lines = [json.dumps(RAW), "{not json", json.dumps({"title": "no id"}), "", json.dumps(RAW), json.dumps([1])]
    path.write_text("\n".join(lines) + "\n")
    catalog = read_course_catalog(path)
    assert [m.id for m in catalog.movies] == ["+la+mode+1993"]
    assert [n for n, _ in catalog.rejected] == [2, 3, 5, 6]
    assert "duplicate id" in catalog.rejected[2][1]


def test_whole_course_catalog_loads(data_dir: Path) -> None:
    catalog = read_course_catalog(data_dir / "catalog" / "movies.jsonl")
    assert len(catalog.movies) == 16_960 and catalog.rejected == []
    assert all(m.title and m.popularity >= 0 for m in catalog.movies)
    assert sum(1 for m in catalog.movies if not m.overview) == 185  # 180 "", 1 " ", 4 missing


def test_movielens_titles() -> None:
    assert split_title("Toy Story (1995)") == ("Toy Story", 1995)
    assert split_title("Usual Suspects, The (1995)") == ("The Usual Suspects", 1995)
    assert split_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "The City of Lost Children", 1995
    )
    assert split_title("Babylon 5") == ("Babylon 5", None)


def test_movielens_joined_to_course(data_dir: Path) -> None:
    course = read_course_catalog(data_dir / "catalog" / "movies.jsonl").movies
    movies = load_movielens_catalog(course, Settings(data_dir=data_dir))
    assert len(movies) == 9_742
    linked = [m for m in movies if m.source == "course"]
    assert len(linked) == 5_370  # 5,368 linked by TMDB id, 2 more whose course-style id is a course id
    heat = next(m for m in movies if m.movielens_id == 6)
    assert (heat.id, heat.source, heat.year) == ("heat+1995", "course", 1995) and heat.overview
    toy = next(m for m in movies if m.movielens_id == 1)
    assert toy.id == "toy+story+1995"
    unlinked = {m.movielens_id: m for m in movies if m.source == "movielens"}
    stream_ids = movie_ids(Settings(data_dir=data_dir))  # what the replay calls each MovieLens movie
    assert all(m.id == stream_ids[ml_id] and m.title for ml_id, m in unlinked.items())
    assert unlinked[3].id == "grumpier+old+men+1995"


def test_record_derived_from_id() -> None:
    assert movie_from_id("the+lion+king+1994") == Movie(id="the+lion+king+1994", title="the lion king", year=1994, source="derived")
    assert (movie_from_id("1984+1956").title, movie_from_id("1984+1956").year) == ("1984", 1956)
    assert (movie_from_id("heat").title, movie_from_id("heat").year) == ("heat", None)


class _RecordedApi(BaseHTTPRequestHandler):
    """Serves recorded ``/movie/<id>`` responses; ``fail_first`` 503s, ``slow`` ids sleep past timeouts."""

    records: dict[str, bytes] = {}
    fail_first: dict[str, int] = {}
    slow: set[str] = set()
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        movie_id = self.path.removeprefix("/movie/")
        self.hits.append(movie_id)
        if movie_id in self.slow:
            time.sleep(SLOW_S)
        if self.fail_first.get(movie_id, 0) > 0:
            self.fail_first[movie_id] -= 1
            self.send_response(503)
            self.end_headers()
            return
        body = self.records.get(movie_id, b'{"message":"movie not found"}')
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def movie_api(data_dir: Path) -> Iterator[str]:
    lines = (data_dir / "catalog" / "movies.jsonl").read_bytes().splitlines()[:300]
    _RecordedApi.records = {json.loads(line)["id"]: line for line in lines}
    _RecordedApi.fail_first, _RecordedApi.slow, _RecordedApi.hits = {}, set(), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordedApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_movie_api_client_normalises_and_caches(movie_api: str) -> None:
    movie_id, raw = next(iter(_RecordedApi.records.items()))
    client = MovieApiClient(movie_api, timeout_s=TEST_TIMEOUT_S)
    movie = client.get(movie_id)
    assert movie == parse_record(json.loads(raw), source="api")
    assert client.get(movie_id) == movie and client.get("no+such+movie+2001") is None
    assert client.get("no+such+movie+2001") is None
    assert client.requests_sent == 2  # one per id: answers, "not found" included, are cached


def test_movie_api_client_retries_then_gives_up(movie_api: str) -> None:
    flaky, slow = list(_RecordedApi.records)[1:3]
    _RecordedApi.fail_first[flaky] = 2
    _RecordedApi.slow.add(slow)
    client = MovieApiClient(movie_api, timeout_s=SHORT_S, retries=2, backoff_s=0.01)
    assert client.get(flaky) is not None and _RecordedApi.hits.count(flaky) == 3
    started = time.monotonic()
    with pytest.raises(MovieApiError, match="3 attempts"):
        client.get(slow)
    assert time.monotonic() - started < 3 * SLOW_S  # gave up on each attempt, never waited one out


def test_resolve_prefers_catalog_then_api_then_id(movie_api: str) -> None:
    on_api = list(_RecordedApi.records)[3]
    known = {"heat+1995": Movie(id="heat+1995", title="Heat", year=1995)}
    movies = resolve_movies(["heat+1995", on_api, "the+lion+king+1994", "heat+1995"], known, MovieApiClient(movie_api, timeout_s=TEST_TIMEOUT_S))
    assert [m.source for m in movies] == ["course", "api", "derived"]
    assert movies[2].title == "the lion king"
    assert resolve_movies(["x+2000"], {}, None)[0] == movie_from_id("x+2000")

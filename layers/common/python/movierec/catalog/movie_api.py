"""Client of the course movie API (``<base>/movie/<id>``): timeouts, retries with backoff, a bounded cache.

Used by the index jobs for movie ids that the recorded catalog lacks. The API is remote and flaky in the
course, so each call has a timeout, transient failures (connection errors, timeouts, 5xx, 429) are retried
a few times with backoff, and answers (including "not found") are cached in a bounded LRU so a job asks
once per id. Responses are normalised by :func:`movierec.catalog.course.parse_record`, exactly as the
recorded ones are.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict

from movierec.catalog.course import RecordError, parse_record
from movierec.models.movie import Movie
from movierec.observability import make_logger

logger = make_logger("catalog")


class MovieApiError(RuntimeError):
    """The API did not give a usable answer after all retries; the message says what happened last."""


class MovieApiClient:
    """``get(movie_id)`` -> :class:`Movie`, or None when the API says the movie does not exist."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        cache_size: int = 50_000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Movie | None] = OrderedDict()
        #: HTTP requests actually sent (cache hits send none); for tests and job summaries.
        self.requests_sent = 0

    def get(self, movie_id: str) -> Movie | None:
        """The movie's metadata; None for an unknown id; raises :class:`MovieApiError` if the API fails."""
        if movie_id in self._cache:
            self._cache.move_to_end(movie_id)
            return self._cache[movie_id]
        movie = self._fetch(movie_id)
        self._cache[movie_id] = movie
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return movie

    def _fetch(self, movie_id: str) -> Movie | None:
        url = f"{self.base_url}/movie/{urllib.parse.quote(movie_id, safe='+')}"
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.requests_sent += 1
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                last = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    break  # a client error will not get better by asking again
                continue
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                continue
            return _parse_body(movie_id, body)
        logger.warning("movie API failed", extra={"movie_id": movie_id, "url": url, "last_error": last})
        raise MovieApiError(f"movie API {url} failed after {self.retries + 1} attempts: {last}")


def _parse_body(movie_id: str, body: bytes) -> Movie | None:
    """The course API answers unknown ids with 200 and ``{"message": "movie not found"}``."""
    try:
        raw = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MovieApiError(f"movie API answered {movie_id} with invalid JSON: {exc}") from exc
    if isinstance(raw, dict) and "id" not in raw:
        return None
    try:
        return parse_record(raw, source="api")
    except RecordError as exc:
        raise MovieApiError(f"movie API answered {movie_id} with an unusable record: {exc}") from exc

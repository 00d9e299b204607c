"""``movierec recommend <user_id>``: a user's recommendations with titles, for a person to read."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from movierec.config import get_settings


def _from_api(url: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _recommend(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = f"{settings.api_url}/recommend/{args.user_id}"
    try:
        status, body = _from_api(url)
    except (urllib.error.URLError, OSError) as exc:
        print(f"the recommend API does not answer at {settings.api_url} ({exc}); start it with `make up`")
        return 1
    if status != 200:
        print(f"{url} answered {status}: {body.get('error', body)}")
        return 1
    how = "popular movies (no usable history)" if body["fallback"] else f"ranker {body['ranker']}"
    print(f"user {body['user_id']}: {len(body['movies'])} movies, {how}, index {body['version']}")
    for n, movie in enumerate(body["movies"], start=1):
        print(f"{n:>3}. {movie['title']:<60.60} {movie['id']:<40.40} {movie['score']:.3f}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("recommend", epilog="example: movierec recommend 1", help="a user's recommendations with titles (asks the running API)")
    parser.add_argument("user_id", help="the user id, e.g. 1")
    parser.set_defaults(func=_recommend)

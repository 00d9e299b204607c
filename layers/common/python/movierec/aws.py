"""boto3 clients bound to the configured endpoint.

One place decides where AWS calls go: ``AWS_ENDPOINT_URL`` (moto server, LocalStack) or, when unset, the
real AWS endpoints. Clients are cached per process because creating one costs milliseconds and Lambda
containers serve many requests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from movierec.config import Settings, get_settings

_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})


@lru_cache(maxsize=32)
def _client(service: str, endpoint: str | None, region: str) -> Any:
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=region, config=_CLIENT_CONFIG
    )


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for ``service`` on the configured endpoint and region."""
    s = settings or get_settings()
    return _client(service, s.aws_endpoint_url, s.region)

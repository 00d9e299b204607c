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

#: Read timeout when ``Settings.aws_read_timeout_s`` leaves it open.
DEFAULT_READ_TIMEOUT_S = 10.0


@lru_cache(maxsize=32)
def _client(service: str, endpoint: str | None, region: str, read_timeout_s: float) -> Any:
    config = Config(connect_timeout=2, read_timeout=read_timeout_s, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=region, config=config)


def client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client for ``service`` on the configured endpoint and region."""
    s = settings or get_settings()
    return _client(service, s.aws_endpoint_url, s.region, s.aws_read_timeout_s or DEFAULT_READ_TIMEOUT_S)

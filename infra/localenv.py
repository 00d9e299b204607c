"""Point this process (and its children) at the local stack unless told otherwise.

The CLI is a local tool: with no ``AWS_ENDPOINT_URL`` set it talks to the embedded moto server, with
dummy credentials, so ``movierec history 1`` in a second terminal reaches what ``make up`` started.
``MOVIEREC_LOCAL=0`` turns this off (then the normal AWS configuration applies, e.g. real AWS).
"""

from __future__ import annotations

import os

from movierec.config import Settings, get_settings
from infra.stack import LOCAL_CREDENTIALS


def use_local_stack() -> Settings:
    """Fill in the local endpoint and credentials where the environment leaves them open; return settings."""
    if os.environ.get("MOVIEREC_LOCAL", "1") != "0":
        base = Settings.from_env()
        os.environ.setdefault("AWS_ENDPOINT_URL", f"http://{base.moto_host}:{base.moto_port}")
        os.environ.setdefault("AWS_DEFAULT_REGION", base.region)
        for key, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(key, value)
    get_settings.cache_clear()
    return get_settings()

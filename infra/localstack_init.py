"""Writes ``localstack/ready.d/movierec-resources.json``: what LocalStack's ready hook creates.

LocalStack runs the scripts of ``/etc/localstack/init/ready.d`` in its own Python once it serves requests
(``localstack-compose.yml`` mounts ``localstack/ready.d`` there). That interpreter has boto3 but not our
dependencies (pynamodb, kafka-python), so the hook (``localstack/ready.d/10-movierec-bootstrap.py``)
cannot run ``infra.bootstrap``; it reads this file instead, rendered from the same sources as the
bootstrap and the template: the tables from the pynamodb models (:func:`infra.template_gen.table_resource`),
the alarms from :data:`movierec.alarms.ALARMS`. ``${Prefix}`` and ``${Stage}`` are filled in by the hook
from ``MOVIEREC_PREFIX`` / ``MOVIEREC_STAGE``. ``tests/test_compose.py`` fails when the file is stale and
runs the hook against moto.

    python -m infra.localstack_init          # rewrite the file
    python -m infra.localstack_init --check  # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from movierec.alarms import ALARMS
from movierec.config import REPO_ROOT
from movierec.dal import tables
from infra.template_gen import table_resource

RESOURCES = REPO_ROOT / "localstack" / "ready.d" / "movierec-resources.json"
HOOK = REPO_ROOT / "localstack" / "ready.d" / "10-movierec-bootstrap.py"


def render() -> dict[str, Any]:
    """CreateTable, CreateBucket and PutMetricAlarm arguments with ``${Prefix}``/``${Stage}`` placeholders."""
    out_tables = []
    for model in tables.ALL_MODELS:
        props = table_resource(model)["Properties"]
        out_tables.append({"TableName": "${Prefix}-" + model.Meta.logical, "BillingMode": props["BillingMode"],
                           "AttributeDefinitions": props["AttributeDefinitions"], "KeySchema": props["KeySchema"]})  # fmt: skip
    return {
        "tables": out_tables,
        "bucket": "${Prefix}-index",
        "alarms": [spec.properties("${Prefix}", "${Stage}") for spec in ALARMS],
    }


def text() -> str:
    return json.dumps(render(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is stale")
    args = parser.parse_args(argv)
    stale = not RESOURCES.exists() or RESOURCES.read_text() != text()
    if args.check:
        print(f"{RESOURCES.name}: " + ("stale; run `python -m infra.localstack_init`" if stale else "up to date"))
        return 1 if stale else 0
    RESOURCES.write_text(text())
    print(f"{RESOURCES.name}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())

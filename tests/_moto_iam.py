"""The moto server of the IAM test: moto's own IAM enforcement, with DynamoDB table ARNs and an audit log.

moto authorizes a request once ``INITIAL_NO_AUTH_ACTION_COUNT`` requests have passed (the IAM test sets
it to 0 through ``POST /moto-api/reset-auth`` once its setup is done): it checks the SigV4 signature and
evaluates the caller's IAM policies for the request's action with moto's own policy evaluator. For S3 it
evaluates the bucket or object ARN too; for DynamoDB it evaluates against ``*`` only, so this launcher
asks moto's evaluator once per table the request names (``TableName`` anywhere in the request, the keys of
``RequestItems``), with that table's ARN, as AWS does. Every decision is appended to the JSON-lines file
named by ``MOVIEREC_IAM_AUDIT`` (access key, action, resource, allowed), so the test sees every action a
function's code called and every refusal, even those the code catches (a degraded answer).

    python tests/_moto_iam.py -H 127.0.0.1 -p PORT      # then the unmodified moto server (infra.moto_server)
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

_AUDIT = Path(os.environ["MOVIEREC_IAM_AUDIT"])
_lock = threading.Lock()


def _table_names(node: Any) -> set[str]:
    """Every table a DynamoDB request names (single-table actions, batches, transactions)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "TableName" and isinstance(value, str):
                found.add(value)
            elif key == "RequestItems" and isinstance(value, dict):
                found.update(value)
            else:
                found |= _table_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _table_names(item)
    return found


def install() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam import access_control

    checked = access_control.IAMRequestBase.check_action_permitted

    def audited(self: Any, resource: str) -> None:
        key = self._headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0]
        allowed = False
        try:
            checked(self, resource)
            allowed = True
        finally:
            with _lock, _AUDIT.open("a") as f:
                f.write(json.dumps({"key": key, "action": self._action, "resource": resource, "allowed": allowed}) + "\n")

    access_control.IAMRequestBase.check_action_permitted = audited  # type: ignore[method-assign]
    authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def per_table(self: Any, resource: str = "*") -> None:
        body = self.body  # DynamoHandler.call_action has replaced the text with the parsed request
        if isinstance(body, (str, bytes)):
            try:
                body = json.loads(body or "{}")
            except ValueError:
                body = {}
        names = sorted(_table_names(body))
        for name in names or ["*"]:
            arn = name if name == "*" or name.startswith("arn:") else (
                f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{name}")
            authorize(self, arn)

    DynamoHandler._authenticate_and_authorize_normal_action = per_table  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for infra.moto_server
    install()
    from infra.moto_server import main

    main(sys.argv[1:])

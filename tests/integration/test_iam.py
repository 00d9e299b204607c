"""Permissions proven, not assumed: every function runs with its template role as its only permissions.

A dedicated moto server (tests/fixtures/moto_iam.py) enforces IAM: after the setup (tables, bucket, a published
index, one IAM role per function created from template.yaml's own policy documents, each assumed for
temporary credentials) the test switches enforcement on, and from then on a request is served only
if its signature is valid and the caller's policies allow its action on its resource (S3 objects and
buckets, DynamoDB tables). Each function then runs its real code paths through ``movierec invoke``'s
machinery (a fresh Lambda-like process, the function's template environment) with its role's
credentials: ingest on the real course batch of events/, recommend on the API Gateway event, gauges,
train and guard on their schedule events (the guard on a failing canary, which it rolls back). The stack
is deployed with ``TrainPrior`` set to a prior stored by ``movierec data publish-prior``, so train's run
reads it from the bucket, as on AWS.

The audit log of the server tells, per role, every action the code called and every refusal, so:
- the run passes only with no refusal at all (a refusal the code catches, like a degraded answer, counts);
- least privilege: every (action, resource) its code policy grants was used by the run;
- the negative cases remove, per function, the first action its run needed and see moto refuse it.
Nothing here lists the actions: they come from the template and from what the code did.

Not proven here (moto does not evaluate them): policy ``Condition`` keys (``s3:prefix``), bucket
policies, and the policies the Lambda service uses for the function (``logs``, the Kafka mapping's
``kafka-source`` and ``failed-batches``); docs/deploy.md says so.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from movierec.config import Settings, get_settings
from movierec.dal.answer_log import AnswerLog, LoggedAnswer, now_ms
from movierec.dal.experiment_store import start_experiment
from movierec.dal.index_store import published_versions, read_pointer
from movierec.dal.tables import Tables
from movierec.experiments.assign import assign
from movierec.index.build import BuildResult
from movierec.index.publish import publish
from movierec.models.experiment import TREATMENT, Guardrails
from movierec.training.job import publish_prior
from infra import cfn
from infra.bootstrap import ensure_bucket, ensure_tables
from infra.events import EVENTS_DIR, SAMPLES, stream_records
from infra.poller import lambda_event
from infra.invoke import Invocation, function_spec, function_ids, invoke
from infra.stack import LOCAL_CREDENTIALS, free_port, s3_answers

from tests.fixtures.index import publish_copy
from tests.fixtures.timeouts import TEST_TIMEOUT_S
TEMPLATE = cfn.load()
FUNCTIONS = function_ids(TEMPLATE)
#: Lines of each course sample file in the ingest batch: enough for train to find movies seen by 3+ users.
INGEST_LINES_PER_FILE = 1500
#: Grants the runs here cannot reach, each with the code path that needs it and where that path is tested
#: (without IAM). Keep this short: every entry is a permission not proven by this file.
NOT_REACHED = {
    ("IngestFunction", "dynamodb:DeleteItem"): "dal/offsets.OffsetLog._delete_slices drops the slice items of an "
    "intent too big for one item (a heavy user's re-paged history); tests/test_ingest_handler.py runs it",
    ("GuardFunction", "s3:ListBucket"): "AWS answers a missing experiments/RUNNING (no experiment running) with 404 "
    "only to a caller that may list the bucket, 403 otherwise; moto always answers 404, and the guard's run here "
    "has a canary running; tests/integration/test_experiments_live.py runs the guard with none",
}
#: Run order: train reads what ingest wrote; the guard runs last, on a canary started just before it.
ORDER = sorted(FUNCTIONS, key=lambda f: (f != "IngestFunction", f == "GuardFunction"))
#: Answers logged per arm of the canary the guard judges (its treatment arm fails every one).
CANARY_ANSWERS = 60


def role_of(function: str) -> str:
    return TEMPLATE["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def code_policy_name(function: str, settings: Settings) -> str:
    """A role's policy named after its function (``<prefix>-ingest`` -> ``ingest``) is what its code calls."""
    return function_spec(function, settings, TEMPLATE).function_name.removeprefix(f"{settings.prefix}-")


@dataclass
class IamStack:
    settings: Settings
    endpoint: str
    audit: Path
    index_cache: Path
    #: The key of the prior stored in the bucket: the ``TrainPrior`` parameter every function runs with.
    prior: str

    def _auth(self, count: str) -> None:
        # text/plain: a form content type would make the server read the body as form fields, not the count
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=count.encode(),
                                         headers={"Content-Type": "text/plain"})  # fmt: skip
        urllib.request.urlopen(request, timeout=TEST_TIMEOUT_S).read()

    def enforce(self, on: bool) -> None:
        """IAM enforcement on (every request authorized from now) or off (setup as the account root)."""
        self._auth("0" if on else "inf")

    def ctx(self) -> cfn.Context:
        return cfn.Context(TEMPLATE, {"Prefix": self.settings.prefix, "Stage": self.settings.stage},
                           region=self.settings.region)  # fmt: skip

    def policies(self, role: str) -> list[dict[str, Any]]:
        return cfn.resolve(TEMPLATE["Resources"][role]["Properties"]["Policies"], self.ctx())

    def assume(self, role_name: str, trust: Any, policies: list[dict[str, Any]]) -> dict[str, str]:
        """Create ``role_name`` with these policies (enforcement must be off) and return its credentials."""
        iam = self.client("iam")
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
        for policy in policies:
            iam.put_role_policy(RoleName=role_name, PolicyName=policy["PolicyName"],
                                PolicyDocument=json.dumps(policy["PolicyDocument"]))  # fmt: skip
        arn = f"arn:aws:iam::{cfn.LOCAL_ACCOUNT_ID}:role/{role_name}"
        creds = self.client("sts").assume_role(RoleArn=arn, RoleSessionName=role_name)["Credentials"]
        return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"]}  # fmt: skip

    def client(self, service: str, creds: dict[str, str] = LOCAL_CREDENTIALS) -> Any:
        return boto3.session.Session(
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
        ).client(service, endpoint_url=self.endpoint, region_name=self.settings.region)

    def run(self, function: str, creds: dict[str, str]) -> Invocation:
        spec = function_spec(function, self.settings, TEMPLATE, parameters={"TrainPrior": self.prior, "IndexKeepVersions": "1"})
        event = json.loads((EVENTS_DIR / SAMPLES[function][0]).read_text())
        if function == "IngestFunction":  # the same event shape, with enough real lines for train to fit
            records = stream_records(Settings(data_dir=self.settings.data_dir), INGEST_LINES_PER_FILE)
            event = lambda_event(records, self.settings.kafka_bootstrap, event["eventSource"])
        caller = {"AWS_ENDPOINT_URL": self.endpoint, "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
        caches = {"MOVIEREC_INDEX_CACHE": str(self.index_cache / function),
                  "MOVIEREC_EMBED_CACHE": str(self.index_cache / f"{function}-embeddings")}  # fmt: skip
        return invoke(spec, event, env={**creds, **caches}, caller_env=caller)

    def start_failing_canary(self, built: BuildResult, tmp_path: Path) -> None:
        """A canary running with a treatment arm that failed every logged answer, for the guard to roll
        back (enforcement must be off): the guard's run then calls everything its role grants."""
        treatment = publish_copy(built, self.settings, tmp_path, "20250101T000000Z-9a2d0c11")
        control = read_pointer(self.settings)  # what train left current (the versions before it were pruned)
        assert control is not None
        experiment = start_experiment(self.settings, "iam-canary", control, treatment, 0.5,
                                      canary=True, guardrails=Guardrails(min_requests=CANARY_ANSWERS // 2))  # fmt: skip
        log = AnswerLog(Tables(self.settings))
        for user_id in range(CANARY_ANSWERS * 3):
            arm = assign(experiment, user_id)
            failed = arm.arm == TREATMENT
            log.record(LoggedAnswer(user_id, now_ms(), 200, ("1",), 10.0, arm.version, None, experiment.name,
                                    arm.arm, "index-unavailable" if failed else None))  # fmt: skip
        log.close()
        assert log.written == CANARY_ANSWERS * 3 and not log.failed

    def decisions(self, key: str) -> list[dict[str, Any]]:
        lines = self.audit.read_text().splitlines() if self.audit.exists() else []
        return [d for d in map(json.loads, lines) if d["key"] == key]


@pytest.fixture(scope="module")
def iam_stack(tmp_path_factory: pytest.TempPathFactory, built: BuildResult) -> Iterator[IamStack]:
    """A moto server of its own (enforcement is process-wide), set up as the account root."""
    work = tmp_path_factory.mktemp("iam")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    audit = work / "audit.jsonl"
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "fixtures" / "moto_iam.py"), "-H", "127.0.0.1", "-p", str(port)],
        env=os.environ | {"MOVIEREC_IAM_AUDIT": str(audit)}, stdout=(work / "moto.log").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", "MOVIEREC_PREFIX": "iam",
                           "MOVIEREC_INDEX_CACHE": str(work / "cache"), **LOCAL_CREDENTIALS}.items():  # fmt: skip
            mp.setenv(key, value)
        get_settings.cache_clear()
        try:
            deadline = time.monotonic() + TEST_TIMEOUT_S
            while not s3_answers(endpoint, "us-east-1"):
                assert server.poll() is None and time.monotonic() < deadline, (work / "moto.log").read_text()
                time.sleep(0.2)
            settings = get_settings()
            ensure_tables(settings)
            ensure_bucket(settings)
            publish(built.folder, built.manifest.version, settings)
            yield IamStack(settings, endpoint, audit, work / "cache", publish_prior(settings))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=TEST_TIMEOUT_S)
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def runs(iam_stack: IamStack, built: BuildResult,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, str], Invocation]]:  # fmt: skip
    """Every function once, with its role's credentials, IAM enforced (ingest first: train reads its data;
    the guard last, on a failing canary set up as the account root just before)."""
    creds = {}
    for function in ORDER:
        role = role_of(function)
        trust = TEMPLATE["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        creds[function] = iam_stack.assume(role, trust, iam_stack.policies(role))
    iam_stack.enforce(True)
    with pytest.raises(ClientError, match="InvalidAccessKeyId|InvalidClientTokenId|AccessDenied"):
        iam_stack.client("s3").list_buckets()  # the root's keys are not an IAM identity: refused
    done = {}
    for function in ORDER:
        if function == "GuardFunction":
            iam_stack.enforce(False)
            try:
                iam_stack.start_failing_canary(built, tmp_path_factory.mktemp("canary"))
            finally:
                iam_stack.enforce(True)
        done[function] = (creds[function], iam_stack.run(function, creds[function]))
    return done


def _outcome_ok(function: str, result: Any) -> str | None:
    """Why the function's result is not a success (None when it is one)."""
    if function == "IngestFunction":
        return None if result.get("accepted", 0) > 0 else f"nothing accepted: {result}"
    if function == "RecommendFunction":
        return None if result.get("statusCode") == 200 else f"answered {result.get('statusCode')}: {result}"
    if function == "TrainFunction":  # the stream's ids the index lacked added first, then trained
        return None if result.get("trained") and result.get("added", 0) > 0 else f"did not add and train: {result}"
    if function == "GuardFunction":
        return None if result.get("rolled_back") else f"did not roll the failing canary back: {result}"
    return None if result else f"no gauge values: {result}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_runs_with_only_its_role(runs: dict[str, tuple[dict[str, str], Invocation]], iam_stack: IamStack,
                                          function: str) -> None:  # fmt: skip
    creds, done = runs[function]
    decisions = iam_stack.decisions(creds["AWS_ACCESS_KEY_ID"])
    denied = sorted({f"{d['action']} on {d['resource']}" for d in decisions if not d["allowed"]})
    assert decisions, f"{function} made no AWS call at all:\n{done.log[-3000:]}"
    assert not denied, f"{role_of(function)} lacks what {function}'s code calls: {denied}"
    assert not done.failed, done.log[-3000:]
    assert _outcome_ok(function, done.result) is None, _outcome_ok(function, done.result)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_grant_of_the_code_policy_is_used(runs: dict[str, tuple[dict[str, str], Invocation]],
                                                iam_stack: IamStack, function: str) -> None:  # fmt: skip
    creds, _ = runs[function]
    used = [(d["action"], d["resource"]) for d in iam_stack.decisions(creds["AWS_ACCESS_KEY_ID"]) if d["allowed"]]
    name = code_policy_name(function, iam_stack.settings)
    (policy,) = [p for p in iam_stack.policies(role_of(function)) if p["PolicyName"] == name]
    unused = []
    for statement in policy["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            for resource in resources:
                if (function, action) in NOT_REACHED:
                    continue
                if not any(a == action and fnmatch.fnmatchcase(r, resource) for a, r in used):
                    unused.append(f"{statement.get('Sid', '?')}: {action} on {resource}")
    assert not unused, f"{role_of(function)} grants what {function}'s code never calls: {unused}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_removing_a_needed_action_is_refused(runs: dict[str, tuple[dict[str, str], Invocation]],
                                             iam_stack: IamStack, function: str) -> None:  # fmt: skip
    """The first action the function's run needed, removed from its role: moto refuses it."""
    creds, _ = runs[function]
    first = next(d["action"] for d in iam_stack.decisions(creds["AWS_ACCESS_KEY_ID"]) if d["allowed"])
    role = role_of(function)
    policies = copy.deepcopy(iam_stack.policies(role))
    for policy in policies:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != first] or ["none:Nothing"]
    iam_stack.enforce(False)
    try:
        trust = TEMPLATE["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        stripped = iam_stack.assume(f"{role}-without-{first.replace(':', '-')}", trust, policies)
    finally:
        iam_stack.enforce(True)
    done = iam_stack.run(function, stripped)
    refused = {d["action"] for d in iam_stack.decisions(stripped["AWS_ACCESS_KEY_ID"]) if not d["allowed"]}
    assert first in refused, f"without {first}, {function} was not refused it:\n{done.log[-3000:]}"


def test_train_reads_the_published_prior_with_its_role(runs: dict[str, tuple[dict[str, str], Invocation]],
                                                      iam_stack: IamStack) -> None:  # fmt: skip
    """The prior a deployed train function learns with is an object in the index bucket: read with the
    train role alone, and not skipped (a skipped prior is only logged, so the run would pass without it)."""
    creds, done = runs["TrainFunction"]
    reads = [d for d in iam_stack.decisions(creds["AWS_ACCESS_KEY_ID"])
             if d["action"] == "s3:GetObject" and d["resource"].endswith(iam_stack.prior)]  # fmt: skip
    assert reads and all(d["allowed"] for d in reads), reads
    assert "no prior data" not in done.log


def test_train_prunes_old_versions_with_its_role(runs: dict[str, tuple[dict[str, str], Invocation]],
                                                iam_stack: IamStack, built: BuildResult) -> None:  # fmt: skip
    """Deployed with ``IndexKeepVersions`` 1, train deletes the data of the versions its run left behind
    (with its role alone: DeleteObject on version data only), and their manifests stay readable."""
    creds, _ = runs["TrainFunction"]
    deletes = [d for d in iam_stack.decisions(creds["AWS_ACCESS_KEY_ID"]) if d["action"] == "s3:DeleteObject"]
    assert deletes and all(d["allowed"] and "/movies.lance/" in d["resource"] for d in deletes), deletes
    iam_stack.enforce(False)
    try:
        versions = published_versions(iam_stack.settings)
    finally:
        iam_stack.enforce(True)
    assert versions.get(built.manifest.version) is False, versions  # the first version: its manifest alone


def test_every_function_has_a_role_and_a_code_policy(iam_stack: IamStack) -> None:
    for function in FUNCTIONS:
        names = [p["PolicyName"] for p in iam_stack.policies(role_of(function))]
        assert code_policy_name(function, iam_stack.settings) in names, (function, names)



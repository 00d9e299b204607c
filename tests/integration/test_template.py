"""template.yaml: it lints, it agrees with what the local bootstrap creates, its handlers import.

The tables and alarms are compared with what ``bootstrap()`` really created on the moto server (not only
with the models), so the local stack and the deployment are proven to have the same shape.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from movierec import aws
from movierec.alarms import ALARMS
from movierec.config import REPO_ROOT, TABLES, Settings
from infra import template_gen

TEMPLATE = REPO_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags turned into their long form (``!Ref X`` -> ``{"Ref": X}``)."""


def _construct(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)


def _resolve(value: Any, params: dict[str, str]) -> Any:
    """Substitute parameters in ``Fn::Sub``/``Ref`` (enough for names and dimensions)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: params.get(m.group(1), m.group(0)), value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in params:
        return params[value["Ref"]]
    if isinstance(value, dict):
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def test_cfn_lint_passes() -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(lint), str(TEMPLATE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_resources_are_current(template: dict[str, Any]) -> None:
    """Tables, alarms and dashboard in the template are exactly the render of the code's definitions."""
    text = TEMPLATE.read_text()
    assert template_gen.current_block(text) == template_gen.rendered_block(), (
        "template.yaml is stale: run `python -m infra.template_gen`"
    )
    for logical_id, resource in template_gen.render().items():
        assert template["Resources"][logical_id] == resource


def test_tables_match_what_bootstrap_created(template: dict[str, Any], isolated: Settings) -> None:
    dynamodb = aws.client("dynamodb", isolated)
    resources = template["Resources"]
    declared = {r["Properties"]["TableName"]["Fn::Sub"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"}
    assert declared == {f"${{Prefix}}-{logical}" for logical in TABLES}
    for logical in TABLES:
        props = _resolve(resources[template_gen.table_logical_id(logical)]["Properties"], {"Prefix": isolated.prefix})
        live = dynamodb.describe_table(TableName=isolated.table(logical))["Table"]
        assert props["TableName"] == live["TableName"] == isolated.table(logical)
        assert props["KeySchema"] == live["KeySchema"]
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(live["AttributeDefinitions"], key=str)
        assert props["BillingMode"] == live["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_bucket_name_versioning_encryption_public_block(template: dict[str, Any], isolated: Settings) -> None:
    props = template["Resources"]["IndexBucket"]["Properties"]
    assert _resolve(props["BucketName"], {"Prefix": isolated.prefix}) == isolated.bucket
    assert isolated.bucket in {b["Name"] for b in aws.client("s3", isolated).list_buckets()["Buckets"]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4


def test_alarms_match_what_bootstrap_created(template: dict[str, Any], isolated: Settings) -> None:
    live = {
        a["AlarmName"]: a
        for a in aws.client("cloudwatch", isolated).describe_alarms(AlarmNamePrefix=f"{isolated.prefix}-")["MetricAlarms"]
    }
    params = {"Prefix": isolated.prefix, "Stage": isolated.stage}
    fields = ("Threshold", "ComparisonOperator", "EvaluationPeriods", "DatapointsToAlarm", "TreatMissingData")
    for spec in ALARMS:
        props = _resolve(template["Resources"][template_gen.alarm_logical_id(spec.name)]["Properties"], params)
        created = live[props["AlarmName"]]
        assert {f: props[f] for f in fields} == {f: created[f] for f in fields}
        if spec.expression is None:
            for key in ("Namespace", "MetricName", "Period", "Statistic", "ExtendedStatistic"):
                if props.get("Namespace") != "AWS/Lambda" or key in ("Period", "Statistic"):
                    assert props.get(key) == created.get(key), key
            continue
        assert [(m["Id"], m.get("Expression")) for m in props["Metrics"]] == [
            (m["Id"], m.get("Expression")) for m in created["Metrics"]
        ]
        for declared, made in zip(props["Metrics"], created["Metrics"]):
            if "MetricStat" not in declared:
                continue
            metric = declared["MetricStat"]["Metric"]
            if metric["Namespace"] == "AWS/Lambda":  # stands for the poller's metric on AWS (see alarms.py)
                continue
            assert declared["MetricStat"] == made["MetricStat"]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []

    def walk(statement: Any) -> None:
        if isinstance(statement, dict) and "Fn::If" in statement:
            for branch in statement["Fn::If"][1:]:
                walk(branch)
        elif isinstance(statement, dict) and "Effect" in statement:
            out.append(statement)

    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                walk(statement)
    return out


def test_iam_is_scoped_no_wildcard_actions_or_resources(template: dict[str, Any]) -> None:
    statements = _statements(template)
    assert len(statements) >= 10
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert all("*" not in a for a in actions), s
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if s["Sid"] == "MskNetworkInterfaces":  # EC2 ENI actions have no resource-level permissions
            assert all(a.startswith("ec2:") for a in actions)
            continue
        assert "*" not in resources, s

    def tables_of(role: str) -> set[str]:
        """The tables a role's DynamoDB statements name (each one a GetAtt of a table of this template)."""
        found = set()
        for s in _statements({"Resources": {role: template["Resources"][role]}}):
            if any(a.startswith("dynamodb:") for a in s["Action"]):
                resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                found |= {r["Fn::GetAtt"][0] for r in resources}
        return found

    assert tables_of("IngestRole") == {template_gen.table_logical_id(t) for t in TABLES}
    assert tables_of("RecommendRole") == {"HistoryTable", "MoviesTable", "RecommendationsTable"}


def test_kafka_source_is_chosen_by_parameter(template: dict[str, Any]) -> None:
    res = template["Resources"]
    msk, smk = res["IngestMskMapping"], res["IngestSelfManagedMapping"]
    assert (msk["Condition"], smk["Condition"]) == ("IsMsk", "IsSelfManaged")
    assert template["Parameters"]["KafkaSourceType"]["AllowedValues"] == ["MSK", "SelfManagedKafka"]
    for mapping in (msk["Properties"], smk["Properties"]):
        assert mapping["BatchSize"] == {"Ref": "BatchSize"}
        assert mapping["MaximumBatchingWindowInSeconds"] == {"Ref": "BatchWindowSeconds"}
        assert mapping["StartingPosition"] == {"Ref": "StartingPosition"}
        assert mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::If"][0] == "FailToSqs"
    assert msk["Properties"]["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": {"Ref": "KafkaConsumerGroup"}}
    assert smk["Properties"]["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": {"Ref": "KafkaConsumerGroup"}}
    assert smk["Properties"]["SourceAccessConfigurations"]
    # Partitions apply in parallel (one invocation per partition); the cap is a parameter, not 1.
    ingest = res["IngestFunction"]["Properties"]
    assert ingest["ReservedConcurrentExecutions"] == {"Ref": "IngestMaxConcurrency"}
    assert template["Parameters"]["IngestMaxConcurrency"]["Default"] >= Settings().kafka_partitions


def test_api_route_throttling_and_image_function(template: dict[str, Any]) -> None:
    res = template["Resources"]
    recommend = res["RecommendFunction"]
    assert recommend["Properties"]["PackageType"] == "Image"
    assert recommend["Properties"]["Events"]["Recommend"]["Properties"]["Path"] == "/recommend/{user_id}"
    assert recommend["Properties"]["Events"]["Recommend"]["Properties"]["Method"] == "GET"
    [settings] = res["RecommendApi"]["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"} and settings["ThrottlingBurstLimit"]
    dockerfile = REPO_ROOT / recommend["Metadata"]["Dockerfile"]
    text = dockerfile.read_text()
    assert re.search(r"^FROM public\.ecr\.aws/lambda/python:3\.11$", text, re.M)
    assert 'CMD ["app.app"]' in text
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in source.split():
            assert (REPO_ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
    layer = res["CommonLayer"]["Properties"]
    # sam build (BuildMethod python3.11) puts the ContentUri folder's content under python/ of the layer
    assert (REPO_ROOT / layer["ContentUri"] / "movierec" / "__init__.py").exists()
    assert res["CommonLayer"]["Metadata"]["BuildMethod"] == "python3.11"
    assert res["IngestFunction"]["Properties"]["Layers"] == [{"Ref": "CommonLayer"}]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_handlers_named_in_the_template_import(template: dict[str, Any], isolated: Settings) -> None:
    ingest = template["Resources"]["IngestFunction"]["Properties"]
    module_name, attr = ingest["Handler"].split(".")
    assert callable(getattr(_load(REPO_ROOT / ingest["CodeUri"] / f"{module_name}.py", "template_ingest"), attr))
    # The gauges and guard functions are the recommend image with another command: each one's module is
    # copied into the image.
    for logical_id in ("GaugesFunction", "GuardFunction"):
        function = template["Resources"][logical_id]
        [command] = function["Properties"]["ImageConfig"]["Command"]
        module_name, attr = command.split(".")
        dockerfile = (REPO_ROOT / function["Metadata"]["Dockerfile"]).read_text()
        [source] = re.findall(rf"^COPY (\S+) \$\{{LAMBDA_TASK_ROOT\}}/{module_name}\.py$", dockerfile, re.M)
        assert callable(getattr(_load(REPO_ROOT / source, f"template_{module_name}"), attr))
    # The image's CMD names the Chalice app object; Chalice apps are Lambda handlers (event, context).
    from chalice import Chalice

    app = _load(REPO_ROOT / "functions" / "recommend" / "app.py", "template_recommend_app").app
    assert isinstance(app, Chalice)
    assert "/recommend/{user_id}" in app.routes
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    built = Settings.from_env(_resolve(env, {"Prefix": "p1", "Stage": "s1"}))
    assert (built.prefix, built.stage, built.table("history"), built.bucket) == ("p1", "s1", "p1-history", "p1-index")


def test_every_alarm_notifies_the_topic_that_cloudwatch_can_publish_to(template: dict[str, Any]) -> None:
    """State changes (to ALARM and back to OK) reach a person through SNS; the topic's key lets CloudWatch in."""
    res = template["Resources"]
    alarms = {k: r for k, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) == len(ALARMS)
    for resource in alarms.values():
        assert resource["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert resource["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}]
    # alias/aws/sns would silently stop every notification: CloudWatch may not use the AWS-managed key.
    assert res["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key_statements = res["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in key_statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    [publish] = res["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (publish["Principal"], publish["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    subscription = res["AlarmSubscription"]
    assert subscription["Condition"] == "HasAlarmEndpoint"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEndpoint"}
    assert subscription["Properties"]["Protocol"] == {"Ref": "AlarmProtocol"}
    assert template["Parameters"]["AlarmEndpoint"]["Default"] == ""

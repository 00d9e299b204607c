"""Read ``template.yaml`` as data: its CloudFormation tags, parameters, conditions and intrinsic functions.

Two local tools need what the template says rather than a copy of it: ``movierec invoke`` (a function's
handler, environment, layers, timeout, memory) and the IAM test (each role's policy statements, with
``!Sub``/``!GetAtt``/``!Ref`` turned into the ARNs of the local resources). :func:`resolve` evaluates the
intrinsics those parts use, for one set of parameter values, the way CloudFormation would; anything it
cannot evaluate raises instead of passing through half-resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from movierec.config import REPO_ROOT

TEMPLATE = REPO_ROOT / "template.yaml"
#: The account moto (and LocalStack) answer as when credentials do not name another one.
LOCAL_ACCOUNT_ID = "123456789012"
_NO_VALUE = object()


class _Loader(yaml.SafeLoader):
    """YAML loader that turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub ...`` into ``{"Fn::Sub": ...}``."""


def _tag(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data (intrinsics as their long ``Fn::`` form)."""
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Context:
    """What the intrinsics resolve against: parameter values, region, account, the resources' names."""

    template: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = LOCAL_ACCOUNT_ID
    partition: str = "aws"

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise ValueError(f"not parameters of the template: {', '.join(sorted(unknown))}")
        self.parameters = {name: self.parameters.get(name, spec.get("Default")) for name, spec in declared.items()}
        for name, value in self.parameters.items():  # as CloudFormation refuses a deploy: before anything runs
            spec = declared[name]
            if "AllowedValues" in spec and value not in spec["AllowedValues"]:
                raise ValueError(f"parameter {name}={value!r} is not one of {', '.join(map(str, spec['AllowedValues']))}")
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], str(value)):
                raise ValueError(f"parameter {name}={value!r} does not match its AllowedPattern {spec['AllowedPattern']}")

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }[name]

    def condition(self, name: str) -> bool:
        return bool(resolve(self.template["Conditions"][name], self))

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        return self.physical_name(name)

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets (its ``TableName``, ``BucketName``, ``FunctionName``, ...)."""
        resource = self.template["Resources"][logical_id]
        props = resource.get("Properties", {})
        for key in ("TableName", "BucketName", "FunctionName", "QueueName", "TopicName", "LayerName"):
            if key in props:
                return str(resolve(props[key], self))
        raise KeyError(f"{logical_id}: no physical name to refer to")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute != "Arn":
            raise KeyError(f"!GetAtt {logical_id}.{attribute}: only Arn is known locally")
        kind = self.template["Resources"][logical_id]["Type"]
        name = self.physical_name(logical_id) if kind != "AWS::IAM::Role" else logical_id
        arn = {
            "AWS::DynamoDB::Table": f"dynamodb:{self.region}:{self.account_id}:table/{name}",
            "AWS::S3::Bucket": f"s3:::{name}",
            "AWS::SQS::Queue": f"sqs:{self.region}:{self.account_id}:{name}",
            "AWS::IAM::Role": f"iam::{self.account_id}:role/{name}",
            "AWS::Serverless::Function": f"lambda:{self.region}:{self.account_id}:function:{name}",
        }.get(kind)
        if arn is None:
            raise KeyError(f"!GetAtt {logical_id}.Arn: no local ARN for {kind}")
        return f"arn:{self.partition}:{arn}"


def _sub(text: str, variables: dict[str, Any], ctx: Context) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name:
            logical, attribute = name.split(".", 1)
            return ctx.get_att(logical, attribute)
        return str(ctx.ref(name))

    return re.sub(r"\$\{([^}!]+)\}", one, text)


def resolve(node: Any, ctx: Context) -> Any:
    """``node`` with every intrinsic function evaluated; ``!Ref AWS::NoValue`` entries are dropped."""
    if isinstance(node, list):
        items = [resolve(item, ctx) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, arg), = node.items()
        if key == "Ref":
            return ctx.ref(arg)
        if key == "Fn::GetAtt":
            return ctx.get_att(*arg)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))
            return _sub(text, variables, ctx)
        if key == "Fn::If":
            name, yes, no = arg
            return resolve(yes if ctx.condition(name) else no, ctx)
        if key == "Fn::Equals":
            left, right = (resolve(a, ctx) for a in arg)
            return left == right
        if key == "Fn::Not":
            return not resolve(arg[0], ctx)
        if key == "Condition":
            return ctx.condition(arg)
        if key.startswith("Fn::"):
            raise NotImplementedError(f"{key} is not evaluated locally")
    out = {k: resolve(v, ctx) for k, v in node.items()}
    return {k: v for k, v in out.items() if v is not _NO_VALUE}

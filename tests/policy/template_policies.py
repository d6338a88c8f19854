"""The functions' IAM policies as AWS would hold them after `sam deploy`.

template.yaml goes through the SAM translator (samtranslator, the library `sam validate`
and CloudFormation's SAM transform run; it expands SAM policy templates and makes each
function's role), then the intrinsic functions in the roles' policies are resolved for
one deployment: parameter values (defaults unless given), pseudo parameters (account
123456789012, the given Region, partition aws) and the stack's resources, whose physical
names follow fixed conventions that the tests' harness (tests/util, `Stack`) uses too:

    bucket                  its BucketName property
    SNS topic (Ref)         arn:aws:sns:<region>:<account>:<stack>-<LogicalId>
    IAM role (GetAtt Arn)   arn:aws:iam::<account>:role/<stack>-<LogicalId>
    KMS key (GetAtt Arn)    arn:aws:kms:<region>:<account>:key/<stack>-<LogicalId>

Intrinsics implemented: Ref, Fn::GetAtt, Fn::Sub (both forms), Fn::Join, Fn::Split,
Fn::Select, Fn::If with the template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or,
Condition) and AWS::NoValue. Anything else is an error.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

ACCOUNT = "123456789012"
_NO_VALUE = object()


def transform(template_path: str) -> dict[str, Any]:
    """template.yaml after the SAM transform (CodeUri replaced as `sam validate` does)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform as sam_transform
    from samtranslator.yaml_helper import yaml_parse

    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/function.zip"
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return sam_transform(template, {}, NoManagedPolicies())


class Resolver:
    def __init__(self, template: dict[str, Any], stack: str, region: str, parameters: dict[str, Any]):
        self.template = template
        self.stack = stack
        self.region = region
        self.values: dict[str, Any] = {}
        declared = template.get("Parameters", {})
        unknown = set(parameters) - set(declared)
        if unknown:
            raise ValueError(f"parameters not in the template: {sorted(unknown)}")
        for name, spec in declared.items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                raise ValueError(f"parameter {name} has no default and no value")
            if spec.get("Type") == "CommaDelimitedList":
                value = value if isinstance(value, list) else ([] if value == "" else str(value).split(","))
                value = [v.strip() for v in value] or [""]
            self.values[name] = value
        self.values.update({
            "AWS::AccountId": ACCOUNT, "AWS::Region": region, "AWS::Partition": "aws",
            "AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com",
        })

    # -- resources' physical names ------------------------------------------
    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.values:
            return self.values[name]
        resource = self.template["Resources"].get(name)
        if resource is None:
            raise ValueError(f"Ref to unknown {name}")
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            return self.resolve(resource["Properties"]["BucketName"])
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{ACCOUNT}:{self.stack}-{name}"
        raise ValueError(f"no naming convention for Ref to {name} ({kind})")

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.template["Resources"].get(name)
        if resource is None or attribute != "Arn":
            raise ValueError(f"GetAtt {name}.{attribute} is not modelled")
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{self.stack}-{name}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{self.stack}-{name}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{self.region}:{ACCOUNT}:{self.stack}-{name}"
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{self.stack}-{name}"
        raise ValueError(f"no naming convention for GetAtt {name}.Arn ({kind})")

    # -- conditions and intrinsics ------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                value = variables[inner]
            elif "." in inner and not inner.startswith("AWS::"):
                value = self.get_att(*inner.split(".", 1))
            else:
                value = self.ref(inner)
            if isinstance(value, list) or value is _NO_VALUE:
                raise ValueError(f"Fn::Sub of a list or no value: ${{{inner}}}")
            return str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    variables = {k: self.resolve(v) for k, v in arg[1].items()}
                    return self.sub(arg[0], variables)
                return self.sub(arg, {})
            if key == "Fn::Join":
                items = self.resolve(arg[1])
                return str(arg[0]).join(str(i) for i in _flat(items))
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                branch = arg[1] if self.condition(arg[0]) else arg[2]
                return self.resolve(branch)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise ValueError(f"intrinsic {key} is not implemented")
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not _NO_VALUE:
                out[k] = resolved
        return out


def _flat(items: Any) -> list[Any]:
    if isinstance(items, list):
        return [x for i in items for x in _flat(i)]
    return [items]


def function_policies(transformed: dict[str, Any], stack: str, region: str,
                      parameters: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """binary name -> the statements of its role's inline policies, resolved."""
    resolver = Resolver(transformed, stack, region, parameters)
    resources = transformed["Resources"]
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        role_id = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        out[binary] = role_statements(resolver, resources[role_id])
    return out


def role_statements(resolver: Resolver, role: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resolver.resolve(copy.deepcopy(role["Properties"].get("Policies", []))):
        statements.extend(_as_statements(policy["PolicyDocument"]["Statement"]))
    return statements


def policy_documents(transformed: dict[str, Any], stack: str, region: str,
                     parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'<role>/<policy>' -> resolved policy document, for every inline policy of every role."""
    resolver = Resolver(transformed, stack, region, parameters)
    out = {}
    for role_id, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resolver.resolve(copy.deepcopy(resource["Properties"].get("Policies", []))):
            out[f"{role_id}/{policy['PolicyName']}"] = policy["PolicyDocument"]
    return out


def _as_statements(statement: Any) -> list[dict[str, Any]]:
    return statement if isinstance(statement, list) else [statement]

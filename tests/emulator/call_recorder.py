"""Records every AWS call as the IAM authorization requests AWS would make for it.

    GET    /_emulator/calls           -> 200 {"stacks": {name: {"parameters": {...}}}, "calls": [call, ...]}
    GET    /_emulator/calls?caller=K  -> the same, only the calls signed with access key id K
    DELETE /_emulator/calls           -> 200 the same view, then the log starts empty
    POST   /_emulator/calls/stacks    {"stack": "s1", "parameters": {"MigratableModelRoleArns": "..."}}
                                      -> 200 {"stack": ..., "parameters": ...}: which deployment of
                                         template.yaml a test plays (tests/policy reads it)

A call is `{"caller": <access key id>, "service", "operation", "status": <HTTP status>,
"authorizations": [request, ...]}` and each request is what IAM evaluates:
`{"action": "sagemaker:CreateEndpoint", "resource": "<ARN or *>", "context": {key: value or
[values]}}`. The context holds the condition keys the request carries: `aws:RequestTag/<k>`
and `aws:TagKeys` (tags sent), `aws:ResourceTag/<k>` (the resource's tags just before the
call), `sagemaker:TaggingAction` (tags sent with a Create call need `sagemaker:AddTags`
too), `iam:PassedToService` (`iam:PassRole` of a model's execution role), `s3:prefix`
(ListBucket) and `cloudwatch:namespace` (PutMetricData). What an API call authorizes is
taken from the IAM Service Authorization Reference (see docs/emulator.md): for example
CreateEndpoint and UpdateEndpoint authorize the endpoint *and* its endpoint config.

The caller is the access key id of the SigV4 signature: the tests give each function's
clients their own (tests/util), so tests/policy can evaluate each call against the
policy of the function that made it. Control-API and `/moto-api/` requests are not
recorded.
"""

from __future__ import annotations

import io
import json
import re
import threading
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

import request_counter

PATH = "/_emulator/calls"
STACKS_PATH = "/_emulator/calls/stacks"
_CALLER = re.compile(r"Credential=(?P<akid>[^/]+)/[^/]+/(?P<region>[^/]+)/")
_SAGEMAKER_KINDS = {"Model": "model", "EndpointConfig": "endpoint-config", "Endpoint": "endpoint"}
_PASSED_TO = "sagemaker.amazonaws.com"


class _Log:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.stacks: dict[str, dict[str, Any]] = {}

    def add(self, call: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(call)

    def register(self, stack: str, parameters: dict[str, Any]) -> None:
        with self.lock:
            self.stacks[stack] = {"parameters": parameters}

    def view(self, reset: bool = False, caller: str | None = None) -> dict[str, Any]:
        with self.lock:
            calls = [c for c in self.calls if caller is None or c["caller"] == caller]
            out = {"stacks": dict(self.stacks), "calls": calls}
            if reset:
                self.calls, self.stacks = [], {}
            return out


LOG = _Log()


def sagemaker_arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{DEFAULT_ACCOUNT_ID}:{kind}/{name}"


def sagemaker_tags(region: str, arn: str) -> dict[str, str]:
    """The resource's tags now; {} when it does not exist."""
    try:
        resource = sagemaker_backends[DEFAULT_ACCOUNT_ID][region]._get_resource_from_arn(arn)
    except Exception:  # noqa: BLE001 - any lookup failure means: no such resource
        return {}
    return {t["Key"]: t.get("Value", "") for t in (getattr(resource, "tags", None) or [])}


def _tag_context(tags: list[dict[str, str]] | None) -> dict[str, Any]:
    if not tags:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in tags}
    context["aws:TagKeys"] = [t["Key"] for t in tags]
    return context


def _resource_context(tags: dict[str, str]) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def sagemaker_requests(
    operation: str, params: dict[str, Any], region: str, tags_of: Callable[[str], dict[str, str]]
) -> list[dict[str, Any]]:
    """IAM requests of one SageMaker control-plane call."""
    action = f"sagemaker:{operation}"

    def on(kind: str, name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        arn = sagemaker_arn(region, kind, name)
        context = _resource_context(tags_of(arn))
        context.update(extra or {})
        return {"action": action, "resource": arn, "context": context}

    first_word = re.match(r"[A-Z][a-z]+", operation)
    verb = first_word.group(0) if first_word else ""
    noun = operation[len(verb):]
    if verb == "List" and noun in ("Endpoints", "EndpointConfigs", "Models"):
        return [{"action": action, "resource": "*", "context": {}}]
    if operation in ("AddTags", "DeleteTags", "ListTags"):
        arn = params.get("ResourceArn", "")
        context = _resource_context(tags_of(arn))
        if operation == "AddTags":
            context.update(_tag_context(params.get("Tags")))
        elif operation == "DeleteTags":
            context["aws:TagKeys"] = list(params.get("TagKeys") or [])
        return [{"action": action, "resource": arn, "context": context}]
    if operation == "UpdateEndpointWeightsAndCapacities":
        return [on("endpoint", params.get("EndpointName", ""))]
    if operation == "DescribeModelPackage":
        # Named by ARN (a versioned package) or by name; ARNs are lower case.
        name = params.get("ModelPackageName", "")
        arn = name if name.startswith("arn:") else sagemaker_arn(region, "model-package", name.lower())
        return [{"action": action, "resource": arn, "context": _resource_context(tags_of(arn))}]
    kind = _SAGEMAKER_KINDS.get(noun)
    if kind is None:
        return [{"action": action, "resource": "*", "context": {}}]
    name = params.get(f"{noun}Name", "")
    if verb == "Create":
        request_tags = _tag_context(params.get("Tags"))
        requests = [on(kind, name, request_tags)]
        if kind == "endpoint":
            config = on("endpoint-config", params.get("EndpointConfigName", ""), request_tags)
            requests.append(config)
        if params.get("Tags"):
            tagging = dict(request_tags, **{"sagemaker:TaggingAction": operation})
            requests.append({"action": "sagemaker:AddTags",
                             "resource": sagemaker_arn(region, kind, name),
                             "context": tagging})
        if kind == "model" and params.get("ExecutionRoleArn"):
            requests.append({"action": "iam:PassRole", "resource": params["ExecutionRoleArn"],
                             "context": {"iam:PassedToService": _PASSED_TO}})
        return requests
    requests = [on(kind, name)]
    if operation == "UpdateEndpoint":
        requests.append(on("endpoint-config", params.get("EndpointConfigName", "")))
    return requests


def s3_requests(method: str, operation: str, bucket: str, key: str,
                query: dict[str, list[str]]) -> list[dict[str, Any]]:
    if operation in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if query.get("versionId") else "s3:GetObject"
        return [{"action": action, "resource": f"arn:aws:s3:::{bucket}/{key}", "context": {}}]
    if operation in ("ListObjectsV2", "ListObjects"):
        context = {"s3:prefix": query["prefix"][0]} if query.get("prefix") else {}
        return [{"action": "s3:ListBucket", "resource": f"arn:aws:s3:::{bucket}", "context": context}]
    if operation == "ListBuckets":
        return [{"action": "s3:ListAllMyBuckets", "resource": "*", "context": {}}]
    # A multipart upload is authorized as PutObject, part by part.
    if operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [{"action": "s3:PutObject", "resource": f"arn:aws:s3:::{bucket}/{key}", "context": {}}]
    if operation == "ListParts":
        return [{"action": "s3:ListMultipartUploadParts", "resource": f"arn:aws:s3:::{bucket}/{key}",
                 "context": {}}]
    if operation == "ListMultipartUploads":
        return [{"action": "s3:ListBucketMultipartUploads", "resource": f"arn:aws:s3:::{bucket}",
                 "context": {}}]
    resource = f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"
    return [{"action": f"s3:{operation}", "resource": resource, "context": {}}]


def _s3_location(environ: dict[str, Any]) -> tuple[str, str]:
    """(bucket, key) of a path-style or virtual-hosted request."""
    path = unquote(environ.get("PATH_INFO", ""))
    host = environ.get("HTTP_HOST", "").split(":")[0]
    if host.count(".") and not re.match(r"^[0-9.]+$", host) and not host.startswith("s3."):
        bucket = host.split(".")[0]
        return bucket, path.lstrip("/")
    parts = path.lstrip("/").split("/", 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def authorizations(environ: dict[str, Any], body: bytes, service: str, operation: str,
                   region: str) -> list[dict[str, Any]]:
    """What IAM evaluates for this request."""
    if service == "s3":
        bucket, key = _s3_location(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return s3_requests(environ.get("REQUEST_METHOD", "GET"), operation, bucket, key, query)
    if service == "sagemaker-runtime" or (service == "sagemaker" and operation.startswith("InvokeEndpoint")):
        name = unquote(environ.get("PATH_INFO", "").split("/")[2])
        arn = sagemaker_arn(region, "endpoint", name)
        return [{"action": f"sagemaker:{operation}", "resource": arn,
                 "context": _resource_context(sagemaker_tags(region, arn))}]
    params = _json_or_form(environ, body)
    if service == "sagemaker":
        return sagemaker_requests(operation, params, region, lambda arn: sagemaker_tags(region, arn))
    if service == "sns" and operation == "Publish":
        return [{"action": "sns:Publish", "resource": params.get("TopicArn") or params.get("TargetArn", "*"),
                 "context": {}}]
    if service == "sqs":
        url = params.get("QueueUrl", "")
        name = url.rstrip("/").rsplit("/", 1)[-1] if url else params.get("QueueName", "")
        resource = f"arn:aws:sqs:{region}:{DEFAULT_ACCOUNT_ID}:{name}" if name else "*"
        return [{"action": f"sqs:{operation}", "resource": resource, "context": {}}]
    if service == "dynamodb" and params.get("TableName"):
        return [{"action": f"dynamodb:{operation}",
                 "resource": f"arn:aws:dynamodb:{region}:{DEFAULT_ACCOUNT_ID}:table/{params['TableName']}",
                 "context": {}}]
    if service in ("monitoring", "cloudwatch"):
        context = {"cloudwatch:namespace": params["Namespace"]} if operation == "PutMetricData" else {}
        return [{"action": f"cloudwatch:{operation}", "resource": "*", "context": context}]
    if service == "tagging":
        # The Resource Groups Tagging API signs as "tagging"; IAM's prefix is "tag".
        return [{"action": f"tag:{operation}", "resource": "*", "context": {}}]
    return [{"action": f"{service}:{operation}", "resource": "*", "context": {}}]


def _json_or_form(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in environ.get("CONTENT_TYPE", ""):
        try:
            value = json.loads(body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    form = parse_qs(body.decode("utf-8", "replace"))
    return {k: v[0] for k, v in form.items()}


class CallRecorderMiddleware:
    """Records each AWS request (after CBOR translation), serves /_emulator/calls."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path in (PATH, STACKS_PATH):
            return self._control(environ, start_response)
        caller = _CALLER.search(environ.get("HTTP_AUTHORIZATION", ""))
        if caller is None or path.startswith("/_emulator/") or path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        is_s3 = "/s3/" in environ.get("HTTP_AUTHORIZATION", "")
        body = b""
        if length and not is_s3:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        service, operation = request_counter.classify(environ, body)
        call: dict[str, Any] = {"caller": caller.group("akid"), "service": service, "operation": operation}
        try:
            call["authorizations"] = authorizations(environ, body, service, operation, caller.group("region"))
        except Exception as exc:  # noqa: BLE001 - a recording bug must show, not break the call
            call["authorizations"] = []
            call["error"] = f"{type(exc).__name__}: {exc}"

        def recording_start(status: str, headers: list, exc_info: Any = None) -> Any:
            call["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, recording_start)
        finally:
            LOG.add(call)

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        if path == STACKS_PATH and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                stack, parameters = str(request["stack"]), dict(request.get("parameters") or {})
            except (ValueError, KeyError, TypeError) as exc:
                return _reply(start_response, "400 Bad Request", {"error": f"expected {{stack, parameters}}: {exc}"})
            LOG.register(stack, parameters)
            return _reply(start_response, "200 OK", {"stack": stack, "parameters": parameters})
        if path == PATH and method in ("GET", "DELETE"):
            caller = parse_qs(environ.get("QUERY_STRING", "")).get("caller", [None])[0]
            return _reply(start_response, "200 OK", LOG.view(reset=method == "DELETE", caller=caller))
        return _reply(start_response, "405 Method Not Allowed", {"error": f"method {method} not allowed on {path}"})


def _reply(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]

"""Counts the AWS API requests the emulator receives, by service and operation.

    GET    /_emulator/requests   -> 200 {"total": N, "requests": {"sagemaker": {"CreateModel": 1, ...}, ...},
                                         "seconds": {"sagemaker": {"CreateModel": 0.012, ...}, ...}}
    DELETE /_emulator/requests   -> 200 the counts before the reset; counting starts again from zero

For benchmarks (scripts/bench.py): how many calls a function makes per
event. Every HTTP request is one count, so an SDK retry counts again (as it
does on an AWS bill or against a throttling quota). `seconds` is the time
the emulator spent answering, so a caller can subtract AWS round trips from
its own wall time. Control-API (`/_emulator/`) and `/moto-api/` requests are
not counted.

The operation comes from, in order: `X-Amz-Target` (JSON protocols:
SageMaker), the Smithy RPC v2 path `/service/<S>/operation/<Op>` (CloudWatch
over CBOR), `Action=` in a query-protocol form body (SNS, CloudWatch query),
SageMaker Runtime's `/endpoints/<name>/invocations`, and S3's REST method and
sub-resource (`GetObject`, `PutObject`, `ListObjectsV2`, ...). The service
is the signing name in the SigV4 `Authorization` header.
"""

from __future__ import annotations

import io
import re
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs

PATH = "/_emulator/requests"
_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/(?P<service>[^/]+)/aws4_request")
_RPC_V2 = re.compile(r"^/service/[A-Za-z0-9_]+/operation/(?P<op>[A-Za-z0-9_]+)$")
_INVOKE = re.compile(r"^/endpoints/[^/]+/(?P<what>invocations|async-invocations|invocations-response-stream)$")
_S3_SUBRESOURCES = ("tagging", "versioning", "versions", "acl", "policy", "notification", "uploads", "uploadId")


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = {}
        self.seconds: dict[str, dict[str, float]] = {}

    def add(self, service: str, operation: str, seconds: float) -> None:
        with self.lock:
            by_op = self.counts.setdefault(service, {})
            by_op[operation] = by_op.get(operation, 0) + 1
            spent = self.seconds.setdefault(service, {})
            spent[operation] = spent.get(operation, 0.0) + seconds

    def view(self, reset: bool = False) -> dict[str, Any]:
        with self.lock:
            out = {
                "total": sum(n for ops in self.counts.values() for n in ops.values()),
                "requests": {s: dict(sorted(ops.items())) for s, ops in sorted(self.counts.items())},
                "seconds": {s: {op: round(t, 6) for op, t in sorted(ops.items())}
                            for s, ops in sorted(self.seconds.items())},
            }
            if reset:
                self.counts, self.seconds = {}, {}
            return out


TALLY = _Tally()


def _s3_multipart(method: str, on_object: bool, sub: str) -> str:
    """The multipart upload operations, told by `?uploads` / `?uploadId`."""
    if sub == "uploads":
        if method == "POST" and on_object:
            return "CreateMultipartUpload"
        if method == "GET" and not on_object:
            return "ListMultipartUploads"
    if sub == "uploadId" and on_object:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload", "GET": "ListParts"}.get(method, "")
    return ""


def _s3_operation(method: str, path: str, query: dict[str, list[str]]) -> str:
    parts = [p for p in path.split("/") if p]
    on_object = len(parts) >= 2
    sub = next((s for s in _S3_SUBRESOURCES if s in query), "")
    multipart = _s3_multipart(method, on_object, sub)
    if multipart:
        return multipart
    if method == "GET":
        if sub == "tagging":
            return "GetObjectTagging" if on_object else "GetBucketTagging"
        if sub == "versioning":
            return "GetBucketVersioning"
        if sub == "versions":
            return "ListObjectVersions"
        if on_object:
            return "GetObject"
        if not parts:
            return "ListBuckets"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if on_object else "HeadBucket"
    if method == "PUT":
        if sub == "tagging":
            return "PutObjectTagging" if on_object else "PutBucketTagging"
        if sub == "versioning":
            return "PutBucketVersioning"
        return "PutObject" if on_object else "CreateBucket"
    if method == "DELETE":
        return "DeleteObject" if on_object else "DeleteBucket"
    return f"{method} {'object' if on_object else 'bucket'}{'?' + sub if sub else ''}"


def classify(environ: dict[str, Any], body: bytes | None) -> tuple[str, str]:
    """(service, operation) of one request, from what AWS's own front end sees."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth)
    service = match.group("service") if match else "unknown"
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    rpc = _RPC_V2.match(path)
    if rpc:
        return service, rpc.group("op")
    invoke = _INVOKE.match(path)
    if invoke and method == "POST":
        op = {"invocations": "InvokeEndpoint", "async-invocations": "InvokeEndpointAsync",
              "invocations-response-stream": "InvokeEndpointWithResponseStream"}[invoke.group("what")]
        return "sagemaker-runtime", op
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "Action" in query:
        return service, query["Action"][0]
    if body:
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return service, form["Action"][0]
    if service == "s3":
        return service, _s3_operation(method, path, query)
    return service, f"{method} {path}"


def operation_of(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of a request about to be served; a form body read for it is put back."""
    body = None
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
    return classify(environ, body)


class RequestCounterMiddleware:
    """Outermost WSGI layer: counts each AWS request, serves /_emulator/requests."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == PATH:
            return self._control(environ, start_response)
        if path.startswith("/_emulator/") or path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        service, operation = operation_of(environ)
        started = time.perf_counter()
        try:
            answer = self.app(environ, start_response)
            # Materialise the answer so the time counted covers all of it.
            try:
                result = list(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
        finally:
            TALLY.add(service, operation, time.perf_counter() - started)
        return result

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        import json

        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "DELETE"):
            start_response("405 Method Not Allowed", [("Content-Type", "application/json")])
            return [json.dumps({"error": f"method {method} not allowed on {PATH}"}).encode()]
        body = json.dumps(TALLY.view(reset=method == "DELETE")).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

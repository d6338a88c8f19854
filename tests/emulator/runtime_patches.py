"""SageMaker Runtime InvokeEndpoint made to behave like AWS, per endpoint.

Call `apply()` once before the server handles requests, and put
`InvocationBodyMiddleware` in front of moto's dispatcher (launch.py does both).

What changes compared with moto's InvokeEndpoint:

* The endpoint must exist and be able to serve, checked before anything else:
  unknown name -> 400 ValidationError "Endpoint <name> of account <acct> not found.";
  Creating / Failed / OutOfService / Deleting (or Updating an endpoint that was
  never InService) -> 400 ValidationError
  "Endpoint <name> of account <acct> is not in service (status: <status>)."
  Updating / SystemUpdating / RollingBack / UpdateRollbackFailed endpoints that
  have been InService keep serving, as on AWS (no availability loss).
* A per-endpoint results queue, filled through the control API
  (`/_emulator/endpoints/<name>/invoke-results`). Every call pops the next
  result (no caching of identical requests); once the queue is empty the last
  result is repeated, DelayMs included. A result is a body or an error, sent
  the way AWS sends it (rest-json: `x-amzn-ErrorType` header + JSON body).
* Endpoints with nothing queued keep moto's behaviour: the global queue of
  `/moto-api/static/sagemaker/endpoint-results`, cached per identical request.
* Every call that reaches InvokeEndpoint is logged per endpoint
  (`GET /_emulator/endpoints/<name>/invocations`), rejected ones included.
* Request bodies are taken byte for byte (moto decodes them as UTF-8 and
  crashes on binary input, and swallows form-encoded bodies).

State lives on moto's SageMakerRuntimeBackend objects, so `POST /moto-api/reset`
wipes it with everything else.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import threading
import time
from collections import deque
from typing import Any, Callable
from urllib.parse import unquote

from moto.core.utils import utcnow
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.models import sagemakerruntime_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

import sagemaker_patches as patches

LOCK = threading.Lock()
RAW_BODY_KEY = "emulator.invocation_body"
CONTENT_TYPE_KEY = "emulator.invocation_content_type"
INVOCATIONS_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.sagemaker/"

# Statuses in which an endpoint that has been InService still answers
# InvokeEndpoint (AWS: "there is no availability loss" during an update).
SERVING_AFTER_IN_SERVICE = ("Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")

# Error code -> (default HTTP status, default message). The modeled errors of
# botocore's sagemaker-runtime model plus ThrottlingException (not modeled; the
# SDKs read it from the header and retry it as throttling).
ERROR_DEFAULTS: dict[str, tuple[int, str]] = {
    "ModelError": (424, ""),  # message built from OriginalStatusCode/OriginalMessage
    "ThrottlingException": (400, "Rate exceeded"),
    "ServiceUnavailable": (503, "Service is unavailable. Please try again later."),
    "InternalFailure": (500, "An internal failure occurred. Please try again later."),
    "ValidationError": (400, "Validation error."),
    "ModelNotReadyException": (429, "Model is not ready to serve requests yet. Please try again later."),
    "InternalDependencyException": (530, "An internal dependency failed. Please try again later."),
}
MODEL_ERROR_MESSAGE = re.compile(
    r'^Received (?:server|client) error \((\d{3})\) from \S+ with message "(.*)"\.(?: See .*)?$', re.S
)


# --------------------------------------------------------------------------
# Per-endpoint state
# --------------------------------------------------------------------------

class EndpointRuntime:
    def __init__(self) -> None:
        self.queue: deque[dict[str, Any]] = deque()
        self.last: dict[str, Any] | None = None
        self.invocations: list[dict[str, Any]] = []

    @property
    def configured(self) -> bool:
        return bool(self.queue) or self.last is not None

    def next_result(self) -> dict[str, Any] | None:
        if self.queue:
            self.last = self.queue.popleft()
        return self.last


def runtime_state(account: str, region: str, name: str, create: bool = True) -> EndpointRuntime | None:
    backend = sagemakerruntime_backends[account][region]
    table = backend.__dict__.setdefault("_emu_endpoints", {})
    state = table.get(name)
    if state is None and create:
        state = table[name] = EndpointRuntime()
    return state


# --------------------------------------------------------------------------
# Control-API side: validating queued results
# --------------------------------------------------------------------------

def _check_delay(raw: dict[str, Any], where: str) -> int | float:
    delay = raw.get("DelayMs", 0)
    if delay is None:
        return 0
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0 or delay != delay:
        raise ValueError(f"{where}.DelayMs must be a number >= 0, got {delay!r}")
    return delay


def _opt_str(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}.{key} must be a string, got {value!r}")
    return value


def normalize_result(raw: Any, index: int) -> dict[str, Any]:
    """A queued result as given to the control API -> the stored form. ValueError if invalid."""
    where = f"results[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    delay = _check_delay(raw, where)
    if "Error" in raw:
        err = raw["Error"]
        if not isinstance(err, dict):
            raise ValueError(f"{where}.Error must be an object")
        code = err.get("Code")
        if not isinstance(code, str) or not code:
            raise ValueError(f"{where}.Error.Code must be a non-empty string, e.g. one of {list(ERROR_DEFAULTS)}")
        default_status, default_message = ERROR_DEFAULTS.get(code, (400, code))
        status = err.get("Status", default_status)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"{where}.Error.Status must be an HTTP error status 400..599, got {status!r}")
        message = _opt_str(err, "Message", where + ".Error")
        out: dict[str, Any] = {"Error": {"Code": code, "Status": status, "Message": message}, "DelayMs": delay}
        if code == "ModelError":
            original_status = err.get("OriginalStatusCode")
            original_message = _opt_str(err, "OriginalMessage", where + ".Error")
            parsed = MODEL_ERROR_MESSAGE.match(message or "")
            if original_status is None:
                original_status = int(parsed.group(1)) if parsed else 500
            if original_message is None:
                original_message = parsed.group(2) if parsed else ""
            if isinstance(original_status, bool) or not isinstance(original_status, int):
                raise ValueError(f"{where}.Error.OriginalStatusCode must be an integer")
            out["Error"].update(
                OriginalStatusCode=original_status,
                OriginalMessage=original_message,
                LogStreamArn=_opt_str(err, "LogStreamArn", where + ".Error"),
            )
        elif message is None:
            out["Error"]["Message"] = default_message
        return out

    if "Body" in raw and "BodyBase64" in raw:
        raise ValueError(f"{where}: give Body or BodyBase64, not both")
    if "BodyBase64" in raw:
        b64 = raw["BodyBase64"]
        if not isinstance(b64, str):
            raise ValueError(f"{where}.BodyBase64 must be a string")
        try:
            body = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{where}.BodyBase64 is not valid base64: {exc}") from None
    else:
        text = raw.get("Body", "")
        if not isinstance(text, str):
            raise ValueError(f"{where}.Body must be a string (use BodyBase64 for binary)")
        body = text.encode("utf-8")
    return {
        "Body": body,
        "ContentType": _opt_str(raw, "ContentType", where) or "application/json",
        "InvokedProductionVariant": _opt_str(raw, "InvokedProductionVariant", where),
        "CustomAttributes": _opt_str(raw, "CustomAttributes", where),
        "DelayMs": delay,
    }


def result_view(result: dict[str, Any]) -> dict[str, Any]:
    """Stored result -> JSON-friendly form for GET."""
    if "Error" in result:
        err = {k: v for k, v in result["Error"].items() if v is not None}
        return {"Error": err, "DelayMs": result["DelayMs"]}
    out = {k: v for k, v in result.items() if k != "Body" and v is not None}
    try:
        out["Body"] = result["Body"].decode("utf-8")
    except UnicodeDecodeError:
        out["BodyBase64"] = base64.b64encode(result["Body"]).decode("ascii")
    return out


def set_results(account: str, region: str, name: str, results: Any, replace: bool) -> dict[str, Any]:
    if not isinstance(results, list):
        raise ValueError('"results" must be a list')
    normalized = [normalize_result(r, i) for i, r in enumerate(results)]
    with LOCK:
        state = runtime_state(account, region, name)
        if replace:
            state.queue.clear()
            state.last = None
        state.queue.extend(normalized)
        return queue_view(name, state)


def clear_results(account: str, region: str, name: str) -> dict[str, Any]:
    with LOCK:
        state = runtime_state(account, region, name)
        state.queue.clear()
        state.last = None
        return queue_view(name, state)


def queue_view(name: str, state: EndpointRuntime | None) -> dict[str, Any]:
    queue = list(state.queue) if state else []
    last = state.last if state else None
    return {
        "EndpointName": name,
        "Pending": [result_view(r) for r in queue],
        "Last": result_view(last) if last is not None else None,
        "PerEndpoint": bool(state and state.configured),
    }


def get_results(account: str, region: str, name: str) -> dict[str, Any]:
    with LOCK:
        return queue_view(name, runtime_state(account, region, name, create=False))


def get_invocations(account: str, region: str, name: str) -> dict[str, Any]:
    with LOCK:
        state = runtime_state(account, region, name, create=False)
        items = [dict(i) for i in state.invocations] if state else []
    return {"EndpointName": name, "Count": len(items), "Invocations": items}


def clear_invocations(account: str, region: str, name: str) -> dict[str, Any]:
    with LOCK:
        state = runtime_state(account, region, name, create=False)
        if state:
            state.invocations.clear()
    return {"EndpointName": name, "Count": 0, "Invocations": []}


# --------------------------------------------------------------------------
# WSGI: keep the request body byte for byte
# --------------------------------------------------------------------------

class InvocationBodyMiddleware:
    """Reads the body of `POST /endpoints/<name>/invocations` before moto does.

    moto's request setup parses form content types (multipart/form-data,
    x-www-form-urlencoded) away, and with x-www-form-urlencoded it cannot even
    route the request (404). The raw bytes and the Content-Type are stashed in
    the WSGI environ; moto sees the same bytes as application/octet-stream.
    """

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "POST" and INVOCATIONS_PATH.match(environ.get("PATH_INFO", "")):
            stream = environ["wsgi.input"]
            length = environ.get("CONTENT_LENGTH")
            if length:
                raw = stream.read(int(length))
            elif environ.get("wsgi.input_terminated"):
                raw = stream.read()
            else:
                raw = b""
            environ[RAW_BODY_KEY] = raw
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ[CONTENT_TYPE_KEY] = environ.get("CONTENT_TYPE")
            environ["CONTENT_TYPE"] = "application/octet-stream"
        return self.app(environ, start_response)


# --------------------------------------------------------------------------
# Response layer
# --------------------------------------------------------------------------

def _error(code: str, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    headers = {
        "status": status,
        "Content-Type": "application/json",
        "x-amzn-ErrorType": code + ERROR_TYPE_SUFFIX,
    }
    return status, headers, json.dumps(body)


def _error_response(result: dict[str, Any], name: str, account: str, region: str) -> tuple[int, dict, str]:
    err = result["Error"]
    code, status = err["Code"], err["Status"]
    if code != "ModelError":
        return _error(code, status, {"Message": err["Message"]})
    original_status = err["OriginalStatusCode"]
    original_message = err["OriginalMessage"]
    kind = "server" if original_status >= 500 else "client"
    message = err["Message"] or (
        f'Received {kind} error ({original_status}) from primary with message "{original_message}". '
        f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group=/aws/sagemaker/Endpoints/{name} in account {account} for more information."
    )
    log_arn = err["LogStreamArn"] or (
        f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{name}"
    )
    return _error(code, status, {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "LogStreamArn": log_arn,
        "Message": message,
        "OriginalMessage": original_message,
        "OriginalStatusCode": original_status,
    })


def _serves(ep: Any) -> bool:
    patches.settle(ep)
    status = ep.endpoint_status
    return status == "InService" or (
        status in SERVING_AFTER_IN_SERVICE and bool(ep.__dict__.get("_emu_served"))
    )


def _default_variant(ep: Any) -> str:
    for pv in ep.production_variants or []:
        if pv.get("VariantName"):
            return pv["VariantName"]
    return "AllTraffic"


def _invocation_record(headers: Any, raw: bytes, content_type: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Time": utcnow().isoformat() + "Z",
        "ContentType": content_type,
        "Accept": headers.get("Accept"),
    }
    try:
        record["Body"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        record["Body"] = raw.decode("utf-8", errors="replace")
        record["BodyBase64"] = base64.b64encode(raw).decode("ascii")
    for field, header in (
        ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
        ("TargetModel", "X-Amzn-SageMaker-Target-Model"),
        ("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
        ("TargetContainerHostname", "X-Amzn-SageMaker-Target-Container-Hostname"),
        ("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
        ("InferenceComponentName", "X-Amzn-SageMaker-Inference-Component"),
    ):
        value = headers.get(header)
        if value is not None:
            record[field] = value
    return record


def _moto_global_queue(self: SageMakerRuntimeResponse, name: str, raw: bytes) -> tuple[int, dict, Any]:
    """moto 5.2.5's own InvokeEndpoint: global queue, cached per identical request."""
    try:
        body_text = raw.decode("utf-8")
    except UnicodeDecodeError:
        body_text = base64.b64encode(raw).decode("ascii")
    unique_repr: dict[str, Any] = {
        key: value for key, value in self.headers.items() if key.lower().startswith("x-amzn-sagemaker")
    }
    unique_repr["Accept"] = self.headers.get("Accept")
    unique_repr["Body"] = body_text
    body, content_type, variant, custom_attributes = self.sagemakerruntime_backend.invoke_endpoint(
        endpoint_name=name,
        unique_repr=base64.b64encode(json.dumps(unique_repr).encode("utf-8")),
    )
    headers = {"Content-Type": content_type}
    if variant:
        headers["x-Amzn-Invoked-Production-Variant"] = variant
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    return 200, headers, body


def invoke_endpoint(self: SageMakerRuntimeResponse) -> tuple[int, dict, Any]:
    name = unquote(self.path.split("/")[2])
    account, region = self.current_account, self.region
    environ = self.normalized_request.environ
    raw = environ.get(RAW_BODY_KEY)
    if raw is None:  # not through InvocationBodyMiddleware (e.g. decorator mode)
        raw = self.raw_body if isinstance(self.raw_body, bytes) else (self.raw_body or "").encode("utf-8")
        content_type = self.headers.get("Content-Type")
    else:
        content_type = environ.get(CONTENT_TYPE_KEY)
    record = _invocation_record(self.headers, raw, content_type)

    with LOCK:
        state = runtime_state(account, region, name)
        state.invocations.append(record)

    ep = sagemaker_backends[account][region].endpoints.get(name)
    if ep is None:
        response = _error("ValidationError", 400, {
            "ErrorCode": "NO_SUCH_ENDPOINT",
            "Message": f"Endpoint {name} of account {account} not found.",
        })
    elif not _serves(ep):
        response = _error("ValidationError", 400, {
            "Message": f"Endpoint {name} of account {account} is not in service "
                       f"(status: {ep.endpoint_status}).",
        })
    else:
        with LOCK:
            result = state.next_result()
        if result is None:
            response = _moto_global_queue(self, name, raw)
        else:
            if result["DelayMs"]:
                time.sleep(result["DelayMs"] / 1000.0)
            if "Error" in result:
                response = _error_response(result, name, account, region)
            else:
                headers = {
                    "status": 200,
                    "Content-Type": result["ContentType"],
                    "x-Amzn-Invoked-Production-Variant": result["InvokedProductionVariant"] or _default_variant(ep),
                }
                if result["CustomAttributes"]:
                    headers["X-Amzn-SageMaker-Custom-Attributes"] = result["CustomAttributes"]
                response = 200, headers, result["Body"]

    status, headers, body = response
    record["StatusCode"] = status
    if status >= 400:
        record["ErrorCode"] = headers["x-amzn-ErrorType"].split(":", 1)[0]
    return status, headers, body  # moto adds x-amzn-requestid


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    # Keep the body as bytes: moto would decode binary input as UTF-8 and fail.
    SageMakerRuntimeResponse.use_raw_body = True
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint

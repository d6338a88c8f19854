"""Control API for test harnesses, served on the emulator's own port.

    GET  /_emulator/health
         -> 200 {"status": "ok", "moto_version": "...", "settle_seconds": "manual" | S}
    GET  /_emulator/settle
    POST /_emulator/settle            {"settle_seconds": 2.5 | "manual"}
         -> 200 {"settle_seconds": ...}
    GET  /_emulator/endpoints/<name>
    POST /_emulator/endpoints/<name>/status
         {"status": "InService" | "Failed" | "Creating" | "Updating" | any EndpointStatus,
          "failure_reason": "..."}      (optional; Failed gets a default reason)
         -> 200 {"EndpointName", "EndpointArn", "EndpointStatus", "FailureReason",
                 "LastModifiedTime"}

    POST /_emulator/objects/last-modified
         {"bucket": "b", "key": "k", "last_modified": "2026-01-01T00:00:00Z"}
         -> 200 {"Bucket", "Key", "LastModified"}   (backdates an S3 object's current version)

    POST /_emulator/endpoints/<name>/creation-time
         {"creation_time": "2026-01-01T00:00:00Z"}   (ISO 8601; backdates an endpoint,
         as AWS shows for endpoints created long ago) -> 200 same view + "CreationTime"

    POST   /_emulator/endpoints/<name>/invoke-results
           {"results": [{"Body": "...", "ContentType": "...", "DelayMs": 0}
                        | {"Error": {"Code": "ModelError", "Status": 424, "Message": "..."},
                           "DelayMs": 0}, ...],
            "replace": false}
           -> 200 {"EndpointName", "Pending": [...], "Last": {...} | null, "PerEndpoint": bool}
    GET    /_emulator/endpoints/<name>/invoke-results      -> same view
    DELETE /_emulator/endpoints/<name>/invoke-results      -> queue and last result dropped
                                                              (back to moto's global queue)
    GET    /_emulator/endpoints/<name>/invocations
           -> 200 {"EndpointName", "Count", "Invocations": [{"Time", "ContentType", "Accept",
                   "Body", "StatusCode", "ErrorCode"?, ...}]}
    DELETE /_emulator/endpoints/<name>/invocations         -> log cleared
    (invoke-results / invocations do not require the endpoint to exist;
     see runtime_patches.py for the semantics)

    POST /_emulator/endpoints/<name>/lifecycle
         {"create_minutes": 8, "update_minutes": 6, "duplicate_events": 0}
         -> 200 {"EndpointName", "Clock": {...}}   (opts the endpoint into a virtual clock;
                                                   it need not exist yet; see lifecycle.py)
    GET  /_emulator/endpoints/<name>/lifecycle     -> same; 404 when not opted in
    POST /_emulator/endpoints/<name>/advance  {"minutes": 5}
         -> 200 {"EndpointName", "Clock", "Events": [events of the transitions],
                 "Endpoint": view | null}; 404 when not opted in
    POST /_emulator/endpoints/<name>/settle   -> ends a pending Creating/Updating now, as AWS
         would (marked artifacts fail / roll back) -> 200 view + {"Settled": bool}
    POST /_emulator/clock/advance  {"minutes": 5}  -> every opted-in endpoint's clock
         -> 200 {"Events": [...]}
    GET  /_emulator/events?endpoint=<name>&after=<seq>
         -> 200 {"Events": [SageMaker Endpoint State Change events], "Last": seq}

Endpoint routes act on account 123456789012, Region us-east-1 unless the JSON
body or the query string gives "account_id" / "region". Errors answer
{"error": "..."} with 400 (bad request) or 404 (unknown endpoint / route).
Every other path goes to moto unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote

import moto
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends
from werkzeug.wrappers import Request, Response

import lifecycle
import runtime_patches as runtime
import sagemaker_patches as patches

PREFIX = "/_emulator/"
RUNTIME_ROUTES = ("invoke-results", "invocations")
CLOCK_ROUTES = ("lifecycle", "advance")
DEFAULT_REGION = "us-east-1"


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


def _endpoint_view(ep: Any) -> dict[str, Any]:
    patches.settle(ep)
    return {
        "EndpointName": ep.endpoint_name,
        "EndpointArn": ep.arn,
        "EndpointConfigName": ep.endpoint_config_name,
        "EndpointStatus": ep.endpoint_status,
        "FailureReason": ep.failure_reason,
        "LastModifiedTime": ep.last_modified_time.isoformat(),
    }


def _where(request: Request, body: dict[str, Any]) -> tuple[str, str]:
    account = body.get("account_id") or request.args.get("account_id") or DEFAULT_ACCOUNT_ID
    region = body.get("region") or request.args.get("region") or DEFAULT_REGION
    return account, region


def _parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone, as the naive UTC datetime moto keeps."""
    try:
        created = datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        return None
    return created.astimezone(timezone.utc).replace(tzinfo=None)


def parse_settle(value: Any) -> float | None:
    """'manual' (or None) -> None; a number of seconds >= 0 -> float."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "manual"):
        return None
    seconds = float(value)
    if seconds < 0 or seconds != seconds:
        raise ValueError("settle_seconds must be >= 0 or 'manual'")
    return seconds


class ControlMiddleware:
    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.app(environ, start_response)
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception as exc:  # never let the control API take the server down
            response = _json(500, {"error": f"{type(exc).__name__}: {exc}"})
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path[len(PREFIX):].split("/") if p]
        body: dict[str, Any] = {}
        if request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except json.JSONDecodeError as exc:
                return _json(400, {"error": f"invalid JSON body: {exc}"})
            if not isinstance(body, dict):
                return _json(400, {"error": "JSON body must be an object"})

        if parts == ["health"] and request.method == "GET":
            return _json(200, {
                "status": "ok",
                "moto_version": moto.__version__,
                "settle_seconds": patches.SettlePolicy.describe(),
            })
        if parts == ["settle"]:
            if request.method == "POST":
                try:
                    patches.SettlePolicy.seconds = parse_settle(body.get("settle_seconds"))
                except (TypeError, ValueError) as exc:
                    return _json(400, {"error": str(exc)})
            return _json(200, {"settle_seconds": patches.SettlePolicy.describe()})
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] in RUNTIME_ROUTES:
            return self.runtime_route(request, parts, body)
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] in CLOCK_ROUTES:
            return self.clock_route(request, parts, body)
        if parts == ["clock", "advance"] and request.method == "POST":
            account, region = _where(request, body)
            with patches.LOCK:
                try:
                    minutes = lifecycle.parse_minutes(body)
                except ValueError as exc:
                    return _json(400, {"error": str(exc)})
                return _json(200, {"Events": lifecycle.advance_all(account, region, minutes)})
        if parts == ["events"] and request.method == "GET":
            account, region = _where(request, body)
            try:
                after = int(request.args.get("after", "0"))
            except ValueError:
                return _json(400, {"error": "after must be an integer (the Last of a previous answer)"})
            return _json(200, lifecycle.events(account, region, request.args.get("endpoint"), after))
        if len(parts) in (2, 3) and parts[0] == "endpoints":
            return self.endpoint_route(request, parts, body)
        if len(parts) == 3 and parts[0] == "models" and parts[2] == "creation-time" and request.method == "POST":
            return self.model_creation_time(request, parts[1], body)
        if parts == ["objects", "last-modified"] and request.method == "POST":
            return self.object_last_modified(request, body)
        return _json(404, {"error": f"no control route {request.method} {request.path}"})

    def runtime_route(self, request: Request, parts: list[str], body: dict[str, Any]) -> Response:
        """InvokeEndpoint results queue and invocation log (see runtime_patches.py).

        The endpoint need not exist (yet): results can be queued before the code
        under test creates it.
        """
        name, what, method = parts[1], parts[2], request.method
        account, region = _where(request, body)
        if what == "invoke-results":
            if method == "POST":
                replace = body.get("replace", False)
                if not isinstance(replace, bool):
                    return _json(400, {"error": '"replace" must be true or false'})
                try:
                    out = runtime.set_results(account, region, name, body.get("results"), replace)
                except ValueError as exc:
                    return _json(400, {"error": str(exc)})
                return _json(200, out)
            if method == "GET":
                return _json(200, runtime.get_results(account, region, name))
            if method == "DELETE":
                return _json(200, runtime.clear_results(account, region, name))
        if what == "invocations":
            if method == "GET":
                return _json(200, runtime.get_invocations(account, region, name))
            if method == "DELETE":
                return _json(200, runtime.clear_invocations(account, region, name))
        return _json(405, {"error": f"method {method} not allowed on {request.path}"})

    def clock_route(self, request: Request, parts: list[str], body: dict[str, Any]) -> Response:
        """Virtual clock of one endpoint (lifecycle.py); the endpoint need not exist."""
        name, what, method = parts[1], parts[2], request.method
        account, region = _where(request, body)
        with patches.LOCK:
            if what == "lifecycle" and method == "POST":
                try:
                    clock = lifecycle.opt_in(account, region, name, body)
                except ValueError as exc:
                    return _json(400, {"error": str(exc)})
                return _json(200, {"EndpointName": name, "Clock": clock})
            clock = lifecycle.clock_view(account, region, name)
            if clock is None:
                return _json(404, {"error": f"endpoint {name!r} is not on a virtual clock: "
                                            f"POST /_emulator/endpoints/{name}/lifecycle first"})
            if what == "lifecycle" and method == "GET":
                return _json(200, {"EndpointName": name, "Clock": clock})
            if what == "advance" and method == "POST":
                try:
                    minutes = lifecycle.parse_minutes(body)
                except ValueError as exc:
                    return _json(400, {"error": str(exc)})
                ep = sagemaker_backends[account][region].endpoints.get(name)
                events = lifecycle.advance(ep, account, region, name, minutes)
                # A deletion that ended took the endpoint away.
                ep = sagemaker_backends[account][region].endpoints.get(name)
                return _json(200, {
                    "EndpointName": name,
                    "Clock": lifecycle.clock_view(account, region, name),
                    "Events": events,
                    "Endpoint": _endpoint_view(ep) if ep is not None else None,
                })
        return _json(405, {"error": f"method {method} not allowed on {request.path}"})

    def model_creation_time(self, request: Request, name: str, body: dict[str, Any]) -> Response:
        """Backdates a model (ListModels and DescribeModel follow)."""
        account, region = _where(request, body)
        model = sagemaker_backends[account][region]._models.get(name)
        if model is None:
            return _json(404, {"error": f"model {name!r} not found in {account}/{region}"})
        created = _parse_time(body.get("creation_time"))
        if created is None:
            return _json(400, {"error": "creation_time must be an ISO 8601 time with a zone, e.g. 2026-01-01T00:00:00Z"})
        model.creation_time = created
        return _json(200, {"ModelName": name, "CreationTime": created.isoformat()})

    def object_last_modified(self, request: Request, body: dict[str, Any]) -> Response:
        """Backdates an S3 object's current version (ListObjectsV2, HeadObject and
        GetObject follow), as for an archive written long ago."""
        from moto.s3.models import s3_backends

        account, _ = _where(request, body)
        bucket, key = body.get("bucket"), body.get("key")
        when = _parse_time(body.get("last_modified"))
        if not isinstance(bucket, str) or not isinstance(key, str) or when is None:
            return _json(400, {"error": 'give {"bucket", "key", "last_modified": ISO 8601 time with a zone}'})
        try:
            obj = s3_backends[account]["aws"].get_object(bucket, key)
        except Exception:  # missing bucket
            obj = None
        if obj is None:
            return _json(404, {"error": f"no object s3://{bucket}/{key} in {account}"})
        obj.last_modified = when
        return _json(200, {"Bucket": bucket, "Key": key, "LastModified": when.isoformat()})

    def endpoint_route(self, request: Request, parts: list[str], body: dict[str, Any]) -> Response:
        name = parts[1]
        account, region = _where(request, body)
        backend = sagemaker_backends[account][region]
        ep = backend.endpoints.get(name)
        if ep is None:
            return _json(404, {"error": f"endpoint {name!r} not found in {account}/{region}"})

        if len(parts) == 2 and request.method == "GET":
            return _json(200, _endpoint_view(ep))
        if len(parts) == 3 and parts[2] == "status" and request.method == "POST":
            status = body.get("status")
            if status not in patches.ALL_STATUSES:
                return _json(400, {
                    "error": f"status must be one of {list(patches.ALL_STATUSES)}, got {status!r}"
                })
            reason = body.get("failure_reason")
            if reason is not None and not isinstance(reason, str):
                return _json(400, {"error": "failure_reason must be a string"})
            patches.set_status(ep, status, reason)
            return _json(200, _endpoint_view(ep))
        if len(parts) == 3 and parts[2] == "settle" and request.method == "POST":
            settled = patches.settle_now(ep)
            return _json(200, {**_endpoint_view(ep), "Settled": settled})
        if len(parts) == 3 and parts[2] == "creation-time" and request.method == "POST":
            try:
                created = datetime.fromisoformat(str(body.get("creation_time", "")).replace("Z", "+00:00"))
            except ValueError:
                return _json(400, {"error": "creation_time must be an ISO 8601 time, e.g. 2026-01-01T00:00:00Z"})
            if created.tzinfo is None:
                return _json(400, {"error": "creation_time needs a time zone (e.g. a trailing Z)"})
            # moto keeps naive UTC datetimes.
            ep.creation_time = created.astimezone(timezone.utc).replace(tzinfo=None)
            return _json(200, {**_endpoint_view(ep), "CreationTime": ep.creation_time.isoformat()})
        return _json(404, {"error": f"no control route {request.method} {request.path}"})

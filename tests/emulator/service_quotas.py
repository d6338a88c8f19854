"""Service Quotas for SageMaker's serverless quotas, and SageMaker keeping to them.

moto 5.2.5's Service Quotas knows only service code `vpc`, and its SageMaker
creates any number of serverless endpoints. AWS (Service Quotas, service code
`sagemaker`, per account and Region):

* `L-99AD19BF` "Maximum number of serverless endpoints", AWS default 5;
* `L-96300102` "Maximum total concurrency that can be allocated across all
  serverless endpoints", AWS default 10.

This answers `ServiceQuotasV20190624.GetServiceQuota` and
`GetAWSDefaultServiceQuota` for those two (JSON 1.1; other service codes go
on to moto), and makes CreateEndpoint, UpdateEndpoint and
UpdateEndpointWeightsAndCapacities fail with `ResourceLimitExceeded` (AWS's
wording) when a serverless endpoint would take the Region past them.

The emulated account's applied values are raised (`RAISED`), so tests sharing
the emulator never meet them; a test lowers them in a Region of its own:

    POST /_emulator/service-quotas  {"region": "ap-southeast-2",
                                     "quotas": {"L-99AD19BF": 2, "L-96300102": 10}}
         -> 200 {"quotas": {region: {code: value}}}   a value of null: no applied value
            (GetServiceQuota then answers NoSuchResourceException, as AWS does for a
            quota it has no applied value for; GetAWSDefaultServiceQuota still answers)
    GET  /_emulator/service-quotas                    -> the same view
    POST /_emulator/service-quotas/faults  {"caller": "<access key id>",
                                            "operation": "GetServiceQuota",   (optional)
                                            "error": {"Code": "AccessDeniedException",
                                                      "Status": 400, "Message": "..."}}
         -> 200 {"faults": {...}}   every Service Quotas call of that caller (only that
            operation, when given) fails so: NoSuchResourceException on GetServiceQuota
            plays an account with no applied value, AccessDeniedException one whose
            quotas cannot be read
    DELETE /_emulator/service-quotas/faults          -> every fault cleared

`POST /moto-api/reset` does not clear these (set them per Region, per test).
"""

from __future__ import annotations

import io
import json
import re
import threading
from typing import Any, Callable

from moto.sagemaker.exceptions import SagemakerClientError

import sagemaker_patches as sp
from price_list_api import _reply

PATH = "/_emulator/service-quotas"
FAULTS_PATH = PATH + "/faults"
TARGET_PREFIX = "ServiceQuotasV20190624."
SERVICE = "sagemaker"
ENDPOINTS, CONCURRENCY = "L-99AD19BF", "L-96300102"
QUOTAS = {
    ENDPOINTS: ("Maximum number of serverless endpoints", 5.0, "Endpoints"),
    CONCURRENCY: (
        "Maximum total concurrency that can be allocated across all serverless endpoints",
        10.0,
        "Concurrency",
    ),
}
# The emulated account's applied values: far above what parallel tests create.
RAISED = {ENDPOINTS: 100_000.0, CONCURRENCY: 20_000_000.0}
_SCOPE = re.compile(r"Credential=(?P<akid>[^/]+)/[^/]+/(?P<region>[^/]+)/")


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[str, dict[str, float | None]] = {}
        self.faults: dict[str, dict[str, Any]] = {}

    def applied_value(self, region: str, code: str) -> float | None:
        with self.lock:
            return self.applied.get(region, {}).get(code, RAISED[code])

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {"quotas": {r: dict(q) for r, q in self.applied.items()}}


STATE = _State()


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"

    def __init__(self, message: str):
        super().__init__(message)


def _quota(code: str, region: str, value: float) -> dict[str, Any]:
    name, _default, unit = QUOTAS[code]
    return {
        "ServiceCode": SERVICE, "ServiceName": "Amazon SageMaker", "QuotaCode": code,
        "QuotaName": name, "QuotaArn": f"arn:aws:servicequotas:{region}:123456789012:{SERVICE}/{code}",
        "Value": value, "Unit": "None", "Adjustable": True, "GlobalQuota": False,
        "Description": unit,
    }


def answer(operation: str, request: dict[str, Any], region: str) -> tuple[int, dict[str, Any]] | None:
    """(status, body) for a sagemaker serverless quota; None to let moto answer."""
    code = request.get("QuotaCode")
    if request.get("ServiceCode") != SERVICE or code not in QUOTAS:
        return None
    if operation == "GetAWSDefaultServiceQuota":
        return 200, {"Quota": _quota(code, region, QUOTAS[code][1])}
    if operation == "GetServiceQuota":
        value = STATE.applied_value(region, code)
        if value is None:
            return 400, {"__type": "NoSuchResourceException",
                         "Message": f"No applied value for quota {code} in {region}."}
        return 200, {"Quota": _quota(code, region, value)}
    return None


# --------------------------------------------------------------------------
# SageMaker keeps to the quotas
# --------------------------------------------------------------------------

def _serverless_max(variants: list[dict[str, Any]] | None) -> int | None:
    for pv in variants or []:
        config = pv.get("DesiredServerlessConfig") or pv.get("CurrentServerlessConfig") or pv.get("ServerlessConfig")
        if config:
            return int(config.get("MaxConcurrency", 0))
    return None


def enforce(backend: Any, name: str, wanted: int | None) -> None:
    """Raise ResourceLimitExceeded when endpoint `name` at `wanted` concurrency
    (None: not serverless) takes the Region past a quota."""
    if wanted is None:
        return
    others = [_serverless_max(ep.production_variants) for n, ep in backend.endpoints.items() if n != name]
    others = [c for c in others if c is not None]
    own = backend.endpoints.get(name)
    current = _serverless_max(own.production_variants) if own is not None else None
    region = backend.region_name
    limit = _in_force(region, ENDPOINTS)
    if current is None and len(others) + 1 > limit:
        raise ResourceLimitExceeded(_limit_message(ENDPOINTS, limit, len(others), 1))
    limit = _in_force(region, CONCURRENCY)
    grows = current is None or wanted > current
    if grows and sum(others) + wanted > limit:
        raise ResourceLimitExceeded(_limit_message(CONCURRENCY, limit, sum(others), wanted))


def _in_force(region: str, code: str) -> float:
    """The applied value, or AWS's default where none is applied."""
    value = STATE.applied_value(region, code)
    return QUOTAS[code][1] if value is None else value


def _limit_message(code: str, limit: float, used: int, delta: int) -> str:
    name, _default, unit = QUOTAS[code]
    return (
        f"The account-level service limit '{name}' is {int(limit)} {unit}, with current "
        f"utilization of {used} {unit} and a request delta of {delta} {unit}. "
        "Please use AWS Service Quotas to request an increase for this quota."
    )


def _config_max(backend: Any, config_name: str) -> int | None:
    config = backend.endpoint_configs.get(config_name)
    return _serverless_max(config.production_variants) if config is not None else None


def apply() -> None:
    """After sagemaker_patches.apply() and capacity_patches.apply()."""
    create, update, capacity = (
        sp.Backend.create_endpoint, sp.Backend.update_endpoint,
        sp.Backend.update_endpoint_weights_and_capacities,
    )

    def create_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = sp._name_arg(args, kwargs, "endpoint_name")
        config_name = kwargs.get("endpoint_config_name", args[1] if len(args) > 1 else "")
        with sp.LOCK:
            if name not in self.endpoints:
                enforce(self, name, _config_max(self, config_name))
            return create(self, *args, **kwargs)

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, **kw: Any) -> Any:
        with sp.LOCK:
            if endpoint_name in self.endpoints:
                enforce(self, endpoint_name, _config_max(self, endpoint_config_name))
            return update(self, endpoint_name, endpoint_config_name, **kw)

    def update_capacities(self: Any, endpoint_name: str, desired_weights_and_capacities: Any) -> Any:
        with sp.LOCK:
            for wanted in desired_weights_and_capacities or []:
                target = (wanted.get("ServerlessUpdateConfig") or {}).get("MaxConcurrency")
                if target is not None and endpoint_name in self.endpoints:
                    enforce(self, endpoint_name, int(target))
            return capacity(self, endpoint_name, desired_weights_and_capacities)

    sp.Backend.create_endpoint = create_endpoint
    sp.Backend.update_endpoint = update_endpoint
    sp.Backend.update_endpoint_weights_and_capacities = update_capacities


# --------------------------------------------------------------------------
# WSGI: the API and its control routes
# --------------------------------------------------------------------------

class ServiceQuotasMiddleware:
    """Answers sagemaker's serverless quotas and /_emulator/service-quotas; passes the rest on."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path in (PATH, FAULTS_PATH):
            return self._control(environ, start_response, path == FAULTS_PATH)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return self.app(environ, start_response)
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        operation = target[len(TARGET_PREFIX):]
        fault = None
        if scope:
            with STATE.lock:
                fault = STATE.faults.get(scope.group("akid"))
        if fault is not None and fault.get("Operation") not in (None, operation):
            fault = None
        if fault is not None:
            return _reply(start_response, int(fault.get("Status", 400)),
                          {"__type": fault["Code"], "Message": fault.get("Message", "injected fault")})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            request = {}
        region = scope.group("region") if scope else "us-east-1"
        answered = answer(operation, request, region)
        if answered is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.app(environ, start_response)
        return _reply(start_response, *answered)

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any], faults: bool) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return _reply(start_response, 200, _view(faults))
        if method == "DELETE" and faults:
            with STATE.lock:
                STATE.faults.clear()
            return _reply(start_response, 200, _view(True))
        if method != "POST":
            return _reply(start_response, 405, {"error": f"method {method} not allowed"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if faults:
                caller, error = str(body["caller"]), dict(body["error"])
                str(error["Code"])
                int(error.get("Status", 400))
                if body.get("operation") is not None:
                    error["Operation"] = str(body["operation"])
                with STATE.lock:
                    STATE.faults[caller] = error
            else:
                region, quotas = str(body["region"]), dict(body["quotas"])
                values = {code: (None if v is None else float(v)) for code, v in quotas.items()}
                unknown = [code for code in values if code not in QUOTAS]
                if unknown:
                    raise KeyError(f"unknown quota codes {unknown}; known: {sorted(QUOTAS)}")
                with STATE.lock:
                    STATE.applied.setdefault(region, {}).update(values)
        except (ValueError, KeyError, TypeError) as exc:
            return _reply(start_response, 400, {"error": f"bad request: {exc}"})
        return _reply(start_response, 200, _view(faults))


def _view(faults: bool) -> dict[str, Any]:
    if faults:
        with STATE.lock:
            return {"faults": dict(STATE.faults)}
    return STATE.view()

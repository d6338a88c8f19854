"""In-process patches that make moto's SageMaker backend behave like AWS.

Call `apply()` once, before the server starts handling requests. Every
mutation of models / endpoint configs / endpoints goes through one
process-wide re-entrant lock, so check-then-create is atomic even though
moto's server is threaded.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker import models as sm
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

import lifecycle
import validation as v

LOCK = threading.RLock()

# AWS refuses UpdateEndpoint while the endpoint is in one of these states.
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
# States that the settle policy moves to InService.
SETTLING = ("Creating", "Updating")
ALL_STATUSES = (
    "OutOfService", "Creating", "Updating", "SystemUpdating", "RollingBack",
    "InService", "Deleting", "Failed", "UpdateRollbackFailed",
)

Backend = sm.SageMakerModelBackend
FakeEndpoint = sm.FakeEndpoint


class SettlePolicy:
    """`seconds is None` means manual: only the control API changes status."""

    seconds: float | None = None

    @classmethod
    def describe(cls) -> str | float:
        return "manual" if cls.seconds is None else cls.seconds


def _arn(backend: Any, kind: str, name: str) -> str:
    return sm.arn_formatter(kind, name, backend.account_id, backend.region_name)


# --------------------------------------------------------------------------
# Endpoint status lifecycle
# --------------------------------------------------------------------------

def mark_transition(ep: Any, status: str) -> None:
    """Put the endpoint in `status` and restart the settle clock."""
    ep.endpoint_status = status
    ep._emu_changed_at = time.monotonic()
    ep._emu_changed_wall = utcnow()


def settle(ep: Any) -> None:
    """Lazily apply the timed settle policy (Creating/Updating -> InService, or
    Failed / rolled back for a marked artifact: lifecycle.complete). Endpoints on
    a virtual clock (lifecycle.py) settle only when their clock is advanced."""
    seconds = SettlePolicy.seconds
    if seconds is None or ep.__dict__.get("endpoint_status") not in SETTLING:
        return
    if lifecycle.clock_of(ep) is not None:
        return
    changed_at = ep.__dict__.get("_emu_changed_at")
    if changed_at is None or time.monotonic() - changed_at >= seconds:
        with LOCK:
            if ep.endpoint_status in SETTLING:
                wall = ep.__dict__.get("_emu_changed_wall") or utcnow()
                ep.last_modified_time = wall + timedelta(seconds=seconds)
                lifecycle.complete(ep)


def settle_now(ep: Any) -> bool:
    """Control API: ends a pending Creating/Updating now, as AWS would (marks honoured)."""
    with LOCK:
        if ep.endpoint_status not in SETTLING:
            return False
        ep.last_modified_time = utcnow()
        return lifecycle.complete(ep)


def set_status(ep: Any, status: str, failure_reason: str | None) -> None:
    """Control-API transition. Failed always carries a FailureReason."""
    with LOCK:
        mark_transition(ep, status)
        ep.last_modified_time = utcnow()
        if status == "InService":
            ep._emu_served = True  # has a live fleet: keeps serving InvokeEndpoint while Updating
        if status == "Failed":
            ep.failure_reason = failure_reason or "Failed (set through the emulator control API)."
        else:
            ep.failure_reason = failure_reason or None
        lifecycle.restarted(ep)


_orig_response_object = FakeEndpoint.response_object.fget
_orig_summary = FakeEndpoint.summary


def _endpoint_response_object(self: Any) -> dict[str, Any]:
    settle(self)
    resp = _orig_response_object(self)
    for key in [k for k in resp if k.startswith("Emu")]:
        del resp[key]
    return resp


def _endpoint_summary(self: Any) -> dict[str, Any]:
    settle(self)
    return _orig_summary(self)


def _is_serverless_endpoint(ep: Any) -> bool:
    return any("CurrentServerlessConfig" in pv for pv in ep.production_variants or [])


# --------------------------------------------------------------------------
# Backend: create-if-absent, AWS not-found messages, UpdateEndpoint, tags
# --------------------------------------------------------------------------

def _name_arg(args: tuple, kwargs: dict, key: str) -> str:
    return kwargs[key] if key in kwargs else args[0]


_orig_create_model = Backend.create_model
_orig_create_endpoint_config = Backend.create_endpoint_config
_orig_create_endpoint = Backend.create_endpoint
_orig_list_endpoints = Backend.list_endpoints
_orig_list_endpoint_configs = Backend.list_endpoint_configs
_orig_get_resource_from_arn = Backend._get_resource_from_arn


def create_model(self: Any, *args: Any, **kwargs: Any) -> Any:
    name = _name_arg(args, kwargs, "model_name")
    with LOCK:
        if name in self._models:
            raise ValidationError(
                f'Cannot create already existing model "{_arn(self, "model", name)}".'
            )
        return _orig_create_model(self, *args, **kwargs)


def describe_model(self: Any, model_name: str) -> Any:
    model = self._models.get(model_name)
    if model is None:
        raise ValidationError(f'Could not find model "{_arn(self, "model", model_name)}".')
    return model


def delete_model(self: Any, model_name: str) -> None:
    with LOCK:
        if self._models.pop(model_name, None) is None:
            raise ValidationError(f'Could not find model "{_arn(self, "model", model_name)}".')


def validate_production_variants(self: Any, production_variants: list[dict[str, Any]]) -> None:
    for pv in production_variants:
        name = pv.get("ModelName")
        if name is not None and name not in self._models:
            raise ValidationError(f'Could not find model "{_arn(self, "model", name)}".')


def create_endpoint_config(self: Any, *args: Any, **kwargs: Any) -> Any:
    name = _name_arg(args, kwargs, "endpoint_config_name")
    variants = kwargs.get("production_variants") or (args[1] if len(args) > 1 else [])
    with LOCK:
        if name in self.endpoint_configs:
            arn = _arn(self, "endpoint-config", name)
            raise ValidationError(
                f'Cannot create already existing endpoint configuration "{arn}".'
            )
        problem = v.serverless_semantic_errors(variants or [])
        if problem:
            raise ValidationError(problem)
        return _orig_create_endpoint_config(self, *args, **kwargs)


def _missing_config(self: Any, name: str) -> ValidationError:
    arn = _arn(self, "endpoint-config", name)
    return ValidationError(f'Could not find endpoint configuration "{arn}".')


def describe_endpoint_config(self: Any, endpoint_config_name: str) -> dict[str, Any]:
    config = self.endpoint_configs.get(endpoint_config_name)
    if config is None:
        raise _missing_config(self, endpoint_config_name)
    return config.response_object


def delete_endpoint_config(self: Any, endpoint_config_name: str) -> None:
    with LOCK:
        if self.endpoint_configs.pop(endpoint_config_name, None) is None:
            raise _missing_config(self, endpoint_config_name)


def _missing_endpoint(self: Any, name: str) -> ValidationError:
    return ValidationError(f'Could not find endpoint "{_arn(self, "endpoint", name)}".')


def create_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
    name = _name_arg(args, kwargs, "endpoint_name")
    with LOCK:
        if name in self.endpoints:
            raise ValidationError(
                f'Cannot create already existing endpoint "{_arn(self, "endpoint", name)}".'
            )
        ep = _orig_create_endpoint(self, *args, **kwargs)
        mark_transition(ep, "Creating")
        lifecycle.started(ep, self, None)
        return ep


def describe_endpoint(self: Any, endpoint_name: str) -> dict[str, Any]:
    ep = self.endpoints.get(endpoint_name)
    if ep is None:
        raise _missing_endpoint(self, endpoint_name)
    return ep.response_object


def delete_endpoint(self: Any, endpoint_name: str) -> None:
    """AWS shows the endpoint Deleting for a while: on a virtual clock it stays so for its
    delete minutes (lifecycle.deleting); otherwise it is removed at once. A second delete
    while Deleting changes nothing."""
    with LOCK:
        ep = self.endpoints.get(endpoint_name)
        if ep is None:
            raise _missing_endpoint(self, endpoint_name)
        if ep.endpoint_status == "Deleting" and lifecycle.clock_of(ep) is not None:
            return
        mark_transition(ep, "Deleting")
        ep.last_modified_time = ep._emu_changed_wall
        if not lifecycle.deleting(ep):
            del self.endpoints[endpoint_name]
            lifecycle.emit(ep)


FAILED_UPDATE = (
    'Cannot update failed endpoint "{arn}". DeleteEndpoint is the only operation '
    'that can be performed on a failed endpoint.'
)
REALTIME_TO_SERVERLESS = (
    'Updating a real-time endpoint to a serverless endpoint is not supported: '
    'endpoint "{arn}" uses instance-based production variants and endpoint '
    'configuration "{config_arn}" is serverless. Create a new serverless endpoint instead.'
)


def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, **_ignored: Any) -> Any:
    with LOCK:
        ep = self.endpoints.get(endpoint_name)
        if ep is None:
            raise _missing_endpoint(self, endpoint_name)
        settle(ep)
        if ep.endpoint_status in IN_PROGRESS:
            raise ValidationError(f'Cannot update in-progress endpoint "{ep.arn}".')
        if ep.endpoint_status == "Failed":
            # DescribeEndpoint's reference: "DeleteEndpoint is the only operation
            # that can be performed on a failed endpoint."
            raise ValidationError(FAILED_UPDATE.format(arn=ep.arn))
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            raise _missing_config(self, endpoint_config_name)
        new_serverless = any(
            pv.get("ServerlessConfig") is not None for pv in config.production_variants
        )
        if new_serverless and not _is_serverless_endpoint(ep):
            raise ValidationError(
                REALTIME_TO_SERVERLESS.format(arn=ep.arn, config_arn=config.endpoint_config_arn)
            )
        previous = {
            "status": ep.endpoint_status,
            "endpoint_config_name": ep.endpoint_config_name,
            "production_variants": ep.production_variants,
            "data_capture_config": ep.data_capture_config,
        }
        ep.endpoint_config_name = endpoint_config_name
        ep.production_variants = ep._process_production_variants(config.production_variants)
        ep.data_capture_config = config.data_capture_config
        ep.failure_reason = None
        mark_transition(ep, "Updating")
        ep.last_modified_time = ep._emu_changed_wall
        lifecycle.started(ep, self, previous)
        return ep


def list_endpoints(self: Any, *args: Any, **kwargs: Any) -> Any:
    for ep in list(self.endpoints.values()):
        settle(ep)
    if not kwargs.get("sort_order"):
        kwargs["sort_order"] = "Descending"  # AWS default: newest first
    return _orig_list_endpoints(self, *args, **kwargs)


def list_endpoint_configs(self: Any, *args: Any, **kwargs: Any) -> Any:
    if not kwargs.get("sort_order"):
        kwargs["sort_order"] = "Descending"
    return _orig_list_endpoint_configs(self, *args, **kwargs)


def _get_resource_from_arn(self: Any, arn: str) -> Any:
    """moto answers 500 for an unknown or malformed ARN; AWS answers 400."""
    try:
        resource = _orig_get_resource_from_arn(self, arn)
    except (ValueError, AttributeError, IndexError):
        resource = None
    if resource is None:
        raise ValidationError(f'Could not find resource "{arn}".')
    return resource


def add_tags(self: Any, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """AWS semantics: a tag whose key already exists replaces the old value."""
    with LOCK:
        resource = self._get_resource_from_arn(arn)
        current = list(resource.tags or [])
        for tag in tags or []:
            for existing in current:
                if existing["Key"] == tag["Key"]:
                    existing["Value"] = tag.get("Value", "")
                    break
            else:
                current.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
        resource.tags = current
        return tags or []


def delete_tags(self: Any, arn: str, tag_keys: list[str]) -> None:
    with LOCK:
        resource = self._get_resource_from_arn(arn)
        resource.tags = [t for t in resource.tags if t["Key"] not in (tag_keys or [])]


# --------------------------------------------------------------------------
# Response layer: request validation + UpdateEndpoint action
# --------------------------------------------------------------------------

def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    ep = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties"),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_deployment_config=self._get_param("RetainDeploymentConfig"),
    )
    return ActionResult({"EndpointArn": ep.arn})


# response method -> (name members validated, extra validator)
VALIDATED_ACTIONS = {
    "create_model": (["ModelName"], None),
    "describe_model": (["ModelName"], None),
    "delete_model": (["ModelName"], None),
    "create_endpoint_config": (
        ["EndpointConfigName"],
        lambda r: v.production_variant_errors(r._get_param("ProductionVariants")),
    ),
    "describe_endpoint_config": (["EndpointConfigName"], None),
    "delete_endpoint_config": (["EndpointConfigName"], None),
    "create_endpoint": (["EndpointName", "EndpointConfigName"], None),
    "describe_endpoint": (["EndpointName"], None),
    "delete_endpoint": (["EndpointName"], None),
    "update_endpoint": (["EndpointName", "EndpointConfigName"], None),
}


def _validated(action: str, members: list[str], extra: Any) -> Any:
    inner = getattr(SageMakerResponse, action)

    def method(self: SageMakerResponse) -> Any:
        errors: list[str] = []
        for member in members:
            errors += v.name_errors(self._get_param(member), v.NAME_MEMBERS[member])
        if extra is not None:
            errors += extra(self)
        v.raise_if(errors)
        return inner(self)

    method.__name__ = action
    method.__qualname__ = f"SageMakerResponse.{action}"
    return method


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    FakeEndpoint.response_object = property(_endpoint_response_object)
    FakeEndpoint.summary = _endpoint_summary
    # Instance types are checked against botocore's enum in the response layer.
    sm.FakeEndpointConfig.validate_instance_type = lambda self, instance_type: None
    for fn in (
        create_model, describe_model, delete_model, validate_production_variants,
        create_endpoint_config, describe_endpoint_config, delete_endpoint_config,
        create_endpoint, describe_endpoint, delete_endpoint, update_endpoint,
        list_endpoints, list_endpoint_configs, _get_resource_from_arn,
        add_tags, delete_tags,
    ):
        setattr(Backend, fn.__name__, fn)
    SageMakerResponse.update_endpoint = _response_update_endpoint
    for action, (members, extra) in VALIDATED_ACTIONS.items():
        setattr(SageMakerResponse, action, _validated(action, members, extra))

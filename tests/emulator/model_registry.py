"""Model Registry (model packages) as AWS runs it, where moto 5.2.5 differs.

* CreateModelPackage in a group without ModelApprovalStatus is `PendingManualApproval`
  (AWS's default for a versioned package; moto leaves it unset).
* UpdateModelPackage changes only what the request names: moto sets
  CustomerMetadataProperties and ApprovalDescription to nothing when they are left out
  (an approval click would wipe the package's metadata). CustomerMetadataProperties are
  merged key by key, CustomerMetadataPropertiesToRemove removes keys.
* DescribeModelPackage of a package that does not exist answers AWS's "does not exist".
* CreateModel naming a `ModelPackageName` (in PrimaryContainer or Containers) checks that
  the package exists and, for a versioned package, that it is `Approved`.
* Event feed: each package created, and each change of its approval status, appends the
  "SageMaker Model Package State Change" event EventBridge would deliver, under the key
  `model-package-group/<group>` (`GET /_emulator/events?endpoint=model-package-group/<group>`).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker import models as sm
from moto.sagemaker.exceptions import ValidationError

import lifecycle

Backend = sm.SageMakerModelBackend
FEED_PREFIX = "model-package-group/"

_orig_create_model = None
_orig_create_model_package = Backend.create_model_package
_orig_update_model_package = Backend.update_model_package


def _package(backend: Any, name_or_arn: str) -> Any:
    mapped = backend.model_package_name_mapping.get(name_or_arn, name_or_arn)
    return backend.model_packages.get(mapped)


def _missing(backend: Any, name_or_arn: str) -> ValidationError:
    return ValidationError(f"ModelPackage {name_or_arn} does not exist.")


def state_change_event(backend: Any, package: Any) -> dict[str, Any]:
    """The EventBridge event SageMaker sends for the package as it is now."""
    detail: dict[str, Any] = {
        "ModelPackageGroupName": package.model_package_group_name,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageName": package.model_package_name,
        "CreationTime": lifecycle._millis(package.creation_time),
        "InferenceSpecification": package.inference_specification,
        "ModelPackageStatus": package.model_package_status,
        "ModelApprovalStatus": package.model_approval_status,
        "CustomerMetadataProperties": dict(package.customer_metadata_properties or {}),
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": backend.account_id,
        "time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": backend.region_name,
        "resources": [package.arn],
        "detail": {k: v for k, v in detail.items() if v is not None},
    }


def _emit(backend: Any, package: Any) -> None:
    if package.model_package_group_name:
        key = FEED_PREFIX + package.model_package_group_name
        lifecycle.append_event(backend.account_id, backend.region_name, key,
                               state_change_event(backend, package))


def create_model_package(self: Any, *args: Any, **kwargs: Any) -> str:
    group = kwargs.get("model_package_group_name")
    if group and kwargs.get("model_approval_status") is None:
        kwargs["model_approval_status"] = "PendingManualApproval"
    arn = _orig_create_model_package(self, *args, **kwargs)
    _emit(self, self.model_packages[arn])
    return arn


def update_model_package(
    self: Any,
    model_package_arn: str,
    model_approval_status: str | None,
    approval_description: str | None,
    customer_metadata_properties: dict[str, str] | None,
    customer_metadata_properties_to_remove: list[str],
    additional_inference_specifications_to_add: list[Any] | None,
) -> str:
    package = _package(self, model_package_arn)
    if package is None:
        raise _missing(self, model_package_arn)
    before = package.model_approval_status
    if model_approval_status is not None:
        package.set_model_approval_status(model_approval_status)
    if approval_description is not None:
        package.approval_description = approval_description
    if customer_metadata_properties:
        merged = dict(package.customer_metadata_properties or {})
        merged.update(customer_metadata_properties)
        package.customer_metadata_properties = merged
    package.remove_customer_metadata_property(customer_metadata_properties_to_remove)
    package.add_additional_inference_specifications(additional_inference_specifications_to_add)
    package.modifications_done()
    if package.model_approval_status != before:
        _emit(self, package)
    return package.arn


def describe_model_package(self: Any, model_package_name: str) -> Any:
    package = _package(self, model_package_name)
    if package is None:
        raise _missing(self, model_package_name)
    return package


def _package_errors(backend: Any, containers: list[dict[str, Any]]) -> str | None:
    for container in containers:
        name = container.get("ModelPackageName")
        if not name:
            continue
        package = _package(backend, name)
        if package is None:
            return f"ModelPackage {name} does not exist."
        status = package.model_approval_status
        if package.model_package_group_name and status != "Approved":
            return (f"Model package {package.arn} has ModelApprovalStatus {status}; "
                    "only an Approved model package version can be used to create a model.")
    return None


def create_model(self: Any, *args: Any, **kwargs: Any) -> Any:
    containers = [kwargs.get("primary_container") or {}] + list(kwargs.get("containers") or [])
    error = _package_errors(self, containers)
    if error:
        raise ValidationError(error)
    return _orig_create_model(self, *args, **kwargs)


_applied = False


def apply() -> None:
    """After sagemaker_patches.apply(): wraps its CreateModel."""
    global _applied, _orig_create_model
    if _applied:
        return
    _applied = True
    _orig_create_model = Backend.create_model
    Backend.create_model = create_model
    Backend.create_model_package = create_model_package
    Backend.update_model_package = update_model_package
    Backend.describe_model_package = describe_model_package

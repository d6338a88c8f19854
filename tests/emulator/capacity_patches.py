"""UpdateEndpointWeightsAndCapacities as AWS runs it for serverless variants.

moto 5.2.5 applies weights and instance counts at once, never leaves the
endpoint `Updating`, ignores `ServerlessUpdateConfig` and accepts the call
on a busy or failed endpoint. AWS (API reference,
UpdateEndpointWeightsAndCapacities / DesiredWeightAndCapacity):

* the endpoint must exist and not be Creating/Updating/... or Failed;
* each variant named once, and present on the endpoint;
* `ServerlessUpdateConfig` {MaxConcurrency 1..200, ProvisionedConcurrency
  1..200} only on a serverless variant, provisioned never above max; a
  member left out keeps its current value;
* the endpoint is `Updating` (same config, no new containers) until the
  change is done: `DesiredServerlessConfig` shows the target meanwhile,
  `CurrentServerlessConfig` takes it when the endpoint is `InService` again
  (lifecycle.complete).
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

import lifecycle
import sagemaker_patches as sp

RANGES = (("MaxConcurrency", "maxConcurrency"), ("ProvisionedConcurrency", "provisionedConcurrency"))


def _range_errors(i: int, update: dict[str, Any]) -> list[str]:
    errors = []
    for key, path in RANGES:
        value = update.get(key)
        if value is not None and not 1 <= int(value) <= 200:
            bound = "less than or equal to 200" if int(value) > 200 else "greater than or equal to 1"
            errors.append(
                f"Value '{value}' at 'desiredWeightsAndCapacities.{i}.member."
                f"serverlessUpdateConfig.{path}' failed to satisfy constraint: "
                f"Member must have value {bound}"
            )
    return errors


def _target(variant: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The serverless config the variant will have: members left out keep their value."""
    target = dict(variant.get("DesiredServerlessConfig") or variant["CurrentServerlessConfig"])
    target.update({k: int(update[k]) for k, _ in RANGES if update.get(k) is not None})
    return target


def update_endpoint_weights_and_capacities(
    self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]
) -> str:
    with sp.LOCK:
        ep = self.endpoints.get(endpoint_name)
        if ep is None:
            raise sp._missing_endpoint(self, endpoint_name)
        sp.settle(ep)
        errors: list[str] = []
        for i, wanted in enumerate(desired_weights_and_capacities or [], start=1):
            errors += _range_errors(i, wanted.get("ServerlessUpdateConfig") or {})
        sp.v.raise_if(errors)
        if ep.endpoint_status in sp.IN_PROGRESS:
            raise ValidationError(f'Cannot update in-progress endpoint "{ep.arn}".')
        if ep.endpoint_status == "Failed":
            raise ValidationError(sp.FAILED_UPDATE.format(arn=ep.arn))
        variants = {v["VariantName"]: v for v in ep.production_variants or []}
        seen: set[str] = set()
        for wanted in desired_weights_and_capacities or []:
            name = wanted.get("VariantName")
            if name in seen:
                raise ValidationError(f'The variant name "{name}" was non-unique within the request.')
            seen.add(name)
            variant = variants.get(name)
            if variant is None:
                raise ValidationError(
                    f'The variant name(s) "{name}" is/are not present within endpoint '
                    f'configuration "{ep.endpoint_config_name}".'
                )
            update = wanted.get("ServerlessUpdateConfig")
            if update and "CurrentServerlessConfig" not in variant:
                raise ValidationError(
                    f'ServerlessUpdateConfig is only supported for serverless variants; "{name}" is not.'
                )
            target = _target(variant, update) if update else {}
            if target.get("ProvisionedConcurrency", 0) > target.get("MaxConcurrency", 200):
                raise ValidationError(
                    "ProvisionedConcurrency must be less than or equal to MaxConcurrency "
                    f'for variant "{name}".'
                )
        for wanted in desired_weights_and_capacities or []:
            variant = variants[wanted["VariantName"]]
            update = wanted.get("ServerlessUpdateConfig")
            if update:
                variant["DesiredServerlessConfig"] = _target(variant, update)
            for key in ("DesiredWeight", "DesiredInstanceCount"):
                if wanted.get(key) is not None:
                    variant[key] = wanted[key]
        ep.failure_reason = None
        sp.mark_transition(ep, "Updating")
        ep.last_modified_time = ep._emu_changed_wall
        lifecycle.capacity_started(ep)
        return ep.arn


def apply() -> None:
    """After sagemaker_patches.apply(): the backend call, and the endpoint name checked."""
    sp.Backend.update_endpoint_weights_and_capacities = update_endpoint_weights_and_capacities
    action = "update_endpoint_weights_and_capacities"
    setattr(SageMakerResponse, action, sp._validated(action, ["EndpointName"], None))

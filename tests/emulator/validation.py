"""Request-level (Coral-style) validation that AWS SageMaker performs and moto skips.

AWS validates every request against the service model before any business
logic runs and reports all failures in one message:

    1 validation error detected: Value 'a_b' at 'endpointName' failed to
    satisfy constraint: Member must satisfy regular expression pattern:
    ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}

Several failures are joined with "; " after "N validation errors detected: ".
Member paths are lowerCamelCase; list members are 1-based and spelled
`productionVariants.1.member.serverlessConfig.maxConcurrency`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from moto.sagemaker.exceptions import ValidationError

NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_NAME_RE = re.compile(r"\A[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
NAME_MAX_LEN = 63

# Top-level request members that are SageMaker resource names -> AWS path.
NAME_MEMBERS = {
    "ModelName": "modelName",
    "EndpointConfigName": "endpointConfigName",
    "EndpointName": "endpointName",
}

# ProductionVariantServerlessConfig ranges from the service model.
SERVERLESS_RANGES = (
    # request key, path segment, min, max, required
    ("MemorySizeInMB", "memorySizeInMB", 1024, 6144, True),
    ("MaxConcurrency", "maxConcurrency", 1, 200, True),
    ("ProvisionedConcurrency", "provisionedConcurrency", 1, 200, False),
)
SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)


class RequestValidationError(ValidationError):
    """ValidationException carrying the AWS multi-error message."""

    def __init__(self, errors: list[str]):
        n = len(errors)
        plural = "error" if n == 1 else "errors"
        super().__init__(f"{n} validation {plural} detected: " + "; ".join(errors))


def raise_if(errors: list[str]) -> None:
    if errors:
        raise RequestValidationError(errors)


def _value(v: Any) -> str:
    return "null" if v is None else f"'{v}'"


def not_null(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def name_errors(value: Any, path: str, required: bool = True) -> list[str]:
    """Errors for a SageMaker resource / variant name (EndpointName shape)."""
    if value is None:
        return [not_null(path)] if required else []
    value = str(value)
    errors = []
    if len(value) > NAME_MAX_LEN:
        errors.append(
            f"Value '{value}' at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {NAME_MAX_LEN}"
        )
    if not _NAME_RE.match(value):
        errors.append(
            f"Value '{value}' at '{path}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )
    return errors


def range_errors(value: Any, path: str, lo: int, hi: int) -> list[str]:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return [f"Value {_value(value)} at '{path}' failed to satisfy constraint: Member must be an integer"]
    if n < lo:
        return [
            f"Value '{value}' at '{path}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {lo}"
        ]
    if n > hi:
        return [
            f"Value '{value}' at '{path}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {hi}"
        ]
    return []


@lru_cache(maxsize=1)
def instance_types() -> tuple[str, ...]:
    """ProductionVariantInstanceType enum from botocore's SageMaker model.

    Replaces moto's short, outdated instance type list (which rejects ml.t3,
    ml.m6i, ml.g5, ...) with the list AWS itself validates against.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for("ProductionVariantInstanceType").enum)


def production_variant_errors(variants: Any) -> list[str]:
    """Shape-level checks of CreateEndpointConfig.ProductionVariants."""
    if variants is None:
        return [not_null("productionVariants")]
    if not isinstance(variants, list):
        return []
    errors: list[str] = []
    if len(variants) < 1:
        errors.append(
            "Value '[]' at 'productionVariants' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    if len(variants) > 10:
        errors.append(
            f"Value '{variants}' at 'productionVariants' failed to satisfy constraint: "
            "Member must have length less than or equal to 10"
        )
    for i, pv in enumerate(variants, start=1):
        if not isinstance(pv, dict):
            continue
        base = f"productionVariants.{i}.member"
        errors += name_errors(pv.get("VariantName"), f"{base}.variantName")
        errors += name_errors(pv.get("ModelName"), f"{base}.modelName", required=False)
        itype = pv.get("InstanceType")
        if itype is not None and itype not in instance_types():
            errors.append(
                f"Value '{itype}' at '{base}.instanceType' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(instance_types())}]"
            )
        sc = pv.get("ServerlessConfig")
        if isinstance(sc, dict):
            for key, seg, lo, hi, required in SERVERLESS_RANGES:
                path = f"{base}.serverlessConfig.{seg}"
                if sc.get(key) is None:
                    if required:
                        errors.append(not_null(path))
                    continue
                errors += range_errors(sc[key], path, lo, hi)
    return errors


def serverless_semantic_errors(variants: list[dict[str, Any]]) -> str | None:
    """Business rules AWS applies after shape validation (one message)."""
    serverless = [pv for pv in variants if pv.get("ServerlessConfig") is not None]
    instance = [pv for pv in variants if pv.get("ServerlessConfig") is None]
    if serverless and instance:
        return (
            "Serverless and instance-based production variants cannot be mixed in "
            "one endpoint configuration: a serverless endpoint configuration must "
            "have exactly one production variant."
        )
    if len(serverless) > 1:
        return (
            f"An endpoint configuration with a serverless production variant must "
            f"have exactly one production variant, but {len(serverless)} were given."
        )
    for pv in serverless:
        sc = pv["ServerlessConfig"]
        mem = sc.get("MemorySizeInMB")
        if mem is not None and int(mem) not in SERVERLESS_MEMORY_SIZES:
            return (
                f"Value '{mem}' at 'MemorySizeInMB' failed to satisfy constraint: "
                f"Member must satisfy enum value set: {list(SERVERLESS_MEMORY_SIZES)}"
            )
        prov, mx = sc.get("ProvisionedConcurrency"), sc.get("MaxConcurrency")
        if prov is not None and mx is not None and int(prov) > int(mx):
            return (
                f"ProvisionedConcurrency ({prov}) must be less than or equal to "
                f"MaxConcurrency ({mx}) for production variant '{pv.get('VariantName')}'."
            )
    return None

"""SageMaker `Search` over the `Endpoint` resource as AWS answers it.

moto 5.2.5 answers every record at once (no MaxResults, no NextToken), in its
own object shape (`Arn` instead of `EndpointArn`, the emulator's private
fields) and from the endpoint as last stored (no virtual-time settling). AWS
(API reference, Search / SearchRecord / Endpoint):

* `MaxResults` 1..100 (default 10), `NextToken` for the next page;
* each record `{"Endpoint": {...}}` holds what DescribeEndpoint returns,
  plus the endpoint's `Tags`;
* filters name a property: `EndpointName` with `Equals`, `NotEquals` or
  `Contains` is what the pipeline sends; any other filter on endpoints is
  refused here rather than silently ignored.

The record is built from the same settled view as DescribeEndpoint, so a
sweep sees the same state through either call. (On AWS the search index
trails the endpoints by a little; the sweeper compares each record with
ListEndpoints and describes the ones that differ.) Other resources keep
moto's behaviour.
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from moto.core.responses import ActionResult

DEFAULT_RESULTS = 10
MAX_RESULTS = 100
_OPERATORS = {
    "Equals": lambda actual, value: actual == value,
    "NotEquals": lambda actual, value: actual != value,
    "Contains": lambda actual, value: value in actual,
}

_orig_search = SageMakerResponse.search


def _matches(ep: Any, expression: dict[str, Any] | None) -> bool:
    for f in (expression or {}).get("Filters") or []:
        test = _OPERATORS.get(f.get("Operator", "Equals"))
        if f.get("Name") != "EndpointName" or test is None:
            raise ValidationError(
                f"The emulator's Search on Endpoint supports only EndpointName with "
                f"{', '.join(_OPERATORS)}; got {f.get('Name')} {f.get('Operator')}"
            )
        if not test(ep.endpoint_name, f.get("Value", "")):
            return False
    return True


def _record(ep: Any) -> dict[str, Any]:
    endpoint = dict(ep.response_object)  # settled, as DescribeEndpoint shows it
    endpoint["Tags"] = list(ep.tags or [])
    return {"Endpoint": endpoint}


def search(self: SageMakerResponse) -> Any:
    if self._get_param("Resource") != "Endpoint":
        return _orig_search(self)
    max_results = int(self._get_param("MaxResults") or DEFAULT_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValidationError(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to "
            f"satisfy constraint: Member must have value less than or equal to {MAX_RESULTS}"
        )
    token = self._get_param("NextToken")
    start = int(token) if token and token.isdigit() else 0
    backend = sagemaker_backends[self.current_account][self.region]
    found = [
        ep for ep in list(backend.endpoints.values())
        if _matches(ep, self._get_param("SearchExpression"))
    ]
    page = found[start:start + max_results]
    result: dict[str, Any] = {"Results": [_record(ep) for ep in page]}
    if start + max_results < len(found):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    SageMakerResponse.search = search

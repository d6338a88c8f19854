"""A small IAM policy evaluator for identity policies, limited to what template.yaml uses.

Why our own: moto's IAM enforcement (moto/iam/access_control.py) ignores the Resource and
Condition elements apart from `sts:ExternalId` in trust policies, and no maintained Python
package evaluates conditions offline. This one implements AWS's documented logic for one
identity policy set (no resource policies, boundaries or SCPs):

* an explicit Deny that matches wins; else an Allow that matches allows; else implicit deny;
* Action / NotAction and Resource / NotResource with `*` and `?` wildcards (actions
  case-insensitive, resources case-sensitive);
* Condition: every operator block must hold, every key in it must hold, any of its values
  may match. Operators: String(Not)Equals, StringEqualsIgnoreCase, String(Not)Like,
  Arn(Not)Equals, Arn(Not)Like, Bool, Null, with `ForAllValues:` / `ForAnyValue:` and
  `...IfExists`. A key missing from the request makes a plain operator false, a negated
  one (`...Not...`) true, `ForAllValues:` true and `ForAnyValue:` false.
* Condition keys: exactly those the template uses (KNOWN_KEYS); any other key is an
  error rather than a silent mismatch. `aws:TagKeys` is multivalued and must be used
  with a set operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KNOWN_KEY_PATTERNS = (
    r"aws:RequestTag/.+",
    r"aws:ResourceTag/.+",
    r"aws:TagKeys",
    r"sagemaker:TaggingAction",
    r"iam:PassedToService",
    r"cloudwatch:namespace",
    r"s3:prefix",
)
MULTIVALUED = {"aws:tagkeys"}
OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringLike", "StringNotLike",
    "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool", "Null",
}


class PolicyError(ValueError):
    """The policy uses something this evaluator does not implement."""


@dataclass
class Decision:
    effect: str  # "allow", "explicit-deny" or "implicit-deny"
    statements: list[str] = field(default_factory=list)  # Sids that matched

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.IGNORECASE if ignore_case else 0
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def _check_key(key: str) -> None:
    if not any(re.fullmatch(p, key, re.IGNORECASE) for p in KNOWN_KEY_PATTERNS):
        raise PolicyError(f"condition key {key!r} is not one this evaluator implements")


def _context_value(context: dict[str, Any], key: str) -> Any:
    """Condition keys are case-insensitive (tag keys in them too, per AWS)."""
    for k, v in context.items():
        if k.lower() == key.lower():
            return v
    return None


def _base_match(base: str, policy_value: str, value: str) -> bool:
    if base in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        return policy_value == value
    if base == "StringEqualsIgnoreCase":
        return policy_value.lower() == value.lower()
    if base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        return _glob(policy_value, value)
    if base == "Bool":
        return policy_value.lower() == value.lower()
    raise PolicyError(f"condition operator {base!r} is not implemented")


def _condition_holds(operator: str, key: str, policy_values: list[Any], context: dict[str, Any]) -> bool:
    _check_key(key)
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyError(f"set operator {qualifier!r} is not implemented")
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if base not in OPERATORS:
        raise PolicyError(f"condition operator {operator!r} is not implemented")
    values = [str(v).lower() if isinstance(v, bool) else str(v) for v in policy_values]
    actual = _context_value(context, key)
    if base == "Null":
        if qualifier:
            raise PolicyError("Null takes no set operator")
        wants_absent = values[0].lower() == "true"
        return (actual is None) == wants_absent
    negated = "Not" in base
    if key.lower() in MULTIVALUED and not qualifier:
        raise PolicyError(f"{key} is multivalued: use ForAllValues: or ForAnyValue: with {operator}")
    if actual is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    if isinstance(actual, list) and not qualifier:
        raise PolicyError(f"{key} has several values in the request: a set operator is needed")

    def one(value: str) -> bool:
        matched = any(_base_match(base, p, value) for p in values)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(one(v) for v in _as_list(actual))
    if qualifier == "ForAnyValue":
        return any(one(v) for v in _as_list(actual))
    return one(str(actual))


def conditions_hold(condition: dict[str, Any] | None, context: dict[str, Any]) -> bool:
    for operator, pairs in (condition or {}).items():
        for key, policy_values in pairs.items():
            if not _condition_holds(operator, key, _as_list(policy_values), context):
                return False
    return True


def _element_matches(statement: dict[str, Any], name: str, value: str, ignore_case: bool) -> bool:
    if name in statement:
        return any(_glob(p, value, ignore_case) for p in _as_list(statement[name]))
    negated = "Not" + name
    if negated in statement:
        return not any(_glob(p, value, ignore_case) for p in _as_list(statement[negated]))
    raise PolicyError(f"statement without {name} or Not{name}: {statement}")


def statement_applies(statement: dict[str, Any], request: dict[str, Any]) -> bool:
    return (
        _element_matches(statement, "Action", request["action"], ignore_case=True)
        and _element_matches(statement, "Resource", request["resource"], ignore_case=False)
        and conditions_hold(statement.get("Condition"), request.get("context") or {})
    )


def evaluate(statements: list[dict[str, Any]], request: dict[str, Any]) -> Decision:
    """The decision for one request ({action, resource, context}) under these statements."""
    allows, denies = [], []
    for index, statement in enumerate(statements):
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"statement without Effect Allow/Deny: {statement}")
        if statement_applies(statement, request):
            sid = statement.get("Sid", f"#{index}")
            (denies if statement["Effect"] == "Deny" else allows).append(sid)
    if denies:
        return Decision("explicit-deny", denies)
    if allows:
        return Decision("allow", allows)
    return Decision("implicit-deny")

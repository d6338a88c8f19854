#!/usr/bin/env python3
"""Evaluates the AWS calls the tests made against the functions' policies in template.yaml.

    .venv/bin/python tests/policy/evaluate.py --template template.yaml < calls.json
    .venv/bin/python tests/policy/evaluate.py --template template.yaml --mutations < calls.json

Input: the emulator's call log (GET /_emulator/calls, tests/emulator/call_recorder.py).
A caller (access key id) `<function>.<stack>` is that function of that deployment (the
stack's parameters are registered in the log); `<function>.<stack>.deny-<scenario>` is a
call the tests make on purpose to show the policy forbids it. Other callers (the tests'
own set-up) are not evaluated.

Output (JSON): `violations` (a function's call denied, a forbidden scenario allowed,
a call the recorder could not map, an unregistered stack), `actions` (function -> IAM
actions of its allowed calls) and `scenarios`. With `--mutations`, instead, for each
deliberate policy mistake in MUTATIONS the violations it causes: a mistake the
evaluation would not notice has none.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from typing import Any, Callable

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import iam_eval  # noqa: E402
import template_policies  # noqa: E402

Policies = dict[str, list[dict[str, Any]]]


def parse_caller(caller: str) -> tuple[str, str, str | None] | None:
    parts = caller.split(".")
    if len(parts) == 2:
        return parts[0], parts[1], None
    if len(parts) == 3 and parts[2].startswith("deny-"):
        return parts[0], parts[1], parts[2][len("deny-"):]
    return None


def evaluate_log(log: dict[str, Any], policies_of: Callable[[str, dict[str, Any]], Policies]) -> dict[str, Any]:
    violations: list[str] = []
    actions: dict[str, set[str]] = {}
    scenarios: dict[str, dict[str, Any]] = {}
    cache: dict[str, Policies] = {}
    for call in log["calls"]:
        who = parse_caller(call["caller"])
        if who is None:
            continue
        function, stack, scenario = who
        label = f"{call['caller']} {call['service']}:{call['operation']}"
        if call.get("error") or not call.get("authorizations"):
            violations.append(f"{label}: the recorder could not map the call ({call.get('error', 'no requests')})")
            continue
        if stack not in log["stacks"]:
            violations.append(f"{label}: stack {stack} was never registered (POST /_emulator/calls/stacks)")
            continue
        if stack not in cache:
            cache[stack] = policies_of(stack, log["stacks"][stack]["parameters"])
        statements = cache[stack].get(function)
        if statements is None:
            violations.append(f"{label}: no function {function} in the template")
            continue
        for request in call["authorizations"]:
            decision = iam_eval.evaluate(statements, request)
            if scenario is not None:
                entry = scenarios.setdefault(f"{function}/{scenario}", {"denied": [], "allowed": []})
                entry["denied" if not decision.allowed else "allowed"].append(
                    f"{request['action']} {request['resource']} ({decision.effect} {decision.statements})")
            elif decision.allowed:
                actions.setdefault(function, set()).add(request["action"])
            else:
                violations.append(
                    f"{label}: {request['action']} on {request['resource']} is {decision.effect} "
                    f"{decision.statements} (context {json.dumps(request.get('context', {}), sort_keys=True)})")
    for name, entry in sorted(scenarios.items()):
        if not entry["denied"]:
            violations.append(f"forbidden scenario {name} was allowed: {entry['allowed']}")
    return {"violations": violations, "actions": {f: sorted(a) for f, a in sorted(actions.items())},
            "scenarios": scenarios}


# ------------------------------------------------------------------ mutations
def _statement(policies: Policies, function: str, sid: str) -> dict[str, Any]:
    for s in policies[function]:
        if s.get("Sid") == sid:
            return s
    raise KeyError(f"{function} has no statement {sid}")


def _drop_condition_key(function: str, sid: str, key: str) -> Callable[[Policies], None]:
    def mutate(policies: Policies) -> None:
        condition = _statement(policies, function, sid)["Condition"]
        for operator in list(condition):
            condition[operator].pop(key, None)
            if not condition[operator]:
                del condition[operator]
    return mutate


def _set(function: str, sid: str, element: str, value: Any) -> Callable[[Policies], None]:
    def mutate(policies: Policies) -> None:
        _statement(policies, function, sid)[element] = value
    return mutate


def _remove(function: str, sid: str) -> Callable[[Policies], None]:
    def mutate(policies: Policies) -> None:
        policies[function] = [s for s in policies[function] if s.get("Sid") != sid]
    return mutate


def _rename_request_tag(function: str, sid: str) -> Callable[[Policies], None]:
    def mutate(policies: Policies) -> None:
        condition = _statement(policies, function, sid)["Condition"]["StringEquals"]
        condition["aws:RequestTag/managedby"] = condition.pop("aws:RequestTag/managed-by")
    return mutate


# Each: a mistake someone could make in template.yaml, and what catches it.
MUTATIONS: dict[str, tuple[str, Callable[[Policies], None]]] = {
    "tag-on-create-without-tagging-action": (
        "AddTags of managed-by allowed outside a Create call: an unmanaged endpoint can be adopted and deleted",
        _drop_condition_key("cost-sweeper", "TagOnCreate", "sagemaker:TaggingAction")),
    "no-opt-out-deny": (
        "the serverless-migration=exclude Deny removed: an opted-out managed endpoint can be updated",
        _remove("cost-sweeper", "DenyOptedOut")),
    "pass-any-role": (
        "iam:PassRole on any role",
        _set("cost-sweeper", "PassExecutionRole", "Resource", "*")),
    "reports-anywhere-in-bucket": (
        "the report writer may write any key of the models bucket",
        lambda p: _statement(p, "cost-sweeper", "WriteReports").__setitem__(
            "Resource", _statement(p, "cost-sweeper", "WriteReports")["Resource"].split("/")[0] + "/*")),
    "read-every-bucket": (
        "the smoke tester may read objects of any bucket",
        _set("smoke-tester", "ReadRequests", "Resource", "arn:aws:s3:::*/*")),
    "create-tag-condition-misspelt": (
        "the deployer's create condition names a tag it never sends: every deploy is denied",
        _rename_request_tag("deployer", "CreateOnlyManaged")),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--mutations", action="store_true")
    args = parser.parse_args(argv)
    log = json.load(sys.stdin)
    transformed = template_policies.transform(args.template)

    def policies_of(stack: str, parameters: dict[str, Any]) -> Policies:
        return template_policies.function_policies(transformed, stack, args.region, parameters)

    if not args.mutations:
        json.dump(evaluate_log(log, policies_of), sys.stdout, indent=1)
        return 0
    results = {}
    for name, (what, mutate) in MUTATIONS.items():
        def mutated(stack: str, parameters: dict[str, Any], mutate: Callable[[Policies], None] = mutate) -> Policies:
            policies = copy.deepcopy(policies_of(stack, parameters))
            mutate(policies)
            return policies
        results[name] = {"mistake": what, "violations": evaluate_log(log, mutated)["violations"]}
    json.dump(results, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

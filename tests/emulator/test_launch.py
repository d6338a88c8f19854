#!/usr/bin/env python3
"""Self-check of the SageMaker emulator against a running instance (no pytest).

    .venv/bin/python tests/emulator/test_launch.py --endpoint http://127.0.0.1:5199

Every check uses its own name prefix plus a per-run suffix, so the script can
run repeatedly against one server. It runs in manual settle mode and restores
the server's policy afterwards. Prints "N passed, M failed" and exits 1 when
anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from selfcheck_support import (  # noqa: E402
    ACCOUNT, CHECKS, PATTERN, REGION, ROLE, RUN, Ctx, arn, check, expect_error, n,
)
import selfcheck_crash  # noqa: E402,F401  (registers its checks)
import selfcheck_pause  # noqa: E402,F401  (registers its checks)

# ---------------------------------------------------------------------------
@check
def health(c: Ctx) -> None:
    code, out = c.control("GET", "health")
    assert code == 200 and out["status"] == "ok", out
    assert out["moto_version"], out
    code, out = c.control("GET", "nope")
    assert code == 404, (code, out)


@check
def update_endpoint_errors(c: Ctx) -> None:
    p = "upderr"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    ep = n(p, "e")
    expect_error(c.sm.update_endpoint, f'Could not find endpoint "{arn("endpoint", ep)}".',
                 EndpointName=ep, EndpointConfigName=cfg)
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    assert c.status(ep) == "Creating"
    for status in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"):
        c.set_status(ep, status)
        expect_error(c.sm.update_endpoint, f'Cannot update in-progress endpoint "{arn("endpoint", ep)}".',
                     EndpointName=ep, EndpointConfigName=cfg)
    c.set_status(ep, "InService")
    missing = n(p, "missing")
    expect_error(c.sm.update_endpoint,
                 f'Could not find endpoint configuration "{arn("endpoint-config", missing)}".',
                 EndpointName=ep, EndpointConfigName=missing)
    sls = c.serverless_config(n(p, "sls"), m)
    msg = expect_error(c.sm.update_endpoint, EndpointName=ep, EndpointConfigName=sls,
                       contains="real-time endpoint to a serverless endpoint is not supported")
    assert "serverless" in msg
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointConfigName"] == cfg and d["EndpointStatus"] == "InService", d


@check
def update_endpoint_success(c: Ctx) -> None:
    p = "updok"
    m = c.model(n(p, "m"))
    s1 = c.serverless_config(n(p, "s1"), m, mem=2048, mx=5)
    s2 = c.serverless_config(n(p, "s2"), m, mem=4096, mx=10, prov=2)
    inst = c.instance_config(n(p, "i"), m)
    ep = n(p, "e")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=s1)
    c.set_status(ep, "InService")
    before = c.sm.describe_endpoint(EndpointName=ep)
    time.sleep(0.05)
    out = c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=s2,
                               RetainAllVariantProperties=False,
                               ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}])
    assert out["EndpointArn"] == arn("endpoint", ep), out
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "Updating", d
    assert d["EndpointConfigName"] == s2, d
    assert d["LastModifiedTime"] > before["LastModifiedTime"], (d, before)
    assert d["CreationTime"] == before["CreationTime"]
    sc = d["ProductionVariants"][0]["CurrentServerlessConfig"]
    assert sc == {"MemorySizeInMB": 4096, "MaxConcurrency": 10, "ProvisionedConcurrency": 2}, sc
    c.set_status(ep, "InService")
    # serverless -> instance-based is allowed (one way)
    c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=inst)
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointConfigName"] == inst and d["EndpointStatus"] == "Updating", d
    assert "CurrentServerlessConfig" not in d["ProductionVariants"][0], d
    assert d["ProductionVariants"][0]["CurrentInstanceCount"] == 1, d
    # an endpoint that Failed can only be deleted (as on AWS)
    c.set_status(ep, "Failed", "boom")
    expect_error(c.sm.update_endpoint,
                 f'Cannot update failed endpoint "{arn("endpoint", ep)}". DeleteEndpoint is the only '
                 "operation that can be performed on a failed endpoint.",
                 EndpointName=ep, EndpointConfigName=inst)
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "Failed" and d["FailureReason"] == "boom", d
    c.sm.delete_endpoint(EndpointName=ep)


@check
def create_existing_fails(c: Ctx) -> None:
    p = "dup"
    m = c.model(n(p, "m"))
    expect_error(c.model, f'Cannot create already existing model "{arn("model", m)}".', name=m)
    cfg = c.instance_config(n(p, "c"), m)
    expect_error(c.serverless_config,
                 f'Cannot create already existing endpoint configuration "{arn("endpoint-config", cfg)}".',
                 name=cfg, model=m)
    # the original config was not overwritten
    pv = c.sm.describe_endpoint_config(EndpointConfigName=cfg)["ProductionVariants"][0]
    assert pv["InstanceType"] == "ml.m5.large", pv
    ep = n(p, "e")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    expect_error(c.sm.create_endpoint, f'Cannot create already existing endpoint "{arn("endpoint", ep)}".',
                 EndpointName=ep, EndpointConfigName=cfg)
    # after a delete the name is free again
    c.sm.delete_endpoint(EndpointName=ep)
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)


@check
def concurrent_create_endpoint(c: Ctx) -> None:
    p = "race"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    ep = n(p, "e")
    clients = [c.client() for _ in range(10)]
    barrier = threading.Barrier(10)

    def attempt(client: Any) -> str:
        barrier.wait()
        try:
            client.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
            return "ok"
        except ClientError as err:
            return err.response["Error"]["Message"]

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(attempt, clients))
    assert results.count("ok") == 1, results
    want = f'Cannot create already existing endpoint "{arn("endpoint", ep)}".'
    assert all(r == want for r in results if r != "ok"), results


@check
def name_rules(c: Ctx) -> None:
    p = "name"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)

    def err(value: str, path: str) -> str:
        return (f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {PATTERN}")

    for bad in ("bad_name", "-lead", "trail-", "dot.name", "sp ace", ""):
        expect_error(c.model, err(bad, "modelName"), name=bad)
        expect_error(c.instance_config, err(bad, "endpointConfigName"), name=bad, model=m)
        expect_error(c.sm.create_endpoint, err(bad, "endpointName"), EndpointName=bad, EndpointConfigName=cfg)
        expect_error(c.sm.describe_endpoint, err(bad, "endpointName"), EndpointName=bad)
    long = "a" * 64
    msg = expect_error(c.sm.create_endpoint, EndpointName=long, EndpointConfigName=cfg,
                       contains="2 validation errors detected: ")
    assert "Member must have length less than or equal to 63" in msg, msg
    assert f"Member must satisfy regular expression pattern: {PATTERN}" in msg, msg
    # valid edge cases
    for good in ("a", f"a--{RUN}", ("b" + RUN + "x" * 63)[:63]):
        c.sm.create_endpoint(EndpointName=good, EndpointConfigName=cfg)
        c.sm.delete_endpoint(EndpointName=good)


@check
def serverless_ranges(c: Ctx) -> None:
    p = "sls"
    m = c.model(n(p, "m"))
    path = "productionVariants.1.member.serverlessConfig"
    cases = [
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 0}, f"Value '0' at '{path}.maxConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 201}, f"Value '201' at '{path}.maxConcurrency' failed to satisfy constraint: Member must have value less than or equal to 200"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 0}, f"Value '0' at '{path}.provisionedConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ({"MemorySizeInMB": 2048, "MaxConcurrency": 200, "ProvisionedConcurrency": 201}, f"Value '201' at '{path}.provisionedConcurrency' failed to satisfy constraint: Member must have value less than or equal to 200"),
        ({"MemorySizeInMB": 512, "MaxConcurrency": 5}, f"Value '512' at '{path}.memorySizeInMB' failed to satisfy constraint: Member must have value greater than or equal to 1024"),
        ({"MemorySizeInMB": 7168, "MaxConcurrency": 5}, f"Value '7168' at '{path}.memorySizeInMB' failed to satisfy constraint: Member must have value less than or equal to 6144"),
        ({"MemorySizeInMB": 2048}, f"Value null at '{path}.maxConcurrency' failed to satisfy constraint: Member must not be null"),
    ]
    for i, (sc, want) in enumerate(cases):
        expect_error(c.sm.create_endpoint_config, "1 validation error detected: " + want,
                     EndpointConfigName=n(p, f"r{i}"),
                     ProductionVariants=[{"VariantName": "v", "ModelName": m, "ServerlessConfig": sc}])
    expect_error(c.serverless_config, name=n(p, "mem"), model=m, mem=1500,
                 message="Value '1500' at 'MemorySizeInMB' failed to satisfy constraint: Member must "
                         "satisfy enum value set: [1024, 2048, 3072, 4096, 5120, 6144]")
    expect_error(c.serverless_config, name=n(p, "pgtm"), model=m, mx=2, prov=3,
                 contains="ProvisionedConcurrency (3) must be less than or equal to MaxConcurrency (2)")
    sls_variant = {"VariantName": "a", "ModelName": m, "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1}}
    inst_variant = {"VariantName": "b", "ModelName": m, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    expect_error(c.sm.create_endpoint_config, EndpointConfigName=n(p, "mix"),
                 ProductionVariants=[sls_variant, inst_variant], contains="cannot be mixed")
    expect_error(c.sm.create_endpoint_config, EndpointConfigName=n(p, "two"),
                 ProductionVariants=[sls_variant, dict(sls_variant, VariantName="c")],
                 contains="must have exactly one production variant")
    for name in (n(p, "mix"), n(p, "two"), n(p, "pgtm"), n(p, "r0")):  # nothing was stored
        expect_error(c.sm.describe_endpoint_config, EndpointConfigName=name, contains="Could not find")
    # valid extremes
    for i, (mem, mx, prov) in enumerate([(1024, 1, 1), (6144, 200, 200), (3072, 10, None)]):
        cfg = c.serverless_config(n(p, f"ok{i}"), m, mem=mem, mx=mx, prov=prov)
        sc = c.sm.describe_endpoint_config(EndpointConfigName=cfg)["ProductionVariants"][0]["ServerlessConfig"]
        assert sc["MemorySizeInMB"] == mem and sc["MaxConcurrency"] == mx, sc
    # two instance variants are still fine
    c.sm.create_endpoint_config(EndpointConfigName=n(p, "inst2"),
                                ProductionVariants=[inst_variant, dict(inst_variant, VariantName="c")])


@check
def lifecycle_manual(c: Ctx) -> None:
    p = "life"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    ep = n(p, "e")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    time.sleep(0.3)
    assert c.status(ep) == "Creating"

    def listed(status: str) -> list[str]:
        pages = c.sm.get_paginator("list_endpoints").paginate(StatusEquals=status, NameContains=f"{p}-{RUN}")
        return [e["EndpointName"] for page in pages for e in page["Endpoints"]]

    assert listed("Creating") == [ep] and listed("InService") == [], (listed("Creating"), listed("InService"))
    out = c.set_status(ep, "InService")
    assert out["EndpointStatus"] == "InService", out
    assert c.status(ep) == "InService" and listed("InService") == [ep] and listed("Creating") == []
    c.set_status(ep, "Failed", "The primary container for production variant AllTraffic did not pass the ping health check.")
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "Failed", d
    assert d["FailureReason"].startswith("The primary container"), d
    assert listed("Failed") == [ep]
    c.set_status(ep, "InService")
    assert "FailureReason" not in c.sm.describe_endpoint(EndpointName=ep)
    code, out = c.control("POST", f"endpoints/{ep}/status", {"status": "Sleeping"})
    assert code == 400, (code, out)
    code, out = c.control("POST", f"endpoints/{n(p, 'none')}/status", {"status": "InService"})
    assert code == 404, (code, out)
    code, out = c.control("GET", f"endpoints/{ep}")
    assert code == 200 and out["EndpointStatus"] == "InService", out
    # delete is immediate
    c.sm.delete_endpoint(EndpointName=ep)
    expect_error(c.sm.describe_endpoint, f'Could not find endpoint "{arn("endpoint", ep)}".', EndpointName=ep)
    expect_error(c.sm.delete_endpoint, f'Could not find endpoint "{arn("endpoint", ep)}".', EndpointName=ep)


@check
def cloudwatch_over_rpc_v2_cbor(c: Ctx) -> None:
    """PutMetricData / GetMetricData as the Rust SDK sends them (CBOR, gzip)."""
    import gzip
    import urllib.request

    import cbor_protocol as cbor

    def call(op: str, body: dict, compress: bool = False) -> tuple[int, Any]:
        data = cbor.encode(body)
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/monitoring/aws4_request, "
                                    "SignedHeaders=host, Signature=x"}
        if compress:
            data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
        request = urllib.request.Request(f"{c.url}/service/GraniteServiceVersion20100801/operation/{op}",
                                         data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
                return response.status, cbor.decode(response.read())
        except urllib.error.HTTPError as err:
            return err.code, cbor.decode(err.read())

    now = int(time.time())
    dims = [{"Name": "EndpointName", "Value": n("cbor", "e")}, {"Name": "VariantName", "Value": "AllTraffic"}]
    code, _ = call("PutMetricData", {"Namespace": "AWS/SageMaker", "MetricData": [
        {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": now - 3600, "Value": 7}]},
        compress=True)
    assert code == 200, code
    query = {"Id": "q0", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                                                   "Dimensions": dims}, "Period": 86400, "Stat": "Sum"}}
    code, out = call("GetMetricData", {"MetricDataQueries": [query], "StartTime": now - 86400, "EndTime": now})
    assert code == 200, (code, out)
    result = out["MetricDataResults"][0]
    assert result["Id"] == "q0" and result["Values"] == [7.0], out
    code, out = call("GetMetricData", {"StartTime": now, "EndTime": now - 1})
    assert code == 400 and "__type" in out, (code, out)


@check
def backdated_creation_time(c: Ctx) -> None:
    p = "backdate"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    ep = n(p, "e")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    code, out = c.control("POST", f"endpoints/{ep}/creation-time", {"creation_time": "2026-01-02T03:04:05Z"})
    assert code == 200, (code, out)
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["CreationTime"].isoformat().startswith("2026-01-02T03:04:05"), d["CreationTime"]
    listed = c.sm.list_endpoints(NameContains=ep)["Endpoints"]
    assert listed[0]["CreationTime"].isoformat().startswith("2026-01-02T03:04:05"), listed
    code, out = c.control("POST", f"endpoints/{ep}/creation-time", {"creation_time": "yesterday"})
    assert code == 400, (code, out)
    code, out = c.control("POST", f"endpoints/{ep}/creation-time", {"creation_time": "2026-01-02T03:04:05"})
    assert code == 400, (code, out)
    c.sm.delete_endpoint(EndpointName=ep)


@check
def lifecycle_timed(c: Ctx) -> None:
    p = "timed"
    code, before = c.control("GET", "settle")
    assert code == 200, before
    try:
        code, out = c.control("POST", "settle", {"settle_seconds": 0.6})
        assert code == 200 and out["settle_seconds"] == 0.6, out
        m = c.model(n(p, "m"))
        cfg = c.instance_config(n(p, "c"), m)
        cfg2 = c.instance_config(n(p, "c2"), m)
        ep = n(p, "e")
        c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
        assert c.status(ep) == "Creating"
        expect_error(c.sm.update_endpoint, contains="Cannot update in-progress endpoint",
                     EndpointName=ep, EndpointConfigName=cfg2)
        time.sleep(0.8)
        listed = c.sm.list_endpoints(StatusEquals="InService", NameContains=f"{p}-{RUN}")["Endpoints"]
        assert [e["EndpointName"] for e in listed] == [ep], listed
        assert c.status(ep) == "InService"
        c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=cfg2)
        assert c.status(ep) == "Updating"
        time.sleep(0.8)
        assert c.status(ep) == "InService"
        code, out = c.control("POST", "settle", {"settle_seconds": "soon"})
        assert code == 400, out
    finally:
        c.control("POST", "settle", {"settle_seconds": before["settle_seconds"]})


@check
def tags(c: Ctx) -> None:
    p = "tag"
    m = n(p, "m")
    c.sm.create_model(ModelName=m, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "x"},
                      Tags=[{"Key": "owner", "Value": "a"}])
    cfg = c.instance_config(n(p, "c"), m)
    ep = n(p, "e")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg, Tags=[{"Key": "stage", "Value": "one"}])
    for resource_arn, first in ((arn("model", m), {"owner": "a"}), (arn("endpoint", ep), {"stage": "one"})):
        got = {t["Key"]: t["Value"] for t in c.sm.list_tags(ResourceArn=resource_arn)["Tags"]}
        assert got == first, got
        c.sm.add_tags(ResourceArn=resource_arn, Tags=[{"Key": "stage", "Value": "two"}, {"Key": "k", "Value": "v"}])
        c.sm.add_tags(ResourceArn=resource_arn, Tags=[{"Key": "stage", "Value": "three"}])
        tags_now = c.sm.list_tags(ResourceArn=resource_arn)["Tags"]
        keys = [t["Key"] for t in tags_now]
        assert sorted(keys) == sorted(set(keys)), tags_now  # no duplicate keys
        got = {t["Key"]: t["Value"] for t in tags_now}
        assert got == {**first, "stage": "three", "k": "v"}, got
        c.sm.delete_tags(ResourceArn=resource_arn, TagKeys=["k", "stage"])
        got = {t["Key"]: t["Value"] for t in c.sm.list_tags(ResourceArn=resource_arn)["Tags"]}
        assert got == {k: v for k, v in first.items() if k != "stage"}, got
    gone = arn("endpoint", n(p, "gone"))
    expect_error(c.sm.add_tags, ResourceArn=gone, Tags=[{"Key": "a", "Value": "b"}], contains=gone)
    expect_error(c.sm.list_tags, ResourceArn=gone, contains=gone)


@check
def list_order_and_pagination(c: Ctx) -> None:
    p = "order"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    names = [n(p, f"e{i}") for i in range(4)]
    for name in names:
        c.sm.create_endpoint(EndpointName=name, EndpointConfigName=cfg)
        time.sleep(0.01)
    got = [e["EndpointName"] for e in c.sm.list_endpoints(NameContains=f"{p}-{RUN}")["Endpoints"]]
    assert got == names[::-1], got
    got = [e["EndpointName"] for e in
           c.sm.list_endpoints(NameContains=f"{p}-{RUN}", SortOrder="Ascending")["Endpoints"]]
    assert got == names, got
    got = [e["EndpointName"] for e in
           c.sm.list_endpoints(NameContains=f"{p}-{RUN}", SortBy="Name", SortOrder="Ascending")["Endpoints"]]
    assert got == sorted(names), got
    pages = c.sm.get_paginator("list_endpoints").paginate(NameContains=f"{p}-{RUN}", PaginationConfig={"PageSize": 3})
    got = [e["EndpointName"] for page in pages for e in page["Endpoints"]]
    assert got == names[::-1], got
    cfg2 = c.instance_config(n(p, "c2"), m)
    got = [e["EndpointConfigName"] for e in
           c.sm.list_endpoint_configs(NameContains=f"{p}-{RUN}")["EndpointConfigs"]]
    assert got == [cfg2, cfg], got


@check
def search_endpoints_pages_and_matches_describe(c: Ctx) -> None:
    p = "search"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    names = [n(p, f"e{i}") for i in range(3)]
    for name in names:
        c.sm.create_endpoint(EndpointName=name, EndpointConfigName=cfg, Tags=[{"Key": "k", "Value": name}])
    expression = {"Filters": [{"Name": "EndpointName", "Operator": "Contains", "Value": f"{p}-{RUN}"}]}
    first = c.sm.search(Resource="Endpoint", SearchExpression=expression, MaxResults=2)
    assert len(first["Results"]) == 2 and first.get("NextToken"), first
    rest = c.sm.search(Resource="Endpoint", SearchExpression=expression, MaxResults=2,
                       NextToken=first["NextToken"])
    assert len(rest["Results"]) == 1 and not rest.get("NextToken"), rest
    records = {r["Endpoint"]["EndpointName"]: r["Endpoint"] for r in first["Results"] + rest["Results"]}
    assert sorted(records) == sorted(names), records
    described = c.sm.describe_endpoint(EndpointName=names[0])
    record = records[names[0]]
    for key in ("EndpointArn", "EndpointConfigName", "EndpointStatus", "CreationTime", "LastModifiedTime",
                "ProductionVariants"):
        assert record[key] == described[key], (key, record[key], described[key])
    assert record["Tags"] == [{"Key": "k", "Value": names[0]}], record
    expect_error(lambda: c.sm.search(Resource="Endpoint", MaxResults=101), contains="maxResults")
    bad = {"Filters": [{"Name": "EndpointStatus", "Operator": "Equals", "Value": "InService"}]}
    expect_error(lambda: c.sm.search(Resource="Endpoint", SearchExpression=bad), contains="EndpointName")


@check
def not_found_messages(c: Ctx) -> None:
    p = "nf"
    name = n(p, "x")
    expect_error(c.sm.describe_model, f'Could not find model "{arn("model", name)}".', ModelName=name)
    expect_error(c.sm.delete_model, f'Could not find model "{arn("model", name)}".', ModelName=name)
    cfg_msg = f'Could not find endpoint configuration "{arn("endpoint-config", name)}".'
    expect_error(c.sm.describe_endpoint_config, cfg_msg, EndpointConfigName=name)
    expect_error(c.sm.delete_endpoint_config, cfg_msg, EndpointConfigName=name)
    expect_error(c.sm.create_endpoint, cfg_msg, EndpointName=name, EndpointConfigName=name)
    expect_error(c.instance_config, f'Could not find model "{arn("model", name)}".', name=name, model=name)
    # a deleted model's name can be reused
    m = c.model(n(p, "m"))
    c.sm.delete_model(ModelName=m)
    c.model(m)


# ---------------------------------------------------------------------------
# SageMaker Runtime InvokeEndpoint (runtime_patches.py)
# ---------------------------------------------------------------------------
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.sagemaker/"


def _status(err: ClientError) -> int:
    return err.response["ResponseMetadata"]["HTTPStatusCode"]


@check
def invoke_queue_order_and_repeat(c: Ctx) -> None:
    ep = c.live_endpoint("inv", variant="primary-v")
    out = c.queue_results(ep, [
        {"Body": '{"n": 1}', "ContentType": "application/json"},
        {"Body": "2,two", "ContentType": "text/csv", "CustomAttributes": "attr=2",
         "InvokedProductionVariant": "other"},
        {"Body": '{"n": 3}'},
    ])
    assert len(out["Pending"]) == 3 and out["PerEndpoint"], out
    # identical requests each pop the next result (moto cached the first one)
    body, r = c.invoke(ep, b'{"same": true}', ContentType="application/json")
    assert body == b'{"n": 1}' and r["ContentType"] == "application/json", r
    assert r["InvokedProductionVariant"] == "primary-v", r  # default: the endpoint's variant
    assert "CustomAttributes" not in r, r
    body, r = c.invoke(ep, b'{"same": true}', ContentType="application/json")
    assert body == b"2,two" and r["ContentType"] == "text/csv", r
    assert r["CustomAttributes"] == "attr=2" and r["InvokedProductionVariant"] == "other", r
    # queue empty: the last result is repeated ("N warm calls")
    for _ in range(4):
        body, r = c.invoke(ep, b'{"same": true}', ContentType="application/json")
        assert body == b'{"n": 3}' and r["ContentType"] == "application/json", (body, r)
    code, view = c.control("GET", f"endpoints/{ep}/invoke-results")
    assert code == 200 and view["Pending"] == [] and view["Last"]["Body"] == '{"n": 3}', view
    # appending goes after what is left; replace drops the rest
    c.queue_results(ep, [{"Body": "a"}, {"Body": "b"}])
    c.queue_results(ep, [{"Body": "c"}])
    assert c.invoke(ep)[0] == b"a"
    c.queue_results(ep, [{"Body": "x"}, {"Body": "y"}], replace=True)
    assert [c.invoke(ep)[0] for _ in range(3)] == [b"x", b"y", b"y"]
    # binary bodies
    c.queue_results(ep, [{"BodyBase64": "AAH/", "ContentType": "application/octet-stream"}])
    body, r = c.invoke(ep)
    assert body == b"\x00\x01\xff" and r["ContentType"] == "application/octet-stream", (body, r)
    calls = c.invocations(ep)
    assert len(calls) == 11 and all(i["StatusCode"] == 200 for i in calls), calls


@check
def invoke_concurrent_pops(c: Ctx) -> None:
    ep = c.live_endpoint("invpar")
    c.queue_results(ep, [{"Body": str(i)} for i in range(10)])
    clients = [c.runtime_client() for _ in range(10)]
    barrier = threading.Barrier(10)

    def call(client: Any) -> bytes:
        barrier.wait()
        return client.invoke_endpoint(EndpointName=ep, Body=b"{}")["Body"].read()

    with ThreadPoolExecutor(10) as pool:
        got = sorted(pool.map(call, clients), key=int)
    assert got == [str(i).encode() for i in range(10)], got


@check
def invoke_model_error(c: Ctx) -> None:
    ep = c.live_endpoint("inverr")
    c.queue_results(ep, [
        {"Error": {"Code": "ModelError", "Status": 424,
                   "Message": 'Received server error (500) from primary with message "boom". '
                              "See the logs."}},
        {"Error": {"Code": "ModelError", "OriginalStatusCode": 400, "OriginalMessage": '{"error": "bad input"}'}},
        {"Body": "recovered"},
    ])
    try:
        c.rt.invoke_endpoint(EndpointName=ep, Body=b"{}")
        raise AssertionError("expected ModelError")
    except c.rt.exceptions.ModelError as err:  # boto3 parsed it as the modeled error
        assert _status(err) == 424, err.response
        assert err.response["Error"]["Code"] == "ModelError", err.response
        assert err.response["Error"]["Message"].startswith("Received server error (500) from primary"), err.response
        assert err.response["OriginalStatusCode"] == 500, err.response
        assert err.response["OriginalMessage"] == "boom", err.response
        assert err.response["LogStreamArn"] == (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{ep}"), err.response
        headers = err.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == "ModelError" + ERROR_TYPE_SUFFIX, headers
    err = c.invoke_error(ep)
    assert isinstance(err, c.rt.exceptions.ModelError), type(err)
    assert err.response["OriginalStatusCode"] == 400, err.response
    assert err.response["OriginalMessage"] == '{"error": "bad input"}', err.response
    assert err.response["Error"]["Message"] == (
        'Received client error (400) from primary with message "{"error": "bad input"}". '
        f"See https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        f"#logEventViewer:group=/aws/sagemaker/Endpoints/{ep} in account {ACCOUNT} for more information."
    ), err.response["Error"]["Message"]
    assert c.invoke(ep)[0] == b"recovered"
    # the last result repeats even when it is an error
    c.queue_results(ep, [{"Error": {"Code": "ModelError"}}])
    for _ in range(3):
        assert isinstance(c.invoke_error(ep), c.rt.exceptions.ModelError)


@check
def invoke_other_errors(c: Ctx) -> None:
    ep = c.live_endpoint("invcodes")
    cases = [  # queued error, expected code, HTTP status, boto3 modeled class or None
        ({"Code": "ThrottlingException"}, "ThrottlingException", 400, None),
        ({"Code": "ThrottlingException", "Status": 429, "Message": "Too many requests"},
         "ThrottlingException", 429, None),
        ({"Code": "ServiceUnavailable"}, "ServiceUnavailable", 503, "ServiceUnavailable"),
        ({"Code": "InternalFailure"}, "InternalFailure", 500, "InternalFailure"),
        ({"Code": "ValidationError", "Message": "Invalid input"}, "ValidationError", 400, "ValidationError"),
        ({"Code": "ModelNotReadyException"}, "ModelNotReadyException", 429, "ModelNotReadyException"),
    ]
    c.queue_results(ep, [{"Error": e} for e, *_ in cases])
    for queued, code, status, modeled in cases:
        err = c.invoke_error(ep)
        assert err.response["Error"]["Code"] == code, err.response
        assert _status(err) == status, (code, err.response)
        assert err.response["Error"]["Message"], err.response
        if "Message" in queued:
            assert err.response["Error"]["Message"] == queued["Message"], err.response
        if modeled:
            assert isinstance(err, getattr(c.rt.exceptions, modeled)), (code, type(err))
        headers = err.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == code + ERROR_TYPE_SUFFIX, headers
    calls = c.invocations(ep)
    assert [(i["StatusCode"], i["ErrorCode"]) for i in calls] == [(s, cd) for _, cd, s, _ in cases], calls


@check
def invoke_unknown_endpoint(c: Ctx) -> None:
    name = n("invnf", "e")
    c.queue_results(name, [{"Body": "never"}])  # queuing before the endpoint exists is allowed
    err = c.invoke_error(name)
    assert isinstance(err, c.rt.exceptions.ValidationError), type(err)
    assert _status(err) == 400, err.response
    assert err.response["Error"]["Message"] == f"Endpoint {name} of account {ACCOUNT} not found.", err.response
    code, view = c.control("GET", f"endpoints/{name}/invoke-results")
    assert [r["Body"] for r in view["Pending"]] == ["never"], view  # rejected calls pop nothing
    calls = c.invocations(name)
    assert len(calls) == 1 and calls[0]["StatusCode"] == 400 and calls[0]["ErrorCode"] == "ValidationError", calls
    # a deleted endpoint is unknown again
    ep = c.live_endpoint("invdel")
    c.sm.delete_endpoint(EndpointName=ep)
    err = c.invoke_error(ep)
    assert err.response["Error"]["Message"] == f"Endpoint {ep} of account {ACCOUNT} not found.", err.response


@check
def invoke_not_in_service(c: Ctx) -> None:
    p = "invns"
    m = c.model(n(p, "m"))
    cfg = c.instance_config(n(p, "c"), m)
    cfg2 = c.instance_config(n(p, "c2"), m)
    ep = n(p, "e")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    c.queue_results(ep, [{"Body": "first"}, {"Body": "second"}])
    want = f"Endpoint {ep} of account {ACCOUNT} is not in service"
    for status in ("Creating", "Failed", "OutOfService"):
        if status != "Creating":
            c.set_status(ep, status)
        else:
            assert c.status(ep) == "Creating"
        err = c.invoke_error(ep)
        assert isinstance(err, c.rt.exceptions.ValidationError), (status, type(err))
        assert _status(err) == 400, err.response
        assert err.response["Error"]["Message"].startswith(want), err.response
        assert status in err.response["Error"]["Message"], err.response
    # never InService, so an Updating endpoint has no fleet to answer
    c.set_status(ep, "Updating")
    assert c.invoke_error(ep).response["Error"]["Message"].startswith(want)
    c.set_status(ep, "InService")
    assert c.invoke(ep)[0] == b"first"  # rejected calls popped nothing
    # an endpoint that has served keeps serving while it is updated (no availability loss)
    c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=cfg2)
    assert c.status(ep) == "Updating"
    assert c.invoke(ep)[0] == b"second"
    c.set_status(ep, "Failed")
    assert c.invoke_error(ep).response["Error"]["Message"].startswith(want)
    codes = [i["StatusCode"] for i in c.invocations(ep)]
    assert codes == [400, 400, 400, 400, 200, 200, 400], codes


@check
def invoke_delay(c: Ctx) -> None:
    ep = c.live_endpoint("invdelay")
    c.queue_results(ep, [{"Body": "cold", "DelayMs": 600}, {"Body": "warm"}])
    t0 = time.monotonic()
    assert c.invoke(ep)[0] == b"cold"
    cold = time.monotonic() - t0
    t0 = time.monotonic()
    assert c.invoke(ep)[0] == b"warm"
    warm = time.monotonic() - t0
    assert cold >= 0.6 and warm < 0.5, (cold, warm)
    c.queue_results(ep, [{"Error": {"Code": "ModelError"}, "DelayMs": 300}])
    t0 = time.monotonic()
    assert isinstance(c.invoke_error(ep), c.rt.exceptions.ModelError)
    assert time.monotonic() - t0 >= 0.3


@check
def invoke_invocation_log(c: Ctx) -> None:
    ep = c.live_endpoint("invlog")
    c.queue_results(ep, [{"Body": "ok"}])
    c.invoke(ep, b'{"q": 1}', ContentType="application/json", Accept="application/json",
             CustomAttributes="trace=1", InferenceId="inf-1")
    c.invoke(ep, b"\xff\x00\x01", ContentType="application/x-image")
    c.invoke(ep, b"a=1&b=2", ContentType="application/x-www-form-urlencoded")
    multipart = b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--B--\r\n'
    c.invoke(ep, multipart, ContentType="multipart/form-data; boundary=B")
    calls = c.invocations(ep)
    assert len(calls) == 4, calls
    first = calls[0]
    assert first["ContentType"] == "application/json" and first["Accept"] == "application/json", first
    assert first["Body"] == '{"q": 1}' and first["StatusCode"] == 200, first
    assert first["CustomAttributes"] == "trace=1" and first["InferenceId"] == "inf-1", first
    assert first["Time"].endswith("Z"), first
    assert "BodyBase64" not in first
    assert calls[1]["BodyBase64"] == "/wAB" and calls[1]["ContentType"] == "application/x-image", calls[1]
    assert calls[2]["Body"] == "a=1&b=2" and calls[2]["ContentType"] == "application/x-www-form-urlencoded", calls[2]
    assert calls[3]["Body"] == multipart.decode() and calls[3]["ContentType"].startswith("multipart/form-data"), calls[3]
    code, out = c.control("DELETE", f"endpoints/{ep}/invocations")
    assert code == 200 and c.invocations(ep) == [], out
    code, out = c.control("GET", f"endpoints/{n('invlog', 'never-called')}/invocations")
    assert code == 200 and out["Invocations"] == [], out


@check
def invoke_results_validation(c: Ctx) -> None:
    ep = n("invval", "e")
    bad = [
        {"results": "nope"},
        {"results": [1]},
        {"results": [{"Error": {"Status": 500}}]},
        {"results": [{"Error": {"Code": "InternalFailure", "Status": 200}}]},
        {"results": [{"Error": "ModelError"}]},
        {"results": [{"BodyBase64": "***"}]},
        {"results": [{"Body": "x", "BodyBase64": "AA=="}]},
        {"results": [{"Body": 5}]},
        {"results": [{"Body": "x", "DelayMs": -1}]},
        {"results": [{"Body": "x"}], "replace": "yes"},
    ]
    for body in bad:
        code, out = c.control("POST", f"endpoints/{ep}/invoke-results", body)
        assert code == 400 and out.get("error"), (body, code, out)
    code, out = c.control("GET", f"endpoints/{ep}/invoke-results")
    assert code == 200 and out["Pending"] == [] and not out["PerEndpoint"], out  # nothing half-applied
    code, out = c.control("PUT", f"endpoints/{ep}/invoke-results", {})
    assert code in (404, 405), (code, out)


@check
def invoke_without_queue_keeps_moto_global_queue(c: Ctx) -> None:
    ep = c.live_endpoint("invglob")
    req = urllib.request.Request(
        f"{c.url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": [{"Body": f"global-{RUN}", "ContentType": "text/plain"}]}).encode(),
        method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201 or resp.status == 200, resp.status
    body, r = c.invoke(ep, f"unique-{RUN}")
    assert body == f"global-{RUN}".encode() and r["ContentType"] == "text/plain", (body, r)
    # moto's caching of an identical request is kept for such endpoints
    assert c.invoke(ep, f"unique-{RUN}")[0] == f"global-{RUN}".encode()
    # a per-endpoint queue takes over; DELETE gives the endpoint back to moto
    c.queue_results(ep, [{"Body": "mine"}])
    assert c.invoke(ep, f"unique-{RUN}")[0] == b"mine"
    code, out = c.control("DELETE", f"endpoints/{ep}/invoke-results")
    assert code == 200 and not out["PerEndpoint"], out
    assert c.invoke(ep, f"unique-{RUN}")[0] == f"global-{RUN}".encode()
    # replace with an empty list does the same
    c.queue_results(ep, [{"Body": "mine"}])
    c.queue_results(ep, [], replace=True)
    assert c.invoke(ep, f"unique-{RUN}")[0] == f"global-{RUN}".encode()


@check
def request_counter(c: Ctx) -> None:
    # Counts by service and operation (benchmarks read them); control calls are not counted.
    def count(view: dict, service: str, op: str) -> int:
        return view["requests"].get(service, {}).get(op, 0)

    _, before = c.control("GET", "requests")
    c.sm.list_endpoints(MaxResults=1)
    c.sm.list_endpoints(MaxResults=1)
    expect_error(c.sm.describe_endpoint, EndpointName=n("reqcount", "missing"))
    _, after = c.control("GET", "requests")
    assert count(after, "sagemaker", "ListEndpoints") - count(before, "sagemaker", "ListEndpoints") == 2, after
    assert count(after, "sagemaker", "DescribeEndpoint") - count(before, "sagemaker", "DescribeEndpoint") >= 1
    assert after["total"] >= before["total"] + 3
    assert "_emulator" not in json.dumps(after["requests"])
    status, _ = c.control("DELETE", "requests")
    assert status == 200
    _, reset = c.control("GET", "requests")
    assert count(reset, "sagemaker", "ListEndpoints") == 0, reset


# --------------------------------------------------------------------------- Price List API (price_list_api.py)
@check
def price_list_get_products(c: Ctx) -> None:
    # Filters on product attributes, pages by MaxResults, faults per caller.
    pricing = c.boto("pricing")
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-central-1"},
               {"Type": "CONTAINS", "Field": "usagetype", "Value": "ServerlessInf:Mem-"}]
    first = pricing.get_products(ServiceCode="AmazonSageMaker", Filters=filters, MaxResults=4)
    assert len(first["PriceList"]) == 4 and first.get("NextToken"), first
    rest = pricing.get_products(ServiceCode="AmazonSageMaker", Filters=filters, MaxResults=4,
                                NextToken=first["NextToken"])
    assert len(rest["PriceList"]) == 2 and not rest.get("NextToken"), rest
    usage = {json.loads(i)["product"]["attributes"]["usagetype"] for i in first["PriceList"] + rest["PriceList"]}
    assert usage == {f"EUC1-ServerlessInf:Mem-{g}GB" for g in range(1, 7)}, usage
    none = pricing.get_products(ServiceCode="AmazonEC2", Filters=filters)
    assert none["PriceList"] == [], none
    caller = n("pricing", "caller")
    status, _ = c.control("POST", "pricing/faults", {"caller": caller, "error": {"Code": "AccessDeniedException"}})
    assert status == 200
    try:
        denied = boto3.client("pricing", endpoint_url=c.url, region_name=REGION, aws_access_key_id=caller,
                              aws_secret_access_key="test",
                              config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        try:
            denied.get_products(ServiceCode="AmazonSageMaker")
            raise AssertionError("the fault was not served")
        except ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDeniedException", err.response
        # Other callers are not affected.
        assert pricing.get_products(ServiceCode="AmazonSageMaker", Filters=filters)["PriceList"]
    finally:
        c.control("DELETE", "pricing/faults")


# --------------------------------------------------------------------------- lifecycle (lifecycle.py)
def _artifact(c: Ctx, prefix: str, failure: str | None = None) -> str:
    """An S3 model artifact; `failure` marks it (x-amz-meta-emulator-failure)."""
    bucket = f"lifecycle-{RUN}"
    try:
        c.s3.create_bucket(Bucket=bucket)
    except ClientError:
        pass
    key = f"models/{prefix}/model.tar.gz"
    c.s3.put_object(Bucket=bucket, Key=key, Body=b"model",
                    Metadata={"emulator-failure": failure} if failure else {})
    return f"s3://{bucket}/{key}"


def _serverless(c: Ctx, prefix: str, what: str, failure: str | None = None, mem: int = 2048) -> str:
    model = n(prefix, f"m{what}")
    c.sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1",
        "ModelDataUrl": _artifact(c, f"{prefix}-{what}", failure)})
    return c.serverless_config(n(prefix, f"c{what}"), model, mem=mem)


def _events(c: Ctx, ep: str, after: int = 0) -> tuple[list[dict], int]:
    code, out = c.control("GET", f"events?endpoint={ep}&after={after}")
    assert code == 200, (code, out)
    return out["Events"], out["Last"]


def _statuses(events: list[dict]) -> list[str]:
    return [e["detail"]["EndpointStatus"] for e in events]


def _advance(c: Ctx, ep: str, minutes: float) -> dict:
    code, out = c.control("POST", f"endpoints/{ep}/advance", {"minutes": minutes})
    assert code == 200, (code, out)
    return out


@check
def virtual_clock_settles_only_when_advanced(c: Ctx) -> None:
    p = "vclock"
    ep = n(p, "e")
    code, out = c.control("POST", f"endpoints/{ep}/advance", {"minutes": 1})
    assert code == 404 and "lifecycle" in out["error"], (code, out)
    code, out = c.control("POST", f"endpoints/{ep}/lifecycle", {"create_minutes": 8, "update_minutes": 6})
    assert code == 200 and out["Clock"]["CreateMinutes"] == 8 and out["Clock"]["PendingUntil"] is None, out
    assert c.control("POST", f"endpoints/{ep}/lifecycle", {"create_minutes": -1})[0] == 400
    assert c.control("POST", f"endpoints/{ep}/advance", {})[0] == 400
    cfg1, cfg2 = _serverless(c, p, "1"), _serverless(c, p, "2", mem=4096)
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg1)
    # A timed settle policy does not touch an endpoint on a virtual clock.
    c.control("POST", "settle", {"settle_seconds": 0})
    try:
        assert c.status(ep) == "Creating"
    finally:
        c.control("POST", "settle", {"settle_seconds": "manual"})
    out = _advance(c, ep, 7.5)
    assert out["Events"] == [] and out["Endpoint"]["EndpointStatus"] == "Creating", out
    assert out["Clock"]["VirtualMinutes"] == 7.5 and out["Clock"]["PendingUntil"] == 8, out
    expect_error(c.sm.update_endpoint, f'Cannot update in-progress endpoint "{arn("endpoint", ep)}".',
                 EndpointName=ep, EndpointConfigName=cfg2)
    out = _advance(c, ep, 0.5)
    assert _statuses(out["Events"]) == ["IN_SERVICE"], out
    assert c.status(ep) == "InService"
    c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=cfg2)
    assert _advance(c, ep, 5)["Endpoint"]["EndpointStatus"] == "Updating"
    out = _advance(c, ep, 1)
    assert _statuses(out["Events"]) == ["IN_SERVICE"], out
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "InService" and d["EndpointConfigName"] == cfg2, d
    assert "FailureReason" not in d, d
    # Another endpoint's clock is its own.
    other = n(p, "other")
    c.control("POST", f"endpoints/{other}/lifecycle", {})
    c.sm.create_endpoint(EndpointName=other, EndpointConfigName=cfg1)
    _advance(c, ep, 60)
    assert c.status(other) == "Creating"
    code, out = c.control("GET", f"endpoints/{other}/lifecycle")
    assert code == 200 and out["Clock"]["VirtualMinutes"] == 0 and out["Clock"]["PendingUntil"] == 8, out
    # The global advance moves every opted-in clock.
    code, out = c.control("POST", "clock/advance", {"minutes": 8})
    assert code == 200 and c.status(other) == "InService", out
    assert any(e["detail"]["EndpointName"] == other for e in out["Events"]), out


@check
def virtual_clock_keeps_a_deleted_endpoint_deleting(c: Ctx) -> None:
    p = "vdelete"
    ep = n(p, "e")
    code, out = c.control("POST", f"endpoints/{ep}/lifecycle", {"delete_minutes": 3})
    assert code == 200 and out["Clock"]["DeleteMinutes"] == 3, out
    assert c.control("POST", f"endpoints/{ep}/lifecycle", {"delete_minutes": -1})[0] == 400
    c.control("POST", f"endpoints/{ep}/lifecycle", {"delete_minutes": 3})
    cfg = _serverless(c, p, "1")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    _advance(c, ep, 8)
    _, start = _events(c, ep)
    c.sm.delete_endpoint(EndpointName=ep)
    # Deleting for its minutes: described and listed, its name not free, nothing else accepted.
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "Deleting" and d["EndpointConfigName"] == cfg, d
    listed = c.sm.list_endpoints(NameContains=ep)["Endpoints"]
    assert [e["EndpointStatus"] for e in listed] == ["Deleting"], listed
    expect_error(c.sm.create_endpoint, f'Cannot create already existing endpoint "{arn("endpoint", ep)}".',
                 EndpointName=ep, EndpointConfigName=cfg)
    expect_error(c.sm.update_endpoint, f'Cannot update in-progress endpoint "{arn("endpoint", ep)}".',
                 EndpointName=ep, EndpointConfigName=cfg)
    c.sm.delete_endpoint(EndpointName=ep)  # again: nothing changes
    out = _advance(c, ep, 2.5)
    assert out["Events"] == [] and out["Endpoint"]["EndpointStatus"] == "Deleting", out
    # Gone once the minutes have passed, with no event (SageMaker sends none).
    out = _advance(c, ep, 0.5)
    assert out["Events"] == [] and out["Endpoint"] is None, out
    expect_error(c.sm.describe_endpoint, f'Could not find endpoint "{arn("endpoint", ep)}".', EndpointName=ep)
    assert _statuses(_events(c, ep, start)[0]) == ["DELETING"]
    # The name is free again; with 0 delete minutes a delete is immediate.
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
    assert c.status(ep) == "Creating"
    c.control("POST", f"endpoints/{ep}/lifecycle", {"delete_minutes": 0})
    c.sm.delete_endpoint(EndpointName=ep)
    expect_error(c.sm.describe_endpoint, f'Could not find endpoint "{arn("endpoint", ep)}".', EndpointName=ep)


@check
def marked_artifact_fails_the_create(c: Ctx) -> None:
    p = "failcreate"
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    ep = n(p, "e")
    c.control("POST", f"endpoints/{ep}/lifecycle", {"create_minutes": 10})
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=_serverless(c, p, "1", failure=reason))
    assert c.status(ep) == "Creating"
    out = _advance(c, ep, 10)
    assert _statuses(out["Events"]) == ["FAILED"], out
    assert out["Events"][0]["detail"]["FailureReason"] == reason, out
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "Failed" and d["FailureReason"] == reason, d
    # Without a virtual clock (manual policy), POST .../settle ends it the same way.
    manual = n(p, "manual")
    c.sm.create_endpoint(EndpointName=manual, EndpointConfigName=_serverless(c, p, "2", failure=reason))
    code, out = c.control("POST", f"endpoints/{manual}/settle")
    assert code == 200 and out["Settled"] and out["EndpointStatus"] == "Failed", out
    assert out["FailureReason"] == reason, out
    code, out = c.control("POST", f"endpoints/{manual}/settle")
    assert code == 200 and not out["Settled"], out
    # ... and the timed settle policy too.
    timed = n(p, "timed")
    c.control("POST", "settle", {"settle_seconds": 0})
    try:
        c.sm.create_endpoint(EndpointName=timed, EndpointConfigName=_serverless(c, p, "3", failure=reason))
        d = c.sm.describe_endpoint(EndpointName=timed)
    finally:
        c.control("POST", "settle", {"settle_seconds": "manual"})
    assert d["EndpointStatus"] == "Failed" and d["FailureReason"] == reason, d


@check
def marked_artifact_rolls_the_update_back(c: Ctx) -> None:
    p = "rollback"
    reason = "Model failed to load: the update was rolled back."
    ep = n(p, "e")
    c.control("POST", f"endpoints/{ep}/lifecycle", {"create_minutes": 4, "update_minutes": 7})
    good, bad = _serverless(c, p, "1", mem=2048), _serverless(c, p, "2", failure=reason, mem=4096)
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=good)
    _advance(c, ep, 4)
    c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=bad)
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "Updating" and d["EndpointConfigName"] == bad, d
    out = _advance(c, ep, 7)
    assert _statuses(out["Events"]) == ["IN_SERVICE"], out
    detail = out["Events"][0]["detail"]
    assert detail["EndpointConfigName"] == good and detail["FailureReason"] == reason, detail
    d = c.sm.describe_endpoint(EndpointName=ep)
    assert d["EndpointStatus"] == "InService" and d["EndpointConfigName"] == good, d
    assert d["FailureReason"] == reason, d
    assert d["ProductionVariants"][0]["CurrentServerlessConfig"]["MemorySizeInMB"] == 2048, d
    # The rolled-back endpoint keeps serving and can be updated again.
    c.queue_results(ep, [{"Body": "ok"}])
    assert c.invoke(ep)[0] == b"ok"
    c.sm.update_endpoint(EndpointName=ep, EndpointConfigName=_serverless(c, p, "3", mem=3072))
    assert "FailureReason" not in c.sm.describe_endpoint(EndpointName=ep)


@check
def state_change_event_feed(c: Ctx) -> None:
    p = "feed"
    ep = n(p, "e")
    _, start = _events(c, ep)
    c.control("POST", f"endpoints/{ep}/lifecycle", {"duplicate_events": 1})
    cfg = _serverless(c, p, "1")
    c.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg,
                         Tags=[{"Key": "managed-by", "Value": "sagemaker-serverless-pipeline"}])
    _advance(c, ep, 8)
    events, last = _events(c, ep, start)
    assert _statuses(events) == ["CREATING", "CREATING", "IN_SERVICE", "IN_SERVICE"], events
    assert events[0]["id"] == events[1]["id"] and events[0]["id"] != events[2]["id"], events
    e = events[2]
    assert e["detail-type"] == "SageMaker Endpoint State Change" and e["source"] == "aws.sagemaker", e
    assert e["account"] == ACCOUNT and e["region"] == REGION and e["version"] == "0", e
    assert e["resources"] == [arn("endpoint", ep)] and e["time"].endswith("Z"), e
    d = e["detail"]
    assert d["EndpointName"] == ep and d["EndpointArn"] == arn("endpoint", ep), d
    assert d["EndpointConfigName"] == cfg and d["Tags"] == {"managed-by": "sagemaker-serverless-pipeline"}, d
    assert isinstance(d["CreationTime"], int) and d["LastModifiedTime"] >= d["CreationTime"], d
    assert d["ProductionVariants"][0]["CurrentServerlessConfig"]["MemorySizeInMB"] == 2048, d
    assert "FailureReason" not in d, d
    # The cursor: nothing new, then only what came after.
    assert _events(c, ep, last)[0] == []
    c.set_status(ep, "Failed", "broken")
    c.sm.delete_endpoint(EndpointName=ep)
    events, _ = _events(c, ep, last)
    assert _statuses(events) == ["FAILED", "FAILED", "DELETING", "DELETING"], events
    assert events[0]["detail"]["FailureReason"] == "broken", events
    # Endpoints not opted in get their events too, once each; the feed without a filter has all.
    plain = n(p, "plain")
    c.sm.create_endpoint(EndpointName=plain, EndpointConfigName=cfg)
    c.set_status(plain, "InService")
    assert _statuses(_events(c, plain, start)[0]) == ["CREATING", "IN_SERVICE"]
    code, out = c.control("GET", f"events?after={start}")
    assert code == 200 and {e["detail"]["EndpointName"] for e in out["Events"]} >= {ep, plain}, out
    assert c.control("GET", "events?after=x")[0] == 400


@check
def s3_notifications_carry_version_and_sequencer(c: Ctx) -> None:
    sqs = c.boto("sqs")
    q = sqs.create_queue(QueueName=n("notify", "q"))["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bucket = f"notify-{RUN}"
    c.s3.create_bucket(Bucket=bucket)
    c.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    c.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": q_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".gz"}]}}}]})
    puts = [c.s3.put_object(Bucket=bucket, Key="m/model.tar.gz", Body=body) for body in (b"1", b"2")]
    c.s3.put_object(Bucket=bucket, Key="m/notes.txt", Body=b"not notified")
    c.s3.put_object(Bucket=bucket, Key="m/a b.tar.gz", Body=b"3")
    bodies = [json.loads(m["Body"]) for m in
              sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10).get("Messages", [])]
    records = [b["Records"][0] for b in bodies if "Records" in b]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "events",
                           "s3-put-model.json")) as f:
        shape = json.load(f)["Records"][0]
    for record in records:
        assert set(record) == set(shape) and set(record["s3"]["bucket"]) == set(shape["s3"]["bucket"]), record
        assert set(record["s3"]["object"]) == set(shape["s3"]["object"]), record
    objects = [r["s3"]["object"] for r in records]
    assert [o["versionId"] for o in objects[:2]] == [p["VersionId"] for p in puts], (objects, puts)
    assert objects[0]["sequencer"] < objects[1]["sequencer"], objects
    assert [o["key"] for o in objects] == ["m/model.tar.gz", "m/model.tar.gz", "m/a+b.tar.gz"], objects


# --------------------------------------------------------------------------- SQS and DynamoDB (plain moto)
@check
def sqs_runs_a_queue_with_redrive(c: Ctx) -> None:
    sqs = c.boto("sqs")
    dlq = sqs.create_queue(QueueName=n("dlq", "q"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    q = sqs.create_queue(QueueName=n("work", "q"), Attributes={
        "VisibilityTimeout": "30", "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 3, attrs
    sqs.send_message(QueueUrl=q, MessageBody="deploy-1",
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "s3"}})

    def receive() -> list[dict]:
        return sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, AttributeNames=["All"],
                                   MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])

    first = receive()
    assert len(first) == 1 and first[0]["Body"] == "deploy-1", first
    a = first[0]["Attributes"]
    assert a["ApproximateReceiveCount"] == "1" and int(a["SentTimestamp"]) > 0, a
    assert "ApproximateFirstReceiveTimestamp" in a, a
    assert first[0]["MessageAttributes"]["kind"]["StringValue"] == "s3", first
    assert receive() == []  # invisible for the visibility timeout
    # A busy retry: the consumer extends the visibility; 0 makes it visible at once.
    sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=900)
    assert receive() == []
    sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    second = receive()
    assert len(second) == 1 and second[0]["Attributes"]["ApproximateReceiveCount"] == "2", second
    sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=second[0]["ReceiptHandle"], VisibilityTimeout=0)
    third = receive()
    assert third[0]["Attributes"]["ApproximateReceiveCount"] == "3", third
    sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=third[0]["ReceiptHandle"], VisibilityTimeout=0)
    # Past maxReceiveCount the message moves to the dead-letter queue.
    assert receive() == []
    dead = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"]).get("Messages", [])
    assert [m["Body"] for m in dead] == ["deploy-1"], dead
    # Batch delete reports each entry.
    sqs.send_message(QueueUrl=q, MessageBody="deploy-2")
    m = receive()[0]
    out = sqs.delete_message_batch(QueueUrl=q, Entries=[{"Id": "a", "ReceiptHandle": m["ReceiptHandle"]}])
    assert [s["Id"] for s in out.get("Successful", [])] == ["a"], out


@check
def dynamodb_conditional_writes_make_a_lease(c: Ctx) -> None:
    ddb = c.boto("dynamodb")
    table = n("ledger", "t")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     SSESpecification={"Enabled": True})
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    key = {"pk": {"S": "endpoint#e1"}, "sk": {"S": "lease"}}

    def take(owner: str, now: int) -> bool:
        try:
            ddb.put_item(TableName=table, Item={**key, "owner": {"S": owner}, "until": {"N": str(now + 60)}},
                         ConditionExpression="attribute_not_exists(pk) OR #u < :now",
                         ExpressionAttributeNames={"#u": "until"},
                         ExpressionAttributeValues={":now": {"N": str(now)}})
            return True
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ConditionalCheckFailedException", err.response
            return False

    assert take("a", 1000)
    assert not take("b", 1010)  # held
    assert take("b", 1061)      # expired: taken over
    # Release only by the holder; the old value comes back on a failed check.
    try:
        ddb.delete_item(TableName=table, Key=key, ConditionExpression="#o = :me",
                        ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":me": {"S": "a"}},
                        ReturnValuesOnConditionCheckFailure="ALL_OLD")
        raise AssertionError("a released b's lease")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ConditionalCheckFailedException", err.response
        assert err.response["Item"]["owner"] == {"S": "b"}, err.response
    # A versioned record and a transaction (record + lease together, or neither).
    rec = {"pk": {"S": "endpoint#e1"}, "sk": {"S": "deploy#0001"}}
    ddb.put_item(TableName=table, Item={**rec, "outcome": {"S": "pending"}, "v": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(sk)")
    ddb.update_item(TableName=table, Key=rec, UpdateExpression="SET outcome = :o, v = v + :one",
                    ConditionExpression="v = :v",
                    ExpressionAttributeValues={":o": {"S": "deployed"}, ":v": {"N": "1"}, ":one": {"N": "1"}})
    try:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {**rec, "outcome": {"S": "lost"}, "v": {"N": "9"}},
                     "ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}},
            {"Delete": {"TableName": table, "Key": key}}])
        raise AssertionError("a transaction with a failed condition went through")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "TransactionCanceledException", err.response
    item = ddb.get_item(TableName=table, Key=rec, ConsistentRead=True)["Item"]
    assert item["outcome"] == {"S": "deployed"} and item["v"] == {"N": "2"}, item
    assert ddb.get_item(TableName=table, Key=key)["Item"]["owner"] == {"S": "b"}
    rows = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :d)",
                     ExpressionAttributeValues={":p": {"S": "endpoint#e1"}, ":d": {"S": "deploy#"}},
                     ScanIndexForward=False)["Items"]
    assert [r["sk"]["S"] for r in rows] == ["deploy#0001"], rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5123"))
    parser.add_argument("-k", "--only", help="run only checks whose name contains this")
    args = parser.parse_args()
    ctx = Ctx(args.endpoint)
    try:
        ctx.control("GET", "health")
    except OSError as exc:
        print(f"emulator not reachable at {ctx.url}: {exc}")
        print("0 passed, 1 failed")
        return 1
    # The checks drive status through the control API: run them in manual mode
    # and put back whatever settle policy the server was started with.
    _, before = ctx.control("GET", "settle")
    ctx.control("POST", "settle", {"settle_seconds": "manual"})
    passed = failed = 0
    try:
        for name, fn in CHECKS:
            if args.only and args.only not in name:
                continue
            try:
                fn(ctx)
            except Exception:
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {name}")
    finally:
        ctx.control("POST", "settle", {"settle_seconds": before.get("settle_seconds", "manual")})
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

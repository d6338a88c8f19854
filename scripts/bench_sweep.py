#!/usr/bin/env python3
"""Benchmark of the cost sweeper over large fleets (run through scripts/bench-sweep).

    .venv/bin/python scripts/bench_sweep.py --binary target/debug/cost-sweeper \
        --emulator http://127.0.0.1:5126 [--sizes 1000,5000] [--json-out target/bench/sweep.json]

For each size, seeds a fleet in the emulator (mixed instance types, GPU,
multi-variant, opted-out, young, busy, idle and serverless endpoints; a few
percent of them with synthetic CloudWatch traffic), then runs one dry-run
sweep of it with the real binary on a local Lambda Runtime API (128 MB, as
Lambda would give it) and prints one Markdown table: API requests by
operation (counted by the emulator, `GET /_emulator/requests`), wall time,
the emulator's share of it, CPU, peak RSS (VmHWM), and GetMetricData calls
against ceil(series / 500). Nothing is asserted: a miss is written in the
table (this is a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (scripts/bench.py: Runtime API, emulator client, Lambda env)

ROLE = "arn:aws:iam::123456789012:role/sagemaker-serverless-pipeline-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
LAMBDA_MEMORY_MB = 128
# (label, share of the fleet, instance types or None for serverless, variants, tags, old, daily invocations)
MIX = [
    ("idle", 0.30, ["ml.m5.large", "ml.c5.large", "ml.m5.xlarge"], 1, {"serverless-migration:smoke-test": "s3://smoke/req.json"}, True, 0),
    ("norequest", 0.15, ["ml.t2.medium", "ml.r5.large"], 1, {}, True, 0),
    ("traffic", 0.03, ["ml.m5.large"], 1, {"serverless-migration:smoke-test": "s3://smoke/req.json"}, True, 200),
    ("busy", 0.02, ["ml.c5.xlarge"], 1, {}, True, 50_000),
    ("young", 0.15, ["ml.m5.large"], 1, {}, False, 0),
    ("gpu", 0.10, ["ml.g4dn.xlarge", "ml.p3.2xlarge"], 1, {}, True, 0),
    ("multi", 0.10, ["ml.m5.large"], 2, {}, True, 0),
    ("optout", 0.05, ["ml.m5.large"], 1, {"serverless-migration": "exclude"}, True, 0),
    ("serverless", 0.10, None, 1, {}, True, 0),
]


def clients(url: str):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=bench.REGION)
    config = Config(max_pool_connections=16, retries={"max_attempts": 5})
    return session.client("sagemaker", endpoint_url=url, config=config), \
        session.client("cloudwatch", endpoint_url=url, config=config)


def seed(url: str, emu: bench.Emulator, prefix: str, size: int, log) -> dict:
    """Creates `size` endpoints under `prefix`; returns counts by kind."""
    sagemaker, cloudwatch = clients(url)
    old = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = []  # (name, config, tags, old, daily, variant)
    counts = {}
    for label, share, types, variants, tags, is_old, daily in MIX:
        n = max(1, round(size * share)) if label != MIX[0][0] else 0
        counts[label] = n
    counts[MIX[0][0]] = size - sum(counts.values())
    for label, share, types, variants, tags, is_old, daily in MIX:
        configs = []
        for t_index, instance in enumerate(types or [None]):
            config = f"{prefix}-{label}-{t_index}"
            sagemaker.create_model(ModelName=config, ExecutionRoleArn=ROLE,
                                   PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://models/{config}.tar.gz"})
            if instance is None:
                pvs = [{"VariantName": "AllTraffic", "ModelName": config,
                        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}]
            else:
                pvs = [{"VariantName": f"v{v}", "ModelName": config, "InstanceType": instance,
                        "InitialInstanceCount": 1, "InitialVariantWeight": 1.0} for v in range(variants)]
            sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=pvs)
            configs.append((config, pvs[0]["VariantName"]))
        for i in range(counts[label]):
            config, variant = configs[i % len(configs)]
            plan.append((f"{prefix}-{label}-{i}", config, tags, is_old, daily, variant))

    def create(item):
        name, config, tags, is_old, _daily, _variant = item
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config,
                                  Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        if is_old:
            emu.call("POST", f"/_emulator/endpoints/{name}/creation-time", {"creation_time": old})

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, plan))
    when = datetime.now(timezone.utc) - timedelta(days=2)
    data = []
    for name, _config, _tags, _old, daily, variant in plan:
        if daily:
            dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": variant}]
            data.append({"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when, "Value": daily * 7.0})
            data.append({"MetricName": "ModelLatency", "Dimensions": dims, "Timestamp": when, "Value": 150_000.0,
                         "Unit": "Microseconds"})
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start:start + 500])
    print(f"bench-sweep: seeded {size} endpoints ({len(data)} datapoints) in {time.monotonic() - started:.0f} s",
          file=log, flush=True)
    return counts


def sweep_once(api: bench.RuntimeAPI, binary: str, emu: bench.Emulator, prefix: str, log) -> dict:
    env = bench.lambda_env("cost-sweeper", emu.url, {
        "DRY_RUN": "true",
        "ENDPOINT_NAME_CONTAINS": prefix,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LAMBDA_MEMORY_MB),
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        # As template.yaml sets them, so the idle ones stay candidates.
        "PASSABLE_ROLE_ARNS": ROLE,
        "SMOKE_TEST_BUCKETS": "smoke",
    })
    event = json.dumps({"dry_run": True, "endpoint_name_contains": prefix}).encode()
    emu.reset_counts()
    run = api.start([binary], env, event, timeout=900, log=log)
    view = emu.counts()
    outcome = run["outcome"] or {}
    if not outcome.get("ok"):
        raise RuntimeError(f"cost-sweeper failed: {json.dumps(outcome)[:800]}")
    report = outcome["response"]
    calls = bench.flat_counts(view)
    series = report.get("metric_series") or 0
    return {
        "endpoints": report.get("endpoints"),
        "series": series,
        "decisions": report.get("decisions"),
        "calls": calls,
        "reported_calls": report.get("api_calls"),
        "get_metric_data": calls.get("GetMetricData", 0),
        "get_metric_data_bound": math.ceil(series / 500),
        "wall_ms": run.get("handler_ms"),
        "aws_ms": bench.aws_seconds(view) * 1000,
        "aws_metrics_ms": bench.aws_seconds(view, "GetMetricData") * 1000,
        "cpu_ms": run.get("handler_cpu_ms"),
        "rss_mb": run.get("maxrss_mb"),
        "response_kb": len(json.dumps(report)) / 1024,
    }


def table(results: list[dict], binary: str) -> str:
    lines = [
        f"Dry-run sweeps of seeded fleets with `{os.path.relpath(binary, bench.ROOT)}` on a local Runtime API "
        f"({LAMBDA_MEMORY_MB} MB, as Lambda would run it), against the emulator. Requests are counted by the "
        "emulator (`GET /_emulator/requests`; an SDK retry counts again). *AWS (emulator)* sums the emulator's "
        "time answering, over concurrent requests (describe calls run 8 at a time), so it can exceed the wall "
        "time; on AWS each call takes tens of ms. A `GetMetricStatistics` loop would need one call per series.",
        "",
        "| endpoints | series | requests | by operation | GetMetricData (bound ceil(series/500)) "
        "| GetMetricStatistics loop would make | wall | AWS (emulator) | of it GetMetricData | CPU | peak RSS "
        f"(limit {LAMBDA_MEMORY_MB} MB) | response |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ok = "met" if r["get_metric_data"] <= r["get_metric_data_bound"] else "**MISSED**"
        rss = r["rss_mb"]
        rss_text = f"{rss:.1f} MB ({'met' if rss < LAMBDA_MEMORY_MB else '**MISSED**'})" if rss else "unknown"
        lines.append(
            f"| {r['endpoints']} | {r['series']} | {sum(r['calls'].values())} | {bench.counts_text(r['calls'])} "
            f"| {r['get_metric_data']} ({r['get_metric_data_bound']}: {ok}) | {r['series']} "
            f"| {r['wall_ms'] / 1000:.1f} s | {r['aws_ms'] / 1000:.1f} s | {r['aws_metrics_ms'] / 1000:.1f} s "
            f"| {r['cpu_ms'] / 1000:.2f} s | {rss_text} | {r['response_kb']:.0f} KiB |")
    decisions = results[-1]["decisions"] if results else {}
    lines += ["", f"Decisions in the largest fleet: {json.dumps(decisions, sort_keys=True)}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--json-out", default=os.path.join(bench.ROOT, "target", "bench", "sweep.json"))
    args = parser.parse_args()
    emu = bench.Emulator(args.emulator)
    api = bench.RuntimeAPI()
    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    log_path = os.path.join(os.path.dirname(args.json_out), "sweep-functions.log")
    results = []
    with open(log_path, "w") as log:
        for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
            prefix = f"bs{size}-{uuid.uuid4().hex[:5]}"
            seed(args.emulator, emu, prefix, size, sys.stderr)
            result = sweep_once(api, os.path.abspath(args.binary), emu, prefix, log)
            print(f"bench-sweep: {size} endpoints swept in {result['wall_ms'] / 1000:.1f} s, "
                  f"peak RSS {result['rss_mb']} MB", file=sys.stderr, flush=True)
            results.append(result)
    text = table(results, os.path.abspath(args.binary))
    misses = [f"cost-sweeper peak RSS {r['rss_mb']:.1f} MB >= {LAMBDA_MEMORY_MB} MB at {r['endpoints']} endpoints"
              for r in results if r["rss_mb"] and r["rss_mb"] >= LAMBDA_MEMORY_MB]
    misses += [f"GetMetricData {r['get_metric_data']} > ceil(series/500) = {r['get_metric_data_bound']}"
               for r in results if r["get_metric_data"] > r["get_metric_data_bound"]]
    rss = [r["rss_mb"] for r in results if r["rss_mb"]]
    with open(args.json_out, "w") as f:
        json.dump({"results": results, "misses": misses, "rss_mb": bench.summary(rss) if rss else None}, f,
                  indent=2, default=str)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

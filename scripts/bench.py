#!/usr/bin/env python3
"""Benchmarks of the three Lambda functions (issue 6); run through scripts/bench.

    .venv/bin/python scripts/bench.py --bin-dir target/lambda --emulator http://127.0.0.1:5125 \
        [--starts 30] [--python-starts 20] [--repeats 7] [--sweep-markdown FILE [--sweep-json FILE]] \
        [--sweep-fake-json FILE] [--out BENCHMARKS.md]

What it measures (medians with p95 or min-max; nothing is asserted):

1. cold start: process start -> first GET /next on a local Runtime API served
   here (the init Lambda bills), per function, and the same for a Python
   bootstrap that imports boto3 and builds the same clients; peak RSS (the
   child's ru_maxrss from wait4) during init and during a typical
   invocation; binary size.
2. deployer: AWS requests per scenario (fresh deploy, update, duplicate,
   out-of-order), counted by the emulator (GET /_emulator/requests), and the
   handler's own time: wall time minus the emulator's time answering, and
   the process's CPU time (/proc/<pid>/task/*/schedstat) during the handler.
3. smoke tester: requests, and latency it adds beyond the endpoint's own
   answer time (the emulator's time in InvokeEndpoint, DelayMs included).
4. cost sweeper: a dry-run sweep of a small fleet here (invocation RSS,
   requests, GetMetricData = ceil(series/500)); the fleet-scaling numbers
   (100/1,000/5,000 endpoints, the GetMetricStatistics-loop comparison) come
   from scripts/bench-sweep (--sweep-markdown, optional --sweep-json) and are
   included in the same file; the sweeper's own cost on the same fleet sizes
   against an in-process zero-latency fake comes from
   scripts/bench-sweep-fake (--sweep-fake-json).

Only the standard library plus boto3 (for fixtures) is used.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote_plus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_observe import BASELINE, observe_section  # noqa: E402
from lambda_harness import RuntimeAPI  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = "/2018-06-01/runtime"
REGION = "us-east-1"
BUCKET = "bench-models-123456789012"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-serverless-pipeline-execution"
FUNCTIONS = ("deployer", "smoke-tester", "cost-sweeper")
# The SDK clients each function builds at init (main.rs), and their boto3 names.
CLIENTS = {
    "deployer": ["sagemaker", "s3"],
    "smoke-tester": ["sagemaker", "s3", "sagemaker-runtime", "sns"],
    "cost-sweeper": ["sagemaker", "cloudwatch", "sns", "s3"],
}
# Function environment when template.yaml (issue 5) is absent or says nothing.
DEFAULT_ENV = {
    "deployer": {"EXECUTION_ROLE_ARN": ROLE, "MODELS_PREFIX": "models/", "KEEP_SUPERSEDED": "2"},
    "smoke-tester": {"METRICS_NAMESPACE": "ServerlessInferencePipeline", "WARM_INVOCATIONS": "2",
                     "ROLLBACK_ON_FAILURE": "true", "CLAIM_SETTLE_MS": "1000"},
    "cost-sweeper": {"DRY_RUN": "true", "LOOKBACK_DAYS": "7"},
}
SMALL_FLEET_INSTANCE = 40  # instance-based endpoints added for the small sweep
# Every endpoint this run creates has it in its name; the small sweep reads only those
# (scripts/bench-sweep's fleets share the emulator).
RUN_TAG = f"bench-{uuid.uuid4().hex[:6]}"
TARGET_INIT_MS = 15.0
TARGET_RSS_MB = 32.0
TARGETS = {"init": f"median < {TARGET_INIT_MS:g} ms", "rss": f"< {TARGET_RSS_MB:g} MB"}


# --------------------------------------------------------------------------- stats
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median": statistics.median(values), "p95": pct(values, 95),
            "min": min(values), "max": max(values)}


def fmt(s: dict | None, unit: str = "", digits: int = 1, spread: str = "p95") -> str:
    if not s:
        return "-"
    if spread == "p95":
        return f"{s['median']:.{digits}f}{unit} (p95 {s['p95']:.{digits}f})"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


# --------------------------------------------------------------------------- runtime API
# The measuring Runtime API (time to the first GET /next, handler time and CPU, peak RSS)
# is scripts/lambda_harness.py's, shared with the demo and the binary tests.

# --------------------------------------------------------------------------- environment
def template_env(function: str) -> dict:
    """Environment variables template.yaml gives `function` (plain values only)."""
    path = os.path.join(ROOT, "template.yaml")
    if not os.path.exists(path):
        return {}
    try:
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        # CloudFormation tags (!Ref, !Sub, !GetAtt ...) become None: not plain values.
        Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
        with open(path) as f:
            doc = yaml.load(f, Loader=Loader) or {}
    except Exception as exc:  # a template we cannot read must not stop the bench
        print(f"bench: template.yaml not read ({exc}); using built-in env", file=sys.stderr)
        return {}
    env: dict = {}
    globals_env = (((doc.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    env.update({k: str(v) for k, v in globals_env.items() if isinstance(v, (str, int, float, bool))})
    for resource in (doc.get("Resources") or {}).values():
        props = (resource or {}).get("Properties") or {}
        code = str(props.get("CodeUri") or "") + str(((resource or {}).get("Metadata") or {}).get("BuildProperties") or "")
        if resource.get("Type") == "AWS::Serverless::Function" and function in code:
            variables = ((props.get("Environment") or {}).get("Variables")) or {}
            for k, v in variables.items():
                if isinstance(v, bool):
                    env[k] = "true" if v else "false"
                elif isinstance(v, (str, int, float)):
                    env[k] = str(v)
    return env


def lambda_env(function: str, endpoint_url: str, overrides: dict | None = None) -> dict:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # Lambda hands the execution role's credentials over as environment variables.
        "AWS_ACCESS_KEY_ID": "ASIABENCHMARK0000000",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": "bootstrap",
    }
    env.update(DEFAULT_ENV[function])
    env.update(template_env(function))
    env.update(overrides or {})
    return env


# --------------------------------------------------------------------------- emulator
class Emulator:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as response:
            return json.load(response)

    def reset_counts(self) -> None:
        self.call("DELETE", "/_emulator/requests")

    def counts(self) -> dict:
        return self.call("GET", "/_emulator/requests")


def flat_counts(view: dict) -> dict[str, int]:
    return {op: n for ops in view["requests"].values() for op, n in ops.items()}


def aws_seconds(view: dict, op: str | None = None) -> float:
    return sum(t for ops in view["seconds"].values() for name, t in ops.items() if op is None or name == op)


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "none"


# --------------------------------------------------------------------------- fixtures
def s3_event(bucket: str, key: str, put: dict, when: datetime, sequencer: str) -> bytes:
    with open(os.path.join(ROOT, "events", "s3-put-model.json")) as f:
        event = json.load(f)
    record = event["Records"][0]
    record["eventTime"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"].update(key=quote_plus(key, safe="/"), eTag=put["ETag"].strip('"'),
                                  versionId=put.get("VersionId", ""), sequencer=sequencer)
    return json.dumps(event).encode()


PREDICTION = json.dumps({"probabilities": [[0.97, 0.02, 0.01]]})


def settings(memory: int) -> dict:
    return {
        "framework": "sklearn", "framework_version": "1.2-1", "memory_size_mb": memory, "max_concurrency": 5,
        "environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        "smoke_test": {"content_type": "text/csv", "body": "5.1,3.5,1.4,0.2",
                       "expect": {"json_number": {"pointer": "/probabilities/0/0", "min": 0, "max": 1}}},
    }


# --------------------------------------------------------------------------- benchmarks
def bench_cold_starts(api: RuntimeAPI, binaries: dict, emulator_url: str, starts: int, python_starts: int,
                      log) -> dict:
    out: dict = {}
    bootstrap = os.path.join(ROOT, "target", "bench", "python_bootstrap.py")
    os.makedirs(os.path.dirname(bootstrap), exist_ok=True)
    with open(bootstrap, "w") as f:
        f.write(PY_BOOTSTRAP)
    python = os.path.join(ROOT, ".venv", "bin", "python")
    for function, binary in binaries.items():
        env = lambda_env(function, emulator_url)
        api.start([binary], env, log=log)  # page cache warm: Lambda's cache is warm for a hot function too
        runs = [api.start([binary], env, log=log) for _ in range(starts)]
        py_env = dict(env, BENCH_CLIENTS=",".join(CLIENTS[function]))
        api.start([python, bootstrap], py_env, log=log)
        py_runs = [api.start([python, bootstrap], py_env, log=log) for _ in range(python_starts)]
        out[function] = {
            "init_ms": summary([r["init_ms"] for r in runs]),
            "init_rss_mb": summary([r["maxrss_mb"] for r in runs]),
            "size_mb": os.path.getsize(binary) / 2**20,
            "python_init_ms": summary([r["init_ms"] for r in py_runs]),
            "python_init_rss_mb": summary([r["maxrss_mb"] for r in py_runs]),
            "clients": CLIENTS[function],
        }
        print(f"bench: cold start {function}: {fmt(out[function]['init_ms'], ' ms')}, "
              f"python {fmt(out[function]['python_init_ms'], ' ms')}", file=sys.stderr, flush=True)
    return out


PY_BOOTSTRAP = '''\
# The Python/boto3 equivalent of a function's init: import boto3, build the
# same clients, poll /next (scripts/bench.py times process start -> that poll).
import os
import urllib.request

import boto3

session = boto3.session.Session()
clients = [session.client(name) for name in os.environ["BENCH_CLIENTS"].split(",")]
urllib.request.urlopen(f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation/next")
'''


def bench_deployer_and_smoke(api: RuntimeAPI, binaries: dict, emu: Emulator, repeats: int, log) -> dict:
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    s3 = session.client("s3", endpoint_url=emu.url)
    sagemaker = session.client("sagemaker", endpoint_url=emu.url)
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    sagemaker.list_endpoints()  # moto's first SageMaker call is slow: not ours to count

    dep_env = lambda_env("deployer", emu.url)
    cold_ms, warm_ms = 300, 50
    smoke_env = lambda_env("smoke-tester", emu.url, {"CLAIM_SETTLE_MS": "100"})
    settle_ms = int(smoke_env["CLAIM_SETTLE_MS"])
    warm_n = int(smoke_env.get("WARM_INVOCATIONS", "2"))
    scenarios = ("fresh deploy", "update (deploy.json changed)", "duplicate (redelivered)", "out-of-order (stale)")
    dep: dict = {s: [] for s in scenarios}
    smoke: dict = {"first test": [], "duplicate event": []}
    base = datetime.now(timezone.utc)

    def deliver(binary: str, env: dict, event: bytes) -> dict:
        emu.reset_counts()
        result = api.start([binary], env, event, log=log)
        view = emu.counts()
        if not (result["outcome"] or {}).get("ok"):
            raise RuntimeError(f"{os.path.basename(binary)} failed: {json.dumps(result['outcome'])[:600]}")
        result["calls"] = flat_counts(view)
        result["aws_s"] = aws_seconds(view)
        result["invoke_s"] = aws_seconds(view, "InvokeEndpoint")
        return result

    for i in range(repeats):
        endpoint = f"{RUN_TAG}-{i}"
        folder = f"models/{endpoint}/v1/"
        t0 = base + timedelta(seconds=10 * i)
        s3.put_object(Bucket=BUCKET, Key=f"{folder}deploy.json", Body=json.dumps(settings(2048)).encode())
        put_m = s3.put_object(Bucket=BUCKET, Key=f"{folder}model.tar.gz", Body=f"not a real model {i}".encode())
        ev_m = s3_event(BUCKET, f"{folder}model.tar.gz", put_m, t0 + timedelta(seconds=1),
                        format(10_001 + 10 * i, "018X"))

        def deploy(scenario: str, event: bytes) -> None:
            r = deliver(binaries["deployer"], dep_env, event)
            r["status"] = ",".join(x.get("status", "?") for x in r["outcome"]["response"].get("results", []))
            dep[scenario].append(r)

        deploy(scenarios[0], ev_m)
        put_v2 = s3.put_object(Bucket=BUCKET, Key=f"{folder}deploy.json", Body=json.dumps(settings(4096)).encode())
        ev_v2 = s3_event(BUCKET, f"{folder}deploy.json", put_v2, t0 + timedelta(seconds=2),
                         format(10_002 + 10 * i, "018X"))
        deploy(scenarios[1], ev_v2)
        deploy(scenarios[2], ev_v2)
        # Out of order: a newer model.tar.gz at the same key is deployed (set-up,
        # not counted), then the first upload's event arrives late.
        put_m2 = s3.put_object(Bucket=BUCKET, Key=f"{folder}model.tar.gz", Body=f"newer model {i}".encode())
        ev_m2 = s3_event(BUCKET, f"{folder}model.tar.gz", put_m2, t0 + timedelta(seconds=3),
                         format(10_003 + 10 * i, "018X"))
        deliver(binaries["deployer"], dep_env, ev_m2)
        deploy(scenarios[3], ev_m)

        # Smoke test of the updated endpoint: cold + warm answers of known duration.
        emu.call("POST", f"/_emulator/endpoints/{endpoint}/invoke-results", {"replace": True, "results": [
            {"Body": PREDICTION, "ContentType": "application/json", "DelayMs": cold_ms},
            {"Body": PREDICTION, "ContentType": "application/json", "DelayMs": warm_ms}]})
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        with open(os.path.join(ROOT, "events", "sagemaker-endpoint-in-service.json")) as f:
            event = json.load(f)
        event["detail"].update(EndpointName=endpoint, EndpointConfigName=described["EndpointConfigName"],
                               EndpointArn=described["EndpointArn"])
        event["resources"] = [described["EndpointArn"]]
        raw = json.dumps(event).encode()
        for case in ("first test", "duplicate event"):
            r = deliver(binaries["smoke-tester"], smoke_env, raw)
            report = r["outcome"]["response"]
            r["status"] = report.get("outcome", "?")
            if case == "first test":
                # What the tester measured minus what the endpoint itself took (server side).
                measured = (report.get("cold_start_ms") or 0) + warm_n * (report.get("warm_p50_ms") or 0)
                r["added_per_call_ms"] = (measured - r["invoke_s"] * 1000) / (1 + warm_n)
                r["added_cold_ms"] = (report.get("cold_start_ms") or 0) - cold_ms
                r["overhead_ms"] = r["handler_ms"] - r["invoke_s"] * 1000 - settle_ms
                r["own_ms"] = r["handler_ms"] - r["aws_s"] * 1000 - settle_ms
            smoke[case].append(r)
        print(f"bench: deployer/smoke-tester round {i + 1}/{repeats} done", file=sys.stderr, flush=True)

    def scenario_summary(runs: list[dict], extra: tuple = ()) -> dict:
        out = {
            "status": sorted({r["status"] for r in runs}),
            "calls": runs[0]["calls"],
            "calls_stable": all(r["calls"] == runs[0]["calls"] for r in runs),
            "total_calls": sum(runs[0]["calls"].values()),
            "handler_ms": summary([r["handler_ms"] for r in runs]),
            "aws_ms": summary([r["aws_s"] * 1000 for r in runs]),
            "own_ms": summary([r.get("own_ms", r["handler_ms"] - r["aws_s"] * 1000) for r in runs]),
            "cpu_ms": summary([r["handler_cpu_ms"] for r in runs]),
            "rss_mb": summary([r["maxrss_mb"] for r in runs]),
        }
        for key in extra:
            out[key] = summary([r[key] for r in runs])
        return out

    return {
        "deployer": {s: scenario_summary(runs) for s, runs in dep.items()},
        "smoke": {
            "first test": scenario_summary(smoke["first test"], ("added_per_call_ms", "added_cold_ms", "overhead_ms")),
            "duplicate event": scenario_summary(smoke["duplicate event"]),
            "cold_ms": cold_ms, "warm_ms": warm_ms, "warm_n": warm_n, "settle_ms": settle_ms,
        },
    }


def bench_small_sweep(api: RuntimeAPI, binaries: dict, emu: Emulator, repeats: int, log) -> dict:
    """A dry-run sweep of a small mixed fleet: the sweeper's invocation RSS and calls.

    The fleet: the deployer's serverless endpoints from the rounds above, plus
    instance-based endpoints with one and two variants, backdated a month.
    """
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    sagemaker = session.client("sagemaker", endpoint_url=emu.url)
    created = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(SMALL_FLEET_INSTANCE):
        name = f"{RUN_TAG}-rt-{i}"
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                                                          "sagemaker-scikit-learn:1.2-1-cpu-py3"})
        variants = [{"VariantName": f"v{v}", "ModelName": name, "InstanceType": "ml.m5.large",
                     "InitialInstanceCount": 1, "InitialVariantWeight": 1.0} for v in range(1 + i % 2)]
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        emu.call("POST", f"/_emulator/endpoints/{name}/creation-time", {"creation_time": created})
    env = lambda_env("cost-sweeper", emu.url, {"DRY_RUN": "true", "ENDPOINT_NAME_CONTAINS": RUN_TAG})
    with open(os.path.join(ROOT, "events", "scheduled-sweep.json"), "rb") as f:
        event = f.read()
    runs = []
    for _ in range(repeats):
        emu.reset_counts()
        r = api.start([binaries["cost-sweeper"]], env, event, log=log)
        view = emu.counts()
        if not (r["outcome"] or {}).get("ok"):
            raise RuntimeError(f"cost-sweeper failed: {json.dumps(r['outcome'])[:600]}")
        report = r["outcome"]["response"]
        r["calls"] = flat_counts(view)
        r["aws_s"] = aws_seconds(view)
        r["own_ms"] = r["handler_ms"] - r["aws_s"] * 1000
        r["report"] = {k: report.get(k) for k in ("endpoints", "metric_series", "api_calls", "decisions")}
        runs.append(r)
    first = runs[0]["report"]
    series = first["metric_series"] or 0
    return {
        "endpoints": first["endpoints"],
        "series": series,
        "decisions": first["decisions"],
        "calls": runs[0]["calls"],
        "reported_calls": first["api_calls"],
        "get_metric_data": runs[0]["calls"].get("GetMetricData", 0),
        "get_metric_data_expected": math.ceil(series / 500),
        "total_calls": sum(runs[0]["calls"].values()),
        "handler_ms": summary([r["handler_ms"] for r in runs]),
        "aws_ms": summary([r["aws_s"] * 1000 for r in runs]),
        "own_ms": summary([r["own_ms"] for r in runs]),
        "cpu_ms": summary([r["handler_cpu_ms"] for r in runs]),
        "rss_mb": summary([r["maxrss_mb"] for r in runs]),
    }


def bench_gms_loop(emu: Emulator, sweep: dict) -> list[dict]:
    """The obvious alternative on each fleet scripts/bench-sweep seeded: one
    GetMetricStatistics call per endpoint and variant (Invocations, daily sums
    over the sweeper's 7-day window), sequential, as a boto3 script would do it.
    Only the metrics phase is timed (the sweeper needs the describes as well)."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    sagemaker = session.client("sagemaker", endpoint_url=emu.url)
    cloudwatch = session.client("cloudwatch", endpoint_url=emu.url)
    out = []
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    for r in sweep.get("results") or []:
        prefix = f"bs{r['endpoints']}-"
        variants = []
        for page in sagemaker.get_paginator("list_endpoints").paginate(NameContains=prefix, MaxResults=100):
            for ep in page["Endpoints"]:
                described = sagemaker.describe_endpoint(EndpointName=ep["EndpointName"])
                variants += [(ep["EndpointName"], v["VariantName"]) for v in described.get("ProductionVariants", [])]
        started = time.perf_counter()
        for endpoint, variant in variants:
            cloudwatch.get_metric_statistics(
                Namespace="AWS/SageMaker", MetricName="Invocations", Statistics=["Sum"], Period=86400,
                StartTime=end - timedelta(days=7), EndTime=end,
                Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}])
        wall_ms = (time.perf_counter() - started) * 1000
        out.append({"endpoints": r["endpoints"], "variants": len(variants), "calls": len(variants),
                    "wall_ms": wall_ms, "sweeper_gmd_calls": r["get_metric_data"],
                    "sweeper_gmd_ms": r.get("aws_metrics_ms"), "sweeper_wall_ms": r.get("wall_ms")})
        print(f"bench: GetMetricStatistics loop over {len(variants)} variants: {wall_ms / 1000:.1f} s",
              file=sys.stderr, flush=True)
    return out


def scaling_rows(sweep: dict) -> list[str]:
    """Growth of each cost between consecutive fleet sizes, as an exponent of the size ratio."""
    results = sorted(sweep.get("results") or [], key=lambda r: r["endpoints"])
    rows = []
    for a, b in zip(results, results[1:]):
        size = b["endpoints"] / a["endpoints"]

        def exponent(key: str, get=lambda r, k: r.get(k)) -> str:
            x, y = get(a, key), get(b, key)
            if not x or not y:
                return "-"
            e = math.log(y / x) / math.log(size)
            return f"{y / x:.1f}x (n^{e:.2f}{'' if e <= 1.15 else ', **worse than linear**'})"

        total = lambda r, _k: sum(r["calls"].values())  # noqa: E731
        rows.append(f"| {a['endpoints']} -> {b['endpoints']} ({size:.0f}x) | {exponent('calls', total)} | "
                    f"{exponent('wall_ms')} | {exponent('cpu_ms')} | {exponent('rss_mb')} |")
    return rows


def sweep_fake_section(fake: list[dict]) -> tuple[list[str], list[str]]:
    """Section 4b from scripts/bench-sweep-fake's results: (lines, misses)."""
    lines, misses = [], []
    add = lines.append
    fake = sorted(fake, key=lambda r: r["endpoints"])
    profile = fake[0].get("profile", "?")
    add("## 4b. Cost sweeper's own cost: the same sweep against an in-process, zero-latency fake")
    add("")
    add("scripts/bench-sweep-fake (benches/sweep-fake): the real sweeper (`cost_sweeper::handle`, a scheduled "
        "event, dry run, no report bucket) with an SDK HTTP client that answers SageMaker (JSON 1.1) and "
        "CloudWatch GetMetricData (RPC v2 CBOR) in-process with no network and no latency, for a synthetic "
        "fleet with a fixed mix (per 10 endpoints: 3 idle CPU, 1 busy, 1 GPU, 1 two-variant, 1 serverless, "
        "1 opted out, 1 younger than the grace period, 1 two-instance), so what is measured is the sweeper "
        "itself: SDK serialising/signing/parsing, planning, reporting. One fresh process per size (peak RSS "
        "= VmHWM, whole process, fake included); CPU = getrusage user+system of the process over the "
        "handler call; *fake* = time the fake spent building answers (inside that wall time). Requests are "
        "the sweeper's own tally (the fake's count of HTTP requests agreed: no retries).")
    if profile != "release":
        add("")
        add(f"**Built in the {profile} profile** (target/release had no AWS SDK build; a cold release build "
            "takes 25+ minutes here): absolute times are several times the release ones; requests, growth "
            "and RSS shape are what to read.")
    add("")
    add("| endpoints | runs | series | requests | by operation | GetMetricData vs ceil(series/500) | wall (median, "
        "min-max) | CPU | fake | peak RSS (after init) | decisions |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in fake:
        ok = r["get_metric_data"] == r["get_metric_data_bound"]
        if not ok:
            misses.append(f"fake sweep {r['endpoints']}: GetMetricData {r['get_metric_data']} != "
                          f"ceil(series/500) = {r['get_metric_data_bound']}")
        if r["requests"] != r["calls"]:
            misses.append(f"fake sweep {r['endpoints']}: HTTP requests {r['requests']} != tally {r['calls']}")
        r["wall_med"], r["cpu_med"] = statistics.median(r["wall_ms"]), statistics.median(r["cpu_ms"])
        r["total_calls"] = sum(r["calls"].values())
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(r["decisions"].items()))
        add(f"| {r['endpoints']} | {r['runs']} | {r['series']} | {r['total_calls']} | {counts_text(r['calls'])} | "
            f"{r['get_metric_data']} vs {r['get_metric_data_bound']}: {mark(ok)} | "
            f"{fmt(summary(r['wall_ms']), ' ms', 0, spread='range')} | "
            f"{fmt(summary(r['cpu_ms']), ' ms', 0, spread='range')} | {statistics.median(r['fake_ms']):.0f} ms | "
            f"{r['rss_mb']:.1f} MB ({r['rss_init_mb']:.1f} MB) | {decisions} |")
    add("")
    if len(fake) > 1:
        add("Growth between fleet sizes (ratio, and as n^k: k <= 1 is linear or better):")
        add("")
        add("| fleet | requests | wall | CPU | CPU per endpoint | peak RSS | RSS above init |")
        add("|---|---|---|---|---|---|---|")
        for a, b in zip(fake, fake[1:]):
            size = b["endpoints"] / a["endpoints"]

            def grow(x: float, y: float) -> str:
                if not x or not y:
                    return "-"
                e = math.log(y / x) / math.log(size)
                return f"{y / x:.1f}x (n^{e:.2f}{'' if e <= 1.15 else ', **worse than linear**'})"

            row = (f"| {a['endpoints']} -> {b['endpoints']} ({size:.0f}x) | "
                   f"{grow(a['total_calls'], b['total_calls'])} | "
                   f"{grow(a['wall_med'], b['wall_med'])} | {grow(a['cpu_med'], b['cpu_med'])} | "
                   f"{a['cpu_med'] / a['endpoints']:.2f} -> {b['cpu_med'] / b['endpoints']:.2f} ms | "
                   f"{grow(a['rss_mb'], b['rss_mb'])} | "
                   f"{grow(a['rss_mb'] - a['rss_init_mb'], b['rss_mb'] - b['rss_init_mb'])} |")
            add(row)
            if "worse than linear" in row:
                misses.append(f"fake sweep growth {a['endpoints']} -> {b['endpoints']}: worse than linear")
        add("")
    return lines, misses


# --------------------------------------------------------------------------- report
def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip() or "?"
    return (f"{cpu}, {os.cpu_count()} CPUs, {mem} RAM; {platform.system()} {platform.release()} "
            f"{platform.machine()}; {rustc}; Python {platform.python_version()}")


def mark(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def render(results: dict, sweep: dict | None, args) -> str:
    lines: list[str] = []
    add = lines.append
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    add("# Benchmarks")
    add("")
    add(f"Measured {now} by `scripts/bench` on: {machine()}.")
    add(f"Binaries: `{args.bin_dir}` ({args.profile}). Medians, spread as p95 or (min-max); "
        "the machine is shared and noisy, so compare ratios taken in the same run.")
    if "release" not in args.profile:
        add("")
        add("**These are not the release binaries** (no optimisation, no LTO, not stripped): init, CPU, "
            "RSS and size are far above what `scripts/bench` measures on the release build; the request "
            "counts are the same.")
    add("")
    cold = results["cold"]
    add("## 1. Cold start (process start -> first `GET /next`), memory, size")
    add("")
    add(f"{args.starts} starts per Rust function, {args.python_starts} per Python bootstrap, on a local Runtime API "
        "(scripts/bench.py), with the function's Lambda environment (credentials in env vars, "
        "`AWS_ENDPOINT_URL` to the emulator; no network call happens during init). "
        "Peak RSS of a typical invocation: the deployer's fresh deploy, the smoke tester's first test, "
        "the cost sweeper's dry-run sweep of the small fleet in 4a (large fleets: section 4).")
    add("")
    add("| function | init, Rust | init, Python/boto3 (same clients) | Python / Rust | target init "
        f"{TARGETS['init']} | peak RSS init | peak RSS invocation | target RSS {TARGETS['rss']} | "
        "binary (stripped) |")
    add("|---|---|---|---|---|---|---|---|---|")
    invocation_rss = {
        "deployer": results["calls"]["deployer"]["fresh deploy"]["rss_mb"],
        "smoke-tester": results["calls"]["smoke"]["first test"]["rss_mb"],
        "cost-sweeper": results["small_sweep"]["rss_mb"],
    }
    for function, c in cold.items():
        ratio = c["python_init_ms"]["median"] / c["init_ms"]["median"]
        inv = invocation_rss.get(function)
        rss_peak = max(c["init_rss_mb"]["max"], (inv or {}).get("max", 0))
        add(f"| {function} | {fmt(c['init_ms'], ' ms')} | {fmt(c['python_init_ms'], ' ms', 0)} "
            f"({', '.join(c['clients'])}) | {ratio:.0f}x | {mark(c['init_ms']['median'] < TARGET_INIT_MS)} | "
            f"{fmt(c['init_rss_mb'], ' MB', spread='range')} (Python {c['python_init_rss_mb']['median']:.0f} MB) | "
            f"{fmt(inv, ' MB', spread='range')} | {mark(rss_peak < TARGET_RSS_MB)} | {c['size_mb']:.1f} MB |")
    add("")

    calls = results["calls"]
    add("## 2. Deployer: AWS requests per event and the handler's own time")
    add("")
    add(f"{args.repeats} rounds, one process per event (a cold instance; the emulator is warm). Requests are "
        "counted by the emulator (`GET /_emulator/requests`, each HTTP request once, retries included). "
        "*own time* = handler wall time minus the emulator's time answering (what is left: the handler's "
        "work, the SDK's signing/serialising, loopback HTTP); CPU = on-CPU time of all the process's "
        "threads during the handler.")
    add("")
    add("| event | result | requests | by operation | handler wall | AWS (emulator) | own time | CPU |")
    add("|---|---|---|---|---|---|---|---|")
    for scenario, s in calls["deployer"].items():
        stable = "" if s["calls_stable"] else " (varied)"
        add(f"| {scenario} | {'/'.join(s['status'])} | {s['total_calls']}{stable} | {counts_text(s['calls'])} | "
            f"{fmt(s['handler_ms'], ' ms')} | {fmt(s['aws_ms'], ' ms')} | {fmt(s['own_ms'], ' ms')} | "
            f"{fmt(s['cpu_ms'], ' ms')} |")
    add("")

    if results.get("repack_markdown"):
        add(results["repack_markdown"].strip())
        add("")

    sm = calls["smoke"]
    first, dup = sm["first test"], sm["duplicate event"]
    add("## 3. Smoke tester: requests and latency added to the endpoint's own")
    add("")
    add(f"The endpoint answers in {sm['cold_ms']} ms (cold) then {sm['warm_ms']} ms (warm, x{sm['warm_n']}) "
        f"(emulator `DelayMs`); `CLAIM_SETTLE_MS={sm['settle_ms']}` (a deliberate pause, subtracted). "
        "*added per call* = latency the tester reported minus the emulator's own time in InvokeEndpoint "
        "(SDK, signing, loopback HTTP, timing).")
    add("")
    add("| event | result | requests | by operation | handler wall | added per call | "
        "own time (wall - AWS - settle) | CPU |")
    add("|---|---|---|---|---|---|---|---|")
    for name, s in (("IN_SERVICE (first test)", first), ("same event again", dup)):
        added = fmt(s.get("added_per_call_ms"), " ms", 2) if "added_per_call_ms" in s else "-"
        add(f"| {name} | {'/'.join(s['status'])} | {s['total_calls']} | {counts_text(s['calls'])} | "
            f"{fmt(s['handler_ms'], ' ms')} | {added} | {fmt(s['own_ms'], ' ms')} | {fmt(s['cpu_ms'], ' ms')} |")
    add("")

    sw = results["small_sweep"]
    add("## 4a. Cost sweeper: one dry-run sweep of a small fleet (emulator)")
    add("")
    add(f"{sw['endpoints']} endpoints ({SMALL_FLEET_INSTANCE} instance-based with 1-2 variants, the rest the "
        f"deployer's serverless ones), {sw['series']} metric series; {args.repeats} runs, one process each.")
    add("")
    add("| requests | by operation | GetMetricData = ceil(series/500)? | handler wall | AWS (emulator, summed "
        "over concurrent requests) | CPU | peak RSS |")
    add("|---|---|---|---|---|---|---|")
    gmd_ok = sw["get_metric_data"] == sw["get_metric_data_expected"]
    add(f"| {sw['total_calls']} | {counts_text(sw['calls'])} | {sw['get_metric_data']} vs "
        f"{sw['get_metric_data_expected']}: {mark(gmd_ok)} | {fmt(sw['handler_ms'], ' ms')} | "
        f"{fmt(sw['aws_ms'], ' ms')} | {fmt(sw['cpu_ms'], ' ms')} | "
        f"{fmt(sw['rss_mb'], ' MB', spread='range')} |")
    add("")
    if sweep:
        add("## 4./5. Cost sweeper (scripts/bench-sweep)")
        add("")
        add(sweep["markdown"].strip())
        add("")
        rows = scaling_rows(sweep)
        if rows:
            add("Growth between fleet sizes (ratio, and as n^k: k <= 1 is linear or better; the seeded fleets "
                "have the same mix at every size):")
            add("")
            add("| fleet | requests | wall | CPU | peak RSS |")
            add("|---|---|---|---|---|")
            lines.extend(rows)
            add("")
        loop = results.get("gms_loop") or []
        if loop:
            add("### 5. The alternative: a GetMetricStatistics loop (one call per endpoint and variant)")
            add("")
            add("A sequential boto3 loop over the same seeded fleets (Invocations, daily sums, 7 days), against "
                "the same emulator; only its metrics phase, compared with the sweeper's GetMetricData requests "
                "(their time in the emulator). On AWS every call also pays a network round trip (tens of ms), "
                "which widens the gap; CloudWatch's GetMetricStatistics quota (400 TPS) also applies.")
            add("")
            add("| endpoints | loop: calls | loop: wall | sweeper: GetMetricData calls | sweeper: GetMetricData time "
                "| calls ratio | time ratio |")
            add("|---|---|---|---|---|---|---|")
            for g in loop:
                gmd_ms = g["sweeper_gmd_ms"] or 0
                ratio_t = f"{g['wall_ms'] / gmd_ms:.0f}x" if gmd_ms else "-"
                ratio_c = f"{g['calls'] / g['sweeper_gmd_calls']:.0f}x" if g["sweeper_gmd_calls"] else "-"
                add(f"| {g['endpoints']} | {g['calls']} | {g['wall_ms'] / 1000:.1f} s | {g['sweeper_gmd_calls']} | "
                    f"{gmd_ms / 1000:.2f} s | {ratio_c} | {ratio_t} |")
            add("")
    else:
        add("## 4./5. Cost sweeper")
        add("")
        add("**Not measured in this run**: no sweep results (scripts/bench-sweep missing or failed; see its output).")
        add("")

    fake_misses: list[str] = []
    if results.get("sweep_fake"):
        fake_lines, fake_misses = sweep_fake_section(results["sweep_fake"])
        lines.extend(fake_lines)
        # 4c: the same fleets' calls per endpoint against the recorded baseline.
        baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
        observe_lines, observe_misses = observe_section(results["sweep_fake"], baseline)
        lines.extend(observe_lines)
        fake_misses += observe_misses

    add("## Targets")
    add("")
    misses = list(fake_misses)
    for function, c in cold.items():
        if c["init_ms"]["median"] >= TARGET_INIT_MS:
            misses.append(f"{function} init median {c['init_ms']['median']:.1f} ms >= {TARGET_INIT_MS:g} ms")
        inv = invocation_rss.get(function) or {}
        if max(c["init_rss_mb"]["max"], inv.get("max", 0)) >= TARGET_RSS_MB:
            misses.append(f"{function} peak RSS {max(c['init_rss_mb']['max'], inv.get('max', 0)):.1f} MB "
                          f">= {TARGET_RSS_MB:g} MB")
    if results["small_sweep"]["get_metric_data"] != results["small_sweep"]["get_metric_data_expected"]:
        misses.append("small sweep: GetMetricData calls != ceil(series/500)")
    misses += (sweep or {}).get("misses", [])
    misses += [f"cost sweeper growth {row.split('|')[1].strip()}: worse than linear"
               for row in scaling_rows(sweep or {}) if "worse than linear" in row]
    if misses:
        add("Missed: " + "; ".join(misses) + ".")
    else:
        add("All targets measured here were met.")
    add("")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", default="target/lambda", help="<dir>/<function>/bootstrap (or <dir>/<function>)")
    parser.add_argument("--profile", default="release, cargo lambda build")
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--python-starts", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sweep-markdown", help="scripts/bench-sweep's table (its stdout), included as is")
    parser.add_argument("--sweep-json", help="optional results of scripts/bench-sweep: {\"rss_mb\": {median, min, "
                        "max, ...} of a typical sweep, \"misses\": [\"target missed ...\"]}")
    parser.add_argument("--sweep-fake-json", help="scripts/bench-sweep-fake's results (a list, one object per "
                        "fleet size): the sweeper against an in-process zero-latency fake")
    parser.add_argument("--no-loop", action="store_true", help="skip the GetMetricStatistics-loop comparison")
    parser.add_argument("--repack-markdown", help="scripts/bench-repack's section 2c (its target/bench/repack.md), "
                        "included as is")
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    parser.add_argument("--json-out", default=os.path.join(ROOT, "target", "bench", "results.json"))
    args = parser.parse_args()

    binaries = {}
    for function in FUNCTIONS:
        for candidate in (os.path.join(args.bin_dir, function, "bootstrap"), os.path.join(args.bin_dir, function)):
            if os.path.isfile(candidate):
                binaries[function] = os.path.abspath(candidate)
                break
        else:
            sys.exit(f"bench: no binary for {function} under {args.bin_dir}")

    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    log_path = os.path.join(os.path.dirname(args.json_out), "functions.log")
    emu = Emulator(args.emulator)
    api = RuntimeAPI()
    with open(log_path, "w") as log:
        results = {
            "cold": bench_cold_starts(api, binaries, emu.url, args.starts, args.python_starts, log),
            "calls": bench_deployer_and_smoke(api, binaries, emu, args.repeats, log),
        }
        results["small_sweep"] = bench_small_sweep(api, binaries, emu, args.repeats, log)
    sweep = None
    if args.sweep_markdown and os.path.exists(args.sweep_markdown):
        with open(args.sweep_markdown) as f:
            sweep = {"markdown": f.read()}
        if args.sweep_json and os.path.exists(args.sweep_json):
            with open(args.sweep_json) as f:
                sweep.update(json.load(f))
    results["sweep"] = sweep
    if args.sweep_fake_json and os.path.exists(args.sweep_fake_json):
        with open(args.sweep_fake_json) as f:
            results["sweep_fake"] = json.load(f)
    if args.repack_markdown and os.path.exists(args.repack_markdown):
        with open(args.repack_markdown) as f:
            results["repack_markdown"] = f.read()
    if sweep and not args.no_loop:
        results["gms_loop"] = bench_gms_loop(emu, sweep)
    with open(args.json_out, "w") as f:
        json.dump(results, f, indent=2, default=str)
    text = render(results, sweep, args)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    print(f"bench: written to {os.path.relpath(args.out, ROOT)} (raw: {os.path.relpath(args.json_out, ROOT)}; "
          f"function logs: {os.path.relpath(log_path, ROOT)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

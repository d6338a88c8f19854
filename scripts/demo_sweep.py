#!/usr/bin/env python3
"""The demo's last step (see scripts/demo): the cost sweeper over a small fleet.

1. seeds persistent endpoints of every kind next to the demo's serverless
   one, backdated a month, with synthetic CloudWatch traffic;
2. a scheduled sweep (a dry run by default) prints its report;
3. a direct invocation with "dry_run": false starts the migration of the
   idle endpoint that has a smoke-test request: a serverless canary;
4. the real smoke tester tests the canary; the next sweep sees it passed
   and announces the switch (side-by-side), and shows the Markdown report
   written to S3.
"""

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo import PREDICTION  # noqa: E402
from demo_stack import BUCKET, ROLE, ROOT, emulator_post, invoke_function, smoke_report, step  # noqa: E402

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SMOKE_KEY = "smoke-requests/churn-model.json"
# name: (instance type, variants, tags, daily invocations, old)
FLEET = {
    "churn-model": ("ml.m5.large", 1, {"serverless-migration:smoke-test": f"s3://{BUCKET}/{SMOKE_KEY}", "team": "growth"}, 40, True),
    "legacy-ranker": ("ml.m5.large", 1, {}, 5, True),
    "fraud-scoring": ("ml.c5.xlarge", 1, {}, 20_000, True),
    "image-tagger": ("ml.g4dn.xlarge", 1, {}, 10, True),
    "recsys-ab": ("ml.m5.large", 2, {}, 30, True),
    "pricing-v3": ("ml.m5.large", 1, {"serverless-migration": "exclude"}, 0, True),
    "new-forecaster": ("ml.m5.large", 1, {}, 0, False),
}


def wait_in_service(sagemaker, name, timeout=60):
    """These endpoints are not on a virtual clock: they settle after the emulator's few seconds."""
    deadline = time.time() + timeout
    while True:
        status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
        if status not in ("Creating", "Updating"):
            return
        if time.time() > deadline:
            sys.exit(f"demo: {name} still {status} after {timeout} s")
        time.sleep(1)


def smoke_test(binary, sagemaker, endpoint, answers):
    """Hands the endpoint's IN_SERVICE event to the smoke tester; the emulator answers
    InvokeEndpoint with `answers` (on AWS the model itself answers)."""
    emulator_post(f"/_emulator/endpoints/{endpoint}/invoke-results", {"results": answers, "replace": True})
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    with open(os.path.join(ROOT, "events", "sagemaker-endpoint-in-service.json")) as f:
        event = json.load(f)
    event["detail"].update(EndpointName=endpoint, EndpointConfigName=described["EndpointConfigName"],
                           EndpointArn=described["EndpointArn"])
    report = invoke_function(binary, event, ["METRICS_NAMESPACE=ServerlessInferencePipeline", "CLAIM_SETTLE_MS=100"],
                             show_logs=False)
    print(json.dumps(smoke_report(report), indent=2))
    return report


def seed(s3, sagemaker, cloudwatch):
    s3.put_object(Bucket=BUCKET, Key=SMOKE_KEY, Body=json.dumps(
        {"smoke_test": {"content_type": "text/csv", "body": "5.1,3.5,1.4,0.2"}}).encode())
    old = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    when = datetime.now(timezone.utc) - timedelta(days=2)
    data = []
    for name, (instance, variants, tags, daily, is_old) in FLEET.items():
        sagemaker.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/legacy/{name}/model.tar.gz"})
        sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[
            {"VariantName": f"variant-{v}", "ModelName": f"{name}-model", "InstanceType": instance,
             "InitialInstanceCount": 1, "InitialVariantWeight": 1.0} for v in range(variants)])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config",
                                  Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        if is_old:
            emulator_post(f"/_emulator/endpoints/{name}/creation-time", {"creation_time": old})
        if daily:
            dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "variant-0"}]
            data.append({"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when, "Value": daily * 7.0})
            data.append({"MetricName": "ModelLatency", "Dimensions": dims, "Timestamp": when, "Value": 120_000.0,
                         "Unit": "Microseconds"})
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
    for name in FLEET:
        wait_in_service(sagemaker, name)


def sweep(binary, event):
    # As template.yaml sets them: the role the seeded models run with may be
    # passed, and the smoke-test requests' bucket read.
    report = invoke_function(binary, event, [f"REPORT_BUCKET={BUCKET}", "AWS_LAMBDA_LOG_LEVEL=WARN",
                                             f"PASSABLE_ROLE_ARNS={ROLE}", f"SMOKE_TEST_BUCKETS={BUCKET}"],
                             show_logs=False)
    money = lambda v: "-" if v is None else f"{v:,.2f}"  # noqa: E731
    print(f"{'endpoint':<28} {'instance':<16} {'inv/7d':>8} {'$/mo now':>9} {'$/mo srvl':>9} "
          f"{'saving':>9}  decision")
    for row in report["rows"]:
        why = "; ".join(r["code"] for r in row["reasons"]) or row["note"]
        step_name = f" ({row['step']})" if row.get("step") else ""
        print(f"{row['endpoint']:<28} {row['instance_type']:<16} {row['invocations']:>8.0f} "
              f"{money(row['monthly_cost_now']):>9} {money(row['monthly_cost_serverless']):>9} "
              f"{money(row['monthly_saving']):>9}  {row['decision']}{step_name}: {why}")
    summary = {k: report[k] for k in ("dry_run", "endpoints", "candidates", "estimated_monthly_saving",
                                      "migrations_started", "api_calls", "report_location")}
    summary["steps"] = [f"{s['endpoint']}: {s['step']} {s['status']} ({s['message']})" for s in report["steps"]]
    print(json.dumps(summary, indent=2))
    return report


def main(sweeper_binary, smoke_tester_binary):
    s3, sagemaker, cloudwatch = boto3.client("s3"), boto3.client("sagemaker"), boto3.client("cloudwatch")
    step("cost sweeper: seed persistent endpoints of every kind, a month old, with CloudWatch traffic")
    seed(s3, sagemaker, cloudwatch)
    with open(os.path.join(ROOT, "events", "scheduled-sweep.json")) as f:
        scheduled = json.load(f)

    step("scheduled sweep (dry run by default): what each endpoint costs and what would happen")
    sweep(sweeper_binary, scheduled)

    step('direct invocation {"dry_run": false}: the migration of churn-model starts with a serverless canary')
    sweep(sweeper_binary, {"dry_run": False, "max_new_migrations": 1})
    canary = "churn-model-serverless"
    wait_in_service(sagemaker, canary)

    step(f"the smoke tester tests {canary} (its IN_SERVICE event)")
    good = [{"Body": PREDICTION, "ContentType": "application/json", "DelayMs": 600},
            {"Body": PREDICTION, "ContentType": "application/json", "DelayMs": 30}]
    smoke_test(smoke_tester_binary, sagemaker, canary, good)

    step("the next sweep: the canary passed, so callers are told to switch (churn-model drains, then is retired)")
    report = sweep(sweeper_binary, {"dry_run": False, "max_new_migrations": 0})
    arn = sagemaker.describe_endpoint(EndpointName=canary)["EndpointArn"]
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
    print(json.dumps({"canary": canary, "tags": tags}, indent=2))
    location = report.get("report_location")
    if location:
        key = location.split("/", 3)[3]
        step(f"the Markdown report ({location}), first lines")
        text = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        print("\n".join(text.splitlines()[:14]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

#!/usr/bin/env python3
"""The pipeline end to end against the local AWS emulator (see scripts/demo).

1. creates a versioned models bucket;
2. uploads deploy.json, then a scikit-learn model.tar.gz (the recommended order);
3. delivers the S3 event for the artifact to the real deployer binary;
4. shows the endpoint that resulted, once it is InService;
5. edits deploy.json (more memory) and delivers that event: the endpoint is
   updated to a new serverless config, the old one kept for rollback.
"""

import atexit
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from urllib.parse import quote_plus

import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lambda_harness  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "ml-models-123456789012"
ENDPOINT = "iris-classifier"
FOLDER = f"models/{ENDPOINT}/v1/"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-serverless-pipeline-execution"


def step(text):
    print(f"\n== {text}", flush=True)


def s3_event(bucket, key, put):
    """The notification S3 sends for `put`, shaped like events/s3-put-model.json."""
    with open(os.path.join(ROOT, "events", "s3-put-model.json")) as f:
        event = json.load(f)
    record = event["Records"][0]
    record["eventTime"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    obj = record["s3"]["object"]
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    obj.update(
        key=quote_plus(key, safe="/"),
        eTag=put["ETag"].strip('"'),
        versionId=put.get("VersionId", ""),
        sequencer=format(time.time_ns(), "018X"),
    )
    return event


_CARGO_LAMBDA = []


def invoke_function(binary, event, env, show_logs=True):
    """Runs a function binary once on `cargo lambda watch`, invoked by `cargo lambda invoke`
    (scripts/lambda_harness.py); one watch server serves the whole demo."""
    if not _CARGO_LAMBDA:
        _CARGO_LAMBDA.append(lambda_harness.CargoLambda())
        atexit.register(_CARGO_LAMBDA[0].close)
    outcome = _CARGO_LAMBDA[0].invoke(binary, json.dumps(event).encode(), lambda_harness.parse_env(env),
                                      echo_logs=show_logs)
    if not outcome.get("ok"):
        print(json.dumps(outcome, indent=2))
        sys.exit(f"demo: {os.path.basename(binary)} reported an error (see above)")
    return outcome["response"]


def invoke_deployer(binary, event):
    response = invoke_function(binary, event, [f"EXECUTION_ROLE_ARN={ROLE}", "MODELS_PREFIX=models/"])
    print(json.dumps(response, indent=2))
    return response


def emulator_post(path, body):
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL"] + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def smoke_test(binary, sagemaker, endpoint, answers):
    """Delivers the endpoint's IN_SERVICE event to the smoke tester.

    There is no container here, so the emulator answers InvokeEndpoint with
    `answers` (on AWS the model itself answers); DelayMs stands in for the
    cold start.
    """
    emulator_post(f"/_emulator/endpoints/{endpoint}/invoke-results", {"results": answers, "replace": True})
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    with open(os.path.join(ROOT, "events", "sagemaker-endpoint-in-service.json")) as f:
        event = json.load(f)
    event["detail"].update(EndpointName=endpoint, EndpointConfigName=described["EndpointConfigName"],
                           EndpointArn=described["EndpointArn"])
    report = invoke_function(binary, event, ["METRICS_NAMESPACE=ServerlessInferencePipeline", "CLAIM_SETTLE_MS=100"],
                             show_logs=False)
    print(json.dumps(report, indent=2))
    return report


def wait_in_service(sagemaker, name, timeout=60):
    deadline = time.time() + timeout
    while True:
        described = sagemaker.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] != "Creating" and described["EndpointStatus"] != "Updating":
            return described
        if time.time() > deadline:
            sys.exit(f"demo: {name} still {described['EndpointStatus']} after {timeout} s")
        print(f"   {name}: {described['EndpointStatus']} ...", flush=True)
        time.sleep(1)


def show_endpoint(sagemaker, name):
    endpoint = wait_in_service(sagemaker, name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]}
    print(json.dumps({
        "EndpointName": endpoint["EndpointName"],
        "EndpointStatus": endpoint["EndpointStatus"],
        "EndpointConfigName": endpoint["EndpointConfigName"],
        "ServerlessConfig": variant["ServerlessConfig"],
        "ModelName": variant["ModelName"],
        "Image": model["PrimaryContainer"]["Image"],
        "ModelDataUrl": model["PrimaryContainer"]["ModelDataUrl"],
        "Environment": model["PrimaryContainer"].get("Environment", {}),
        "EndpointTags": tags,
    }, indent=2))


PREDICTION = json.dumps({"probabilities": [[0.97, 0.02, 0.01]]})
EXPECT = {"json_number": {"pointer": "/probabilities/0/0", "min": 0, "max": 1}}


def main(deployer_binary, smoke_tester_binary):
    s3 = boto3.client("s3")
    sagemaker = boto3.client("sagemaker")

    step(f"create versioned bucket s3://{BUCKET}")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    step("build model.tar.gz (scikit-learn, iris) as the SageMaker sklearn container expects")
    workdir = tempfile.mkdtemp(prefix="pipeline-demo-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "sample_model", "build.py"), workdir], check=True)
    artifact = os.path.join(workdir, "model.tar.gz")

    settings = {
        "framework": "sklearn",
        "framework_version": "1.2-1",
        "memory_size_mb": 2048,
        "max_concurrency": 5,
        "environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        "tags": {"team": "demo"},
        "smoke_test": {"content_type": "text/csv", "body": "5.1,3.5,1.4,0.2", "expect": EXPECT},
    }
    step(f"upload s3://{BUCKET}/{FOLDER}deploy.json, then model.tar.gz")
    print(json.dumps(settings, indent=2))
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}deploy.json", Body=json.dumps(settings).encode())
    with open(artifact, "rb") as f:
        put = s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}model.tar.gz", Body=f.read())

    step("deliver the S3 event to the deployer (real binary, cargo lambda watch/invoke)")
    invoke_deployer(deployer_binary, s3_event(BUCKET, f"{FOLDER}model.tar.gz", put))
    step("the endpoint that resulted")
    show_endpoint(sagemaker, ENDPOINT)

    step("IN_SERVICE event -> smoke tester: one cold call, two warm calls, verdict")
    good = [{"Body": PREDICTION, "ContentType": "application/json", "DelayMs": 850},
            {"Body": PREDICTION, "ContentType": "application/json", "DelayMs": 35}]
    smoke_test(smoke_tester_binary, sagemaker, ENDPOINT, good)

    step("change deploy.json: memory_size_mb 2048 -> 4096; its event redeploys the same artifact")
    changed = copy.deepcopy(settings)
    changed["memory_size_mb"] = 4096
    put = s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}deploy.json", Body=json.dumps(changed).encode())
    invoke_deployer(deployer_binary, s3_event(BUCKET, f"{FOLDER}deploy.json", put))
    step("the endpoint after the update")
    show_endpoint(sagemaker, ENDPOINT)
    smoke_test(smoke_tester_binary, sagemaker, ENDPOINT, good)

    step("a broken model in a new folder (v2/): deployed, fails its smoke test, rolled back")
    v2 = f"models/{ENDPOINT}/v2/"
    s3.put_object(Bucket=BUCKET, Key=f"{v2}deploy.json", Body=json.dumps(changed).encode())
    with open(artifact, "rb") as f:
        put = s3.put_object(Bucket=BUCKET, Key=f"{v2}model.tar.gz", Body=f.read() + b"\0")
    invoke_deployer(deployer_binary, s3_event(BUCKET, f"{v2}model.tar.gz", put))
    wait_in_service(sagemaker, ENDPOINT)
    model_error = [{"Error": {"Code": "ModelError", "Status": 424,
                              "Message": "Received server error (500) from primary with message \"ModuleNotFoundError\""}}]
    smoke_test(smoke_tester_binary, sagemaker, ENDPOINT, model_error)
    step("the endpoint after the rollback")
    show_endpoint(sagemaker, ENDPOINT)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

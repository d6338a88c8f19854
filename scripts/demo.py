#!/usr/bin/env python3
"""The pipeline end to end against the local AWS emulator (see scripts/demo), on AWS's timing.

Uploads go S3 -> deploy queue -> the real deployer binary (polled as Lambda's
event source mapping polls); SageMaker's state changes go to the real smoke
tester (as the EventBridge rule sends them); every deployment ends in one
outcome in the ledger. Endpoints take virtual minutes, as on AWS
(demo_stack.py has the plumbing).

1. iris-classifier: deploy.json, then model.tar.gz: created, `Creating`;
2. deploy.json edited while it is `Creating` (2048 -> 4096 MB): the endpoint is
   busy, so the message is postponed (not lost) until it is `InService`, then
   applied: the new settings go live;
3. a broken model under v2/ fails its smoke test and is rolled back;
4. iris-experimental: a model SageMaker cannot start: its create ends `Failed`,
   reported as `create-failed` with the FailureReason (ledger, SNS alert);
5. the next upload recovers it: the Failed endpoint is deleted, the upload
   waits while it is `Deleting`, then creates it again;
6. each endpoint's history from the ledger (the README command).
"""

import copy
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_stack import BUCKET, HISTORY_QUERY, ROOT, Stack, note, step  # noqa: E402

ENDPOINT = "iris-classifier"
EXPERIMENT = "iris-experimental"
PREDICTION = json.dumps({"probabilities": [[0.97, 0.02, 0.01]]})
EXPECT = {"json_number": {"pointer": "/probabilities/0/0", "min": 0, "max": 1}}
GOOD = [{"Body": PREDICTION, "ContentType": "application/json", "DelayMs": 850},
        {"Body": PREDICTION, "ContentType": "application/json", "DelayMs": 35}]
MODEL_ERROR = [{"Error": {"Code": "ModelError", "Status": 424,
                          "Message": "Received server error (500) from primary with message \"ModuleNotFoundError\""}}]
# What SageMaker says when the container never answers its health check.
CANNOT_START = ("The primary container for production variant AllTraffic did not pass the ping health check. "
                "Please check CloudWatch logs for this endpoint.")


def expect(condition, what):
    """The demo fails (non-zero exit) when the pipeline does not do what it shows."""
    if not condition:
        sys.exit(f"demo: expected {what}")


def upload(stack, folder, settings, artifact, extra=b"", metadata=None):
    """The inference script to code/ beside the artifact (deploy.json names it:
    entry_point/source_dir, packed by the deployer as SKLearnModel packs it),
    then deploy.json, then model.tar.gz (the recommended order)."""
    with open(os.path.join(ROOT, "scripts", "sample_model", "inference.py"), "rb") as f:
        stack.s3.put_object(Bucket=BUCKET, Key=f"{folder}code/inference.py", Body=f.read())
    stack.s3.put_object(Bucket=BUCKET, Key=f"{folder}deploy.json", Body=json.dumps(settings).encode())
    with open(artifact, "rb") as f:
        stack.s3.put_object(Bucket=BUCKET, Key=f"{folder}model.tar.gz", Body=f.read() + extra,
                            Metadata=metadata or {})
    note(f"uploaded s3://{BUCKET}/{folder}code/inference.py, deploy.json and model.tar.gz")


def retry(stack, why):
    """The deployer's postponement ends (time passes): the queue delivers again.
    Returns how many messages were postponed again."""
    note(f"the postponement ends; {why}")
    stack.time_passes()
    return stack.poll()[1]


def outcomes(stack, endpoint, show=False):
    return [row[1] for row in stack.history(endpoint, show)]


def main(deployer_binary, smoke_tester_binary):
    stack = Stack(deployer_binary, smoke_tester_binary)
    step("the stack on the local emulator (what template.yaml creates)")
    stack.create()

    step("build model.tar.gz (scikit-learn, iris): model.joblib only, no hand-packed code/")
    workdir = tempfile.mkdtemp(prefix="pipeline-demo-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "sample_model", "build.py"), workdir], check=True)
    artifact = os.path.join(workdir, "model.tar.gz")
    for name in (ENDPOINT, EXPERIMENT):
        # Creating takes 8 virtual minutes, Updating 6, Deleting 2 (AWS: minutes too).
        stack.on_clock(name)

    settings = {
        "framework": "sklearn",
        "framework_version": "1.2-1",
        "memory_size_mb": 2048,
        "max_concurrency": 5,
        "entry_point": "inference.py",
        "source_dir": "code/",
        "tags": {"team": "demo"},
        "smoke_test": {"content_type": "text/csv", "body": "5.1,3.5,1.4,0.2", "expect": EXPECT},
    }
    v1 = f"models/{ENDPOINT}/v1/"
    step(f"1. upload {v1}deploy.json, then model.tar.gz: S3 notifies the deploy queue")
    print(json.dumps(settings, indent=2))
    upload(stack, v1, settings, artifact)
    stack.poll()
    step("the endpoint that resulted: Creating (for minutes, as on AWS)")
    expect(stack.endpoint(ENDPOINT)["EndpointStatus"] == "Creating", f"{ENDPOINT} Creating")

    step("2. deploy.json edited while the endpoint is Creating: memory_size_mb 2048 -> 4096")
    changed = copy.deepcopy(settings)
    changed["memory_size_mb"] = 4096
    stack.s3.put_object(Bucket=BUCKET, Key=f"{v1}deploy.json", Body=json.dumps(changed).encode())
    expect(stack.poll()[1] == 1, "the edit postponed while Creating")
    stack.advance(ENDPOINT, 4)
    expect(retry(stack, "the endpoint is still Creating: postponed again, not lost") == 1,
           "the edit postponed again")
    stack.advance(ENDPOINT, 4)
    stack.expect_answers(ENDPOINT, GOOD)
    stack.deliver_events()
    expect(retry(stack, "the endpoint is InService: the edit is applied") == 0, "the edit applied")
    stack.advance(ENDPOINT, 6)
    stack.deliver_events()
    step("the endpoint now: the settings edited during Creating are live")
    live = stack.endpoint(ENDPOINT)
    expect(live["ServerlessConfig"]["MemorySizeInMB"] == 4096 and live["EndpointStatus"] == "InService",
           "4096 MB live")
    tested = live["EndpointConfigName"]

    v2 = f"models/{ENDPOINT}/v2/"
    step(f"3. a broken model under {v2}: deployed, fails its smoke test, rolled back")
    upload(stack, v2, changed, artifact, extra=b"\0")
    stack.poll()
    stack.advance(ENDPOINT, 6)
    stack.expect_answers(ENDPOINT, MODEL_ERROR)
    stack.deliver_events()
    note("the rollback is an update too: Updating for minutes; the old model answers again")
    stack.advance(ENDPOINT, 6)
    stack.expect_answers(ENDPOINT, GOOD)
    stack.deliver_events()
    step("the endpoint after the rollback")
    expect(stack.endpoint(ENDPOINT)["EndpointConfigName"] == tested, f"rolled back to {tested}")
    for alert in stack.alerts():
        note(f"SNS alert: {alert.splitlines()[0]}")

    failing = f"models/{EXPERIMENT}/v1/"
    step(f"4. {failing}: a model SageMaker cannot start (its create ends Failed)")
    note("(the emulator fails the create of an artifact with S3 metadata emulator-failure: <FailureReason>)")
    upload(stack, failing, settings, artifact, extra=b"\0\0", metadata={"emulator-failure": CANNOT_START})
    stack.poll()
    stack.advance(EXPERIMENT, 8)
    stack.deliver_events()
    step("reported: the ledger entry and the SNS alert, with SageMaker's FailureReason")
    expect(outcomes(stack, EXPERIMENT, show=True) == ["create-failed"], "create-failed in the ledger")
    alerts = stack.alerts()
    for alert in alerts:
        print("\n".join(f"   | {line}" for line in alert.splitlines()))
    expect(len(alerts) == 1 and CANNOT_START in alerts[0], "one create-failed alert with the FailureReason")

    fixed = f"models/{EXPERIMENT}/v2/"
    step(f"5. the next upload ({fixed}) recovers it: no manual step")
    upload(stack, fixed, settings, artifact)
    expect(stack.poll()[1] >= 1, "the upload waiting while the Failed endpoint is Deleting")
    stack.advance(EXPERIMENT, 2)
    stack.deliver_events()
    expect(retry(stack, "the old endpoint is gone: it is created again") == 0, "the endpoint created again")
    stack.advance(EXPERIMENT, 8)
    stack.expect_answers(EXPERIMENT, GOOD)
    stack.deliver_events()
    step(f"{EXPERIMENT} now")
    expect(stack.endpoint(EXPERIMENT)["EndpointStatus"] == "InService", f"{EXPERIMENT} InService")

    step("6. each endpoint's history in the ledger (README, \"Deployment history\")")
    print(f"   aws dynamodb query --table-name \"$LEDGER_TABLE\" \\\n"
          f"     --key-condition-expression \"endpoint = :e AND begins_with(entry, :d)\" \\\n"
          f"     --expression-attribute-values '{{\":e\": {{\"S\": \"<endpoint>\"}}, \":d\": {{\"S\": \"deployment#\"}}}}' \\\n"
          f"     --query '{HISTORY_QUERY}' --output table")
    for name in (ENDPOINT, EXPERIMENT):
        print(f"\n   {name}:")
        history = outcomes(stack, name, show=True)
        expect("in-progress" not in history, f"every deployment of {name} ended")
    expect(outcomes(stack, EXPERIMENT) == ["create-failed", "deployed"], "create-failed, then deployed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

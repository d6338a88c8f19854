#!/usr/bin/env python3
"""What template.yaml wires together, made on the local emulator for scripts/demo.

The stack: a versioned models bucket whose uploads below `models/` notify the
deploy queue (SQS, redrive to a dead-letter queue); the deployer reading that
queue through an event source mapping with ReportBatchItemFailures; the
deployment ledger (DynamoDB); the alert topic (SNS); an EventBridge rule that
hands every state change of a managed endpoint to the smoke tester.

Here the same resources are made in the emulator (S3 itself puts the
notifications on the queue) and what Lambda and EventBridge would do is done
by hand, as the integration tests do: `Stack.poll` is one poll of the event
source mapping (receive a batch, invoke the real deployer binary with it,
delete what it did not report as failed); `Stack.deliver_events` hands the
emulator's state-change feed to the real smoke tester. Time is virtual: an
endpoint on the emulator's clock settles when `advance` moves it, and a
message the deployer postponed comes back when `time_passes`.
"""

import atexit
import json
import os
import sys
import urllib.parse
import urllib.request

import boto3
import jmespath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lambda_harness  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "ml-models-123456789012"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-serverless-pipeline-execution"
MANAGED = "sagemaker-serverless-pipeline"
# README, "Deployment history": the command that prints one endpoint's history.
HISTORY_QUERY = "sort_by(Items, &started_at.S)[].[started_at.S, outcome.S, config_name.S, artifact_key.S, reason.S]"


def step(text):
    print(f"\n== {text}", flush=True)


def note(text):
    print(f"   {text}", flush=True)


def emulator(method, path, body=None):
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL"] + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def emulator_post(path, body):
    return emulator("POST", path, body)


_CARGO_LAMBDA = []


def invoke_function(binary, event, env, show_logs=True, with_logs=False):
    """Runs a function binary once on `cargo lambda watch`, invoked by `cargo lambda invoke`
    (scripts/lambda_harness.py); one watch server serves the whole demo. `with_logs`: also
    returns the function's log lines."""
    if not _CARGO_LAMBDA:
        _CARGO_LAMBDA.append(lambda_harness.CargoLambda())
        atexit.register(_CARGO_LAMBDA[0].close)
    outcome = _CARGO_LAMBDA[0].invoke(binary, json.dumps(event).encode(), lambda_harness.parse_env(env),
                                      echo_logs=show_logs)
    if not outcome.get("ok"):
        print(json.dumps(outcome, indent=2))
        sys.exit(f"demo: {os.path.basename(binary)} reported an error (see above)")
    if with_logs:
        return outcome["response"], outcome.get("logs", [])
    return outcome["response"]


def show_log(who, lines):
    """A function's log lines, without the runtime's span prefix and the EMF metric documents."""
    for line in lines:
        # The per-message summary repeats the record lines above it.
        if line.startswith("{") or not line.strip() or "queued upload handled" in line:
            continue
        level, _, rest = line.strip().partition(" ")
        _, marker, message = rest.partition("}: ")
        print(f"   {who} {level:<5} {message if marker else rest}")


def smoke_report(report):
    """The parts of a smoke tester report worth a line each."""
    keep = ("endpoint", "endpoint_config", "outcome", "reasons", "cold_start_ms", "warm_ms", "rollback",
            "deployment_outcome", "notified")
    return {k: report[k] for k in keep if report.get(k) not in (None, [], "")}


class Stack:
    def __init__(self, deployer_binary, smoke_tester_binary):
        self.deployer_binary = deployer_binary
        self.smoke_tester_binary = smoke_tester_binary
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.sagemaker = boto3.client("sagemaker")
        self.dynamodb = boto3.client("dynamodb")
        self.sns = boto3.client("sns")
        self.postponed = []
        self.feed_after = emulator("GET", "/_emulator/events?after=0")["Last"]
        self.answers = {}

    def create(self):
        """The stack's resources (template.yaml: ModelsBucket, DeployQueue, DeadLetterQueue,
        DeploymentLedger, NotificationTopic), plus a queue subscribed to the topic to read alerts."""
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dlq = self.sqs.create_queue(QueueName="pipeline-DeadLetterQueue")["QueueUrl"]
        self.queue_url = self.sqs.create_queue(QueueName="pipeline-DeployQueue", Attributes={
            "VisibilityTimeout": "360", "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": self.queue_arn(dlq), "maxReceiveCount": "50"}),
        })["QueueUrl"]
        self.s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": self.queue_arn(self.queue_url), "Events": ["s3:ObjectCreated:*"],
                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "models/"},
                                                    {"Name": "suffix", "Value": suffix}]}}}
                for suffix in ("model.tar.gz", "deploy.json")]})
        self.table = "pipeline-DeploymentLedger"
        self.dynamodb.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "endpoint", "AttributeType": "S"},
                                  {"AttributeName": "entry", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "endpoint", "KeyType": "HASH"},
                       {"AttributeName": "entry", "KeyType": "RANGE"}],
            SSESpecification={"Enabled": True})
        self.topic = self.sns.create_topic(Name="pipeline-NotificationTopic")["TopicArn"]
        self.alerts_url = self.sqs.create_queue(QueueName="demo-alerts")["QueueUrl"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=self.queue_arn(self.alerts_url),
                           Attributes={"RawMessageDelivery": "true"})
        note(f"bucket s3://{BUCKET} (versioned) -> notifications for models/**/model.tar.gz and deploy.json")
        note(f"deploy queue {self.queue_url} (DLQ after 50 receives)")
        note(f"ledger table {self.table}; alert topic {self.topic}")

    def queue_arn(self, url):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # ------------------------------------------------------------------ deployer (event source mapping)
    def deployer_env(self):
        return [f"EXECUTION_ROLE_ARN={ROLE}", "MODELS_PREFIX=models/", f"LEDGER_TABLE={self.table}",
                f"DEPLOY_QUEUE_URL={self.queue_url}", f"NOTIFY_TOPIC_ARN={self.topic}"]

    def poll(self):
        """One poll of the event source mapping; returns (received, postponed) counts."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                            AttributeNames=["All"], MessageAttributeNames=["All"],
                                            WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            note("deploy queue: nothing to deliver")
            return 0, 0
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn(self.queue_url), "awsRegion": "us-east-1",
        } for m in messages]
        note(f"deploy queue -> deployer: a batch of {len(records)}: "
             + ", ".join(describe_message(m["Body"]) for m in messages))
        response, logs = invoke_function(self.deployer_binary, {"Records": records}, self.deployer_env(),
                                         show_logs=False, with_logs=True)
        show_log("deployer |", logs)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] in failed:
                self.postponed.append(m["ReceiptHandle"])
                note(f"{describe_message(m['Body'])}: batch item failure -> stays on the queue, "
                     "hidden for the deployer's backoff (30 s, doubling)")
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
                note(f"{describe_message(m['Body'])}: done -> deleted from the queue")
        return len(messages), len(failed)

    def time_passes(self):
        """The postponement ends: what the deployer hid becomes visible again."""
        for receipt in self.postponed:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
        self.postponed = []

    # ------------------------------------------------------------------ SageMaker's timing and events
    def on_clock(self, endpoint, **minutes):
        """The endpoint settles in virtual minutes (create 8, update 6, delete 2 unless given)."""
        emulator_post(f"/_emulator/endpoints/{endpoint}/lifecycle", minutes)

    def advance(self, endpoint, minutes):
        out = emulator_post(f"/_emulator/endpoints/{endpoint}/advance", {"minutes": minutes})
        shown = out["Endpoint"]["EndpointStatus"] if out["Endpoint"] else "gone"
        note(f"{minutes:g} virtual minutes pass for {endpoint}: {shown}")
        return out

    def expect_answers(self, endpoint, answers):
        """What the endpoint answers the smoke tester (there is no model container here)."""
        emulator_post(f"/_emulator/endpoints/{endpoint}/invoke-results", {"results": answers, "replace": True})

    def deliver_events(self):
        """EventBridge: every state change of a managed endpoint -> the smoke tester."""
        out = emulator("GET", f"/_emulator/events?after={self.feed_after}")
        self.feed_after = out["Last"]
        reports = []
        for event in out["Events"]:
            detail = event["detail"]
            if detail.get("Tags", {}).get("managed-by") != MANAGED:
                continue
            note(f"EventBridge -> smoke tester: {detail['EndpointName']} {detail['EndpointStatus']}"
                 + (f" (FailureReason: {detail['FailureReason']})" if detail.get("FailureReason") else ""))
            report = invoke_function(self.smoke_tester_binary, event, [
                "METRICS_NAMESPACE=ServerlessInferencePipeline", "CLAIM_SETTLE_MS=100",
                f"LEDGER_TABLE={self.table}", f"NOTIFY_TOPIC_ARN={self.topic}"], show_logs=False)
            if report.get("outcome") != "ignored" or report.get("deployment_outcome"):
                print(json.dumps(smoke_report(report), indent=2))
            reports.append(report)
        return reports

    # ------------------------------------------------------------------ what a person sees
    def alerts(self):
        """Messages published to the alert topic since the last call."""
        bodies = []
        while True:
            out = self.sqs.receive_message(QueueUrl=self.alerts_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not out.get("Messages"):
                return bodies
            for m in out["Messages"]:
                bodies.append(m["Body"])
                self.sqs.delete_message(QueueUrl=self.alerts_url, ReceiptHandle=m["ReceiptHandle"])

    def history(self, endpoint, show=True):
        """README's `aws dynamodb query ... --query '<HISTORY_QUERY>' --output table`, through boto3."""
        items = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression="endpoint = :e AND begins_with(entry, :d)",
            ExpressionAttributeValues={":e": {"S": endpoint}, ":d": {"S": "deployment#"}})
        rows = jmespath.search(HISTORY_QUERY, items) or []
        if not show:
            return rows
        print(f"   {'started_at':<36} {'outcome':<18} {'config_name':<31} {'artifact_key':<41} reason")
        for started, outcome, config, key, reason in rows:
            print(f"   {started:<36} {outcome:<18} {config:<31} {key:<41} {reason or ''}")
        return rows

    def endpoint(self, name):
        """The endpoint as SageMaker shows it: status, config, memory, model data."""
        described = self.sagemaker.describe_endpoint(EndpointName=name)
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        variant = config["ProductionVariants"][0]
        model = self.sagemaker.describe_model(ModelName=variant["ModelName"])
        arn = described["EndpointArn"]
        shown = {
            "EndpointName": name,
            "EndpointStatus": described["EndpointStatus"],
            "EndpointConfigName": described["EndpointConfigName"],
            "ServerlessConfig": variant["ServerlessConfig"],
            "ModelDataUrl": model["PrimaryContainer"]["ModelDataUrl"],
            "Image": model["PrimaryContainer"]["Image"],
            "EndpointTags": {t["Key"]: t["Value"] for t in self.sagemaker.list_tags(ResourceArn=arn)["Tags"]},
        }
        if described.get("FailureReason"):
            shown["FailureReason"] = described["FailureReason"]
        print(json.dumps(shown, indent=2))
        return shown


def describe_message(body):
    """`s3://bucket/key` of the notification a message carries (or what it is instead)."""
    try:
        message = json.loads(body)
    except ValueError:
        return "(not JSON)"
    if message.get("Event") == "s3:TestEvent":
        return "S3's test event"
    records = message.get("Records") or [{}]
    obj = records[0].get("s3", {}).get("object", {})
    return f"s3://{BUCKET}/{urllib.parse.unquote_plus(obj.get('key', '?'))}"

"""Self-check of pause injection (pause_points.py); registered by importing it from test_launch.py."""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

from selfcheck_support import REGION, Ctx, check, n


@check
def a_paused_call_waits_for_its_release_then_happens(c: Ctx) -> None:
    caller = n("pause", "caller")
    sqs = boto3.client("sqs", endpoint_url=c.url, region_name=REGION, aws_access_key_id=caller,
                       aws_secret_access_key="test",
                       config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    url = sqs.create_queue(QueueName=n("pause", "q"))["QueueUrl"]
    status, view = c.control("POST", "pause", {"caller": caller, "operation": "sqs:SendMessage"})
    assert status == 200 and view["armed"] and not view["held"], view
    answers: list[str] = []
    held = threading.Thread(
        target=lambda: answers.append(sqs.send_message(QueueUrl=url, MessageBody="slow")["MessageId"]))
    held.start()
    _, view = c.control("GET", f"pause/{caller}?wait=5")
    assert view["held"] and view["operation"] == "sqs:SendMessage", view

    def count() -> str:
        return c.boto("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]

    # The caller's other calls, and other callers, are served meanwhile.
    sqs.get_queue_url(QueueName=url.rsplit("/", 1)[-1])
    assert count() == "0", "the paused call happened before its release"
    status, view = c.control("DELETE", f"pause/{caller}")
    assert status == 200 and not view["armed"], view
    held.join(timeout=10)
    assert not held.is_alive() and answers, "the released call was not answered"
    assert count() == "1", "the released call never happened"
    # One call only: the next one of that operation passes.
    sqs.send_message(QueueUrl=url, MessageBody="fast")
    status, _ = c.control("POST", "pause", {"caller": caller, "operation": "SendMessage"})
    assert status == 400

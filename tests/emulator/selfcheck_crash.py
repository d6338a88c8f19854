"""Self-check of crash injection (crash_points.py); registered by importing it from test_launch.py."""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

from selfcheck_support import REGION, Ctx, check, n


@check
def crash_after_n_calls_holds_the_next_one(c: Ctx) -> None:
    caller = n("crash", "caller")
    sqs = boto3.client("sqs", endpoint_url=c.url, region_name=REGION, aws_access_key_id=caller,
                       aws_secret_access_key="test",
                       config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    url = sqs.create_queue(QueueName=n("crash", "q"))["QueueUrl"]
    status, view = c.control("POST", "crash", {"caller": caller, "after": 2})
    assert status == 200 and view["armed"] and view["after"] == 2, view
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    # The third call is held: it never reaches the queue.
    held = threading.Thread(target=lambda: _ignore(sqs.send_message, QueueUrl=url, MessageBody="three"))
    held.start()
    _, view = c.control("GET", f"crash/{caller}?wait=5")
    assert view["tripped"] and view["served"] == 2, view
    assert view["held"] == ["sqs:SendMessage"], view
    # Other callers are served meanwhile.
    assert c.boto("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"] == "2"
    status, view = c.control("DELETE", f"crash/{caller}")
    assert status == 200 and not view["armed"] and view["served"] == 2, view
    held.join(timeout=10)
    assert not held.is_alive()
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "2", "the held call never happened"
    status, _ = c.control("POST", "crash", {"caller": caller, "after": -1})
    assert status == 400


def _ignore(call, **kwargs) -> None:  # type: ignore[no-untyped-def]
    try:
        call(**kwargs)
    except Exception:  # noqa: BLE001 - the held call's answer goes to no one
        pass

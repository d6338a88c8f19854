"""S3 event notifications as AWS sends them.

moto's notification record (what it puts on a queue, topic or function) has the
object's key, size and eTag only, and escapes the key's slashes. AWS's record
(the shape of events/s3-put-model.json) also has `userIdentity`,
`requestParameters`, `responseElements` and the bucket's `ownerIdentity`, and
the object's `versionId` (versioned buckets) and `sequencer`, which the
deployer reads: the version is the artifact it deploys (and names its model
after), the sequencer orders two events of one key. Keys are URL-encoded with
`/` left as is.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications

_orig_get_s3_event = notifications._get_s3_event
_LOCK = threading.Lock()
# AWS's sequencer is an opaque hex string that grows with each event of a key
# (compared after left-padding); one counter for all keys keeps that true.
_sequence = itertools.count(0x0062D8A400000000)


def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _orig_get_s3_event(event_name, bucket, key, notification_id)
    record = event["Records"][0]
    # Who and from where: the emulator does not know the caller; fixed values in AWS's shape.
    record["userIdentity"] = {"principalId": "AWS:AIDAEMULATOREXAMPLE"}
    record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
    record["responseElements"] = {"x-amz-request-id": secrets.token_hex(8).upper(),
                                  "x-amz-id-2": secrets.token_urlsafe(48)}
    record["s3"]["bucket"]["ownerIdentity"] = {"principalId": "A3NL1KOZZKEMULATOR"}
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key.name, safe="/")
    with _LOCK:
        obj["sequencer"] = format(next(_sequence), "016X")
    version = getattr(key, "version_id", None)
    if version and version != "null":
        obj["versionId"] = version
    return event


def apply() -> None:
    notifications._get_s3_event = _get_s3_event

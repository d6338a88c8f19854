"""Endpoint lifecycle on AWS's timing (docs/emulator.md, "Lifecycle on AWS's timing").

* Virtual minutes: an endpoint opted in through `POST /_emulator/endpoints/<name>/lifecycle`
  (before or after it exists) has its own virtual clock. CreateEndpoint / UpdateEndpoint put it
  in Creating / Updating for `create_minutes` / `update_minutes` of that clock, whatever the
  settle policy; DeleteEndpoint leaves it Deleting (still described and listed, its name not
  free for CreateEndpoint) for `delete_minutes`, then it is gone (no event: SageMaker sends none
  for the end of a deletion). Only `POST .../advance` (or `POST /_emulator/clock/advance`)
  moves the clock.
  Each endpoint has its own clock, so tests running in parallel never move each other's.
* Marked artifacts: a model whose S3 artifact (ModelDataUrl, current version) carries the user
  metadata `emulator-failure: <reason>` makes a create end `Failed` with that FailureReason,
  and an update roll back: InService again on the old config, FailureReason set. This applies
  however the endpoint settles (virtual clock, timed settle policy, `POST .../settle`).
  An endpoint opted in with `check_artifacts: true` fails the same way, with SageMaker's
  reason, when a model's ModelDataUrl or its s3:// SAGEMAKER_SUBMIT_DIRECTORY is missing from
  an existing bucket (SageMaker downloads both whenever it starts the model's capacity).
* Event feed: every status change appends the "SageMaker Endpoint State Change" event that
  EventBridge would deliver (`GET /_emulator/events?endpoint=<name>&after=<seq>`); an endpoint
  opted in with `duplicate_events: n` gets each event n more times (same id, as an
  at-least-once redelivery).
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from moto.core.utils import utcnow

FAILURE_METADATA = "x-amz-meta-emulator-failure"
DEFAULT_CREATE_MINUTES = 8.0
DEFAULT_UPDATE_MINUTES = 6.0
DEFAULT_DELETE_MINUTES = 2.0
FEED_LIMIT = 100_000  # oldest events are dropped past this (the bench creates many endpoints)

_LOCK = threading.RLock()


@dataclass
class Clock:
    """One endpoint's virtual clock: minutes elapsed, and when the pending change completes."""

    create_minutes: float = DEFAULT_CREATE_MINUTES
    update_minutes: float = DEFAULT_UPDATE_MINUTES
    delete_minutes: float = DEFAULT_DELETE_MINUTES
    duplicate_events: int = 0
    check_artifacts: bool = False
    now: float = 0.0
    due: float | None = None

    def view(self) -> dict[str, Any]:
        return {
            "CreateMinutes": self.create_minutes,
            "UpdateMinutes": self.update_minutes,
            "DeleteMinutes": self.delete_minutes,
            "DuplicateEvents": self.duplicate_events,
            "CheckArtifacts": self.check_artifacts,
            "VirtualMinutes": self.now,
            "PendingUntil": self.due,
        }


# State lives on moto's SageMaker backend objects, so `POST /moto-api/reset` wipes it.
_next_seq = 1


def _backend(account: str, region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][region]


def _clocks(account: str, region: str) -> dict[str, Clock]:
    return _backend(account, region).__dict__.setdefault("_emu_clocks", {})


def _feed(account: str, region: str) -> list[dict[str, Any]]:
    return _backend(account, region).__dict__.setdefault("_emu_feed", [])


def _key(ep: Any) -> tuple[str, str, str]:
    # arn:aws:sagemaker:<region>:<account>:endpoint/<name>
    parts = ep.arn.split(":")
    return parts[4], parts[3], ep.endpoint_name


def _minutes(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of minutes >= 0")
    return float(value)


def parse_minutes(body: dict[str, Any]) -> float:
    """`{"minutes": m}` of an advance request."""
    if "minutes" not in body:
        raise ValueError('give {"minutes": <number >= 0>}')
    return _minutes(body, "minutes", 0.0)


def opt_in(account: str, region: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Puts endpoint `name` on a virtual clock (settings replaced, clock kept)."""
    create = _minutes(body, "create_minutes", DEFAULT_CREATE_MINUTES)
    update = _minutes(body, "update_minutes", DEFAULT_UPDATE_MINUTES)
    delete = _minutes(body, "delete_minutes", DEFAULT_DELETE_MINUTES)
    duplicates = body.get("duplicate_events", 0)
    if isinstance(duplicates, bool) or not isinstance(duplicates, int) or not 0 <= duplicates <= 10:
        raise ValueError("duplicate_events must be an integer from 0 to 10")
    check_artifacts = body.get("check_artifacts", False)
    if not isinstance(check_artifacts, bool):
        raise ValueError("check_artifacts must be true or false")
    with _LOCK:
        clock = _clocks(account, region).setdefault(name, Clock())
        clock.create_minutes, clock.update_minutes = create, update
        clock.delete_minutes = delete
        clock.duplicate_events = duplicates
        clock.check_artifacts = check_artifacts
        return clock.view()


def clock_of(ep: Any) -> Clock | None:
    account, region, name = _key(ep)
    return _clocks(account, region).get(name)


def clock_view(account: str, region: str, name: str) -> dict[str, Any] | None:
    clock = _clocks(account, region).get(name)
    return clock.view() if clock else None


# --------------------------------------------------------------------------
# Marked artifacts
# --------------------------------------------------------------------------

def _artifact_urls(model: Any) -> list[str]:
    urls = []
    for container in [model.primary_container or {}, *(model.containers or [])]:
        url = container.get("ModelDataUrl") or (
            (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
        ).get("S3Uri")
        if url:
            urls.append(url)
    return urls


def _s3_object(account: str, url: str) -> tuple[bool, Any]:
    """(bucket exists, current object or None) for an s3:// URL."""
    from moto.s3.models import s3_backends

    match = re.match(r"s3://([^/]+)/(.+)$", url)
    if not match:
        return False, None
    try:
        return True, s3_backends[account]["aws"].get_object(match.group(1), match.group(2))
    except Exception:  # missing bucket: AWS would fail differently; not judged
        return False, None


def _failure_mark(account: str, url: str) -> str | None:
    _, key = _s3_object(account, url)
    if key is None:
        return None
    return key.metadata.get(FAILURE_METADATA)


def _submit_directories(model: Any) -> list[str]:
    urls = []
    for container in [model.primary_container or {}, *(model.containers or [])]:
        url = (container.get("Environment") or {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if url.startswith("s3://"):
            urls.append(url)
    return urls


def _missing(account: str, model: Any) -> str | None:
    """SageMaker's reason when what the model names is not in S3 (check_artifacts)."""
    for url in _artifact_urls(model):
        bucket, key = _s3_object(account, url)
        if bucket and key is None:
            return (f'Failed to download model data for container "container_1" from URL: "{url}". '
                    "Please ensure that there is an object located at the URL and that the role "
                    "passed to CreateModel has permissions to download the object.")
    for url in _submit_directories(model):
        bucket, key = _s3_object(account, url)
        if bucket and key is None:
            # The container downloads its code at start, fails, and never answers /ping.
            return ("The primary container for production variant AllTraffic did not pass the "
                    "ping health check. Please check CloudWatch logs for this endpoint.")
    return None


def artifact_failure(backend: Any, config_name: str, check_missing: bool = False) -> str | None:
    """FailureReason a marked artifact of the config's models asks for (or, with
    `check_missing`, a model data / code archive missing from S3), else None."""
    config = backend.endpoint_configs.get(config_name)
    for variant in (config.production_variants if config else None) or []:
        model = backend._models.get(variant.get("ModelName"))
        if model is None:
            continue
        for url in _artifact_urls(model):
            reason = _failure_mark(backend.account_id, url)
            if reason:
                return reason
        if check_missing:
            reason = _missing(backend.account_id, model)
            if reason:
                return reason
    return None


# --------------------------------------------------------------------------
# Transitions (callers hold sagemaker_patches.LOCK)
# --------------------------------------------------------------------------

def _start_clock(ep: Any) -> None:
    clock = clock_of(ep)
    if clock is None:
        return
    if ep.endpoint_status == "Creating":
        clock.due = clock.now + clock.create_minutes
    elif ep.endpoint_status == "Updating":
        clock.due = clock.now + clock.update_minutes
    elif ep.endpoint_status == "Deleting":
        clock.due = clock.now + clock.delete_minutes
    else:
        clock.due = None


def started(ep: Any, backend: Any, previous: dict[str, Any] | None) -> None:
    """CreateEndpoint (previous None) / UpdateEndpoint: remember how it will end
    (a marked artifact fails it), start the virtual clock, emit the event."""
    clock = clock_of(ep)
    ep._emu_failure = artifact_failure(backend, ep.endpoint_config_name,
                                       check_missing=bool(clock and clock.check_artifacts))
    ep._emu_previous = previous
    _start_clock(ep)
    emit(ep)


def capacity_started(ep: Any) -> None:
    """UpdateEndpointWeightsAndCapacities: Updating on the same config; nothing to
    roll back to (no new model is loaded, so a marked artifact does not fail it)."""
    ep._emu_failure = None
    ep._emu_previous = None
    _start_clock(ep)
    emit(ep)


def deleting(ep: Any) -> bool:
    """DeleteEndpoint of an endpoint on a virtual clock: `Deleting` until the clock has moved
    `delete_minutes` (advance then removes it). False without a clock, or with 0 delete
    minutes: the caller removes it at once."""
    clock = clock_of(ep)
    if clock is None or clock.delete_minutes == 0:
        return False
    ep.endpoint_status = "Deleting"
    ep._emu_failure = None
    ep._emu_previous = None
    _start_clock(ep)
    emit(ep)
    return True


def restarted(ep: Any) -> None:
    """A control-API status: a settled one drops what was pending; Creating /
    Updating restart the virtual clock. Emits the event."""
    if ep.endpoint_status not in ("Creating", "Updating"):
        ep._emu_failure = None
        ep._emu_previous = None
    _start_clock(ep)
    emit(ep)


def complete(ep: Any) -> bool:
    """Ends a pending Creating / Updating as AWS would, or a Deleting (the endpoint is
    gone, with no event); False when nothing was pending."""
    if ep.endpoint_status == "Deleting":
        account, region, name = _key(ep)
        endpoints = _backend(account, region).endpoints
        if endpoints.get(name) is ep:
            del endpoints[name]
        clock = clock_of(ep)
        if clock is not None:
            clock.due = None
        return True
    if ep.endpoint_status not in ("Creating", "Updating"):
        return False
    reason = ep.__dict__.get("_emu_failure")
    previous = ep.__dict__.get("_emu_previous")
    if ep.endpoint_status == "Creating" and reason:
        ep.endpoint_status = "Failed"
        ep.failure_reason = reason
    else:
        ep.endpoint_status = "InService"
        for variant in ep.production_variants or []:
            # A capacity update is done: the variant runs what it was asked for.
            if "DesiredServerlessConfig" in variant:
                variant["CurrentServerlessConfig"] = variant["DesiredServerlessConfig"]
        if reason and previous:
            # SageMaker rolls a failed update back: the old config serves again.
            ep.endpoint_config_name = previous["endpoint_config_name"]
            ep.production_variants = previous["production_variants"]
            ep.data_capture_config = previous["data_capture_config"]
            ep.failure_reason = reason
        ep._emu_served = True
    ep._emu_failure = None
    ep._emu_previous = None
    clock = clock_of(ep)
    if clock is not None:
        clock.due = None
    emit(ep)
    return True


def advance(ep: Any | None, account: str, region: str, name: str, minutes: float) -> list[dict]:
    """Moves one endpoint's virtual clock; returns the events of the transitions it caused."""
    with _LOCK:
        clock = _clocks(account, region).get(name)
        if clock is None:
            raise KeyError(name)
        clock.now += minutes
        due = clock.due is not None and clock.now >= clock.due
    if ep is None or not due:
        return []
    before = _next_seq
    complete(ep)
    return [e["event"] for e in _feed(account, region) if e["seq"] >= before and e["endpoint"] == name]


def advance_all(account: str, region: str, minutes: float) -> list[dict]:
    """Moves every opted-in endpoint's clock (a convenience for one-test runs such as the demo)."""
    backend = _backend(account, region)
    events: list[dict] = []
    for name in list(_clocks(account, region)):
        events += advance(backend.endpoints.get(name), account, region, name, minutes)
    return events


# --------------------------------------------------------------------------
# Event feed
# --------------------------------------------------------------------------

def _upper_snake(status: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", status).upper()


def _millis(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def state_change_event(ep: Any) -> dict[str, Any]:
    """The EventBridge event SageMaker sends for the endpoint's current status."""
    account, region, _ = _key(ep)
    detail: dict[str, Any] = {
        "EndpointName": ep.endpoint_name,
        "EndpointArn": ep.arn,
        "EndpointConfigName": ep.endpoint_config_name,
        "ProductionVariants": [dict(v) for v in ep.production_variants or []],
        "EndpointStatus": _upper_snake(ep.endpoint_status),
        "CreationTime": _millis(ep.creation_time),
        "LastModifiedTime": _millis(ep.last_modified_time),
        "Tags": {t["Key"]: t.get("Value", "") for t in ep.tags or []},
    }
    if ep.failure_reason:
        detail["FailureReason"] = ep.failure_reason
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [ep.arn],
        "detail": detail,
    }


def emit(ep: Any) -> None:
    clock = clock_of(ep)
    account, region, name = _key(ep)
    append_event(account, region, name, state_change_event(ep), 1 + (clock.duplicate_events if clock else 0))


def append_event(account: str, region: str, key: str, event: dict[str, Any], copies: int = 1) -> None:
    """Adds `event` to the feed under `key` (an endpoint name, or another source's key)."""
    global _next_seq
    with _LOCK:
        feed = _feed(account, region)
        for _ in range(copies):
            feed.append({"seq": _next_seq, "endpoint": key, "event": event})
            _next_seq += 1
        del feed[:-FEED_LIMIT]


def events(account: str, region: str, name: str | None, after: int) -> dict[str, Any]:
    """Events after sequence number `after` (of one endpoint, or all); `Last` is the cursor."""
    with _LOCK:
        picked = [e["event"] for e in _feed(account, region)
                  if e["seq"] > after and (name is None or e["endpoint"] == name)]
        last = _next_seq - 1
    return {"Events": picked, "Last": last}

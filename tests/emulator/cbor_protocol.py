"""Smithy RPC v2 CBOR in front of moto's CloudWatch.

The AWS SDK for Rust (aws-sdk-cloudwatch 1.9x and later) speaks CloudWatch's
newest protocol, `smithy-rpc-v2-cbor`:

    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    Content-Type: application/cbor, smithy-protocol: rpc-v2-cbor

moto 5.2.5 serves CloudWatch over the older awsJson1_0 protocol only (the
404 the SDK then gets is not what AWS answers). This middleware decodes the
CBOR request, forwards it to moto as awsJson1_0 (same operation, same
members) and encodes moto's JSON answer back as CBOR, timestamps as CBOR
tag 1 (epoch seconds), errors as `{"__type", "message"}` with moto's status.

The CBOR itself is PyPI's cbor2 (RFC 8949); this module only maps the
protocol's types: timestamps (tag 1, decoded by cbor2 as datetimes) to the
epoch seconds awsJson carries, and back; doubles as CBOR floats even when
moto gives a whole number.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
from datetime import datetime
from typing import Any, Callable

import cbor2

ROUTE = re.compile(r"^/service/(?P<service>[A-Za-z0-9_]+)/operation/(?P<operation>[A-Za-z0-9_]+)$")
SERVICES = {"GraniteServiceVersion20100801"}  # CloudWatch
# Members that hold timestamps in CloudWatch responses (encoded as tag 1).
TIMESTAMP_MEMBERS = {
    "Timestamps", "Timestamp", "StartTime", "EndTime", "LastUpdated", "StateUpdatedTimestamp",
    "StateTransitionedTimestamp", "AlarmConfigurationUpdatedTimestamp", "CreationDate", "LastModified",
}
# Members that hold doubles (CBOR floats even when moto gives a whole number).
DOUBLE_MEMBERS = {"Values", "Value", "Sum", "Average", "Maximum", "Minimum", "SampleCount", "Threshold"}


def _typed(value: Any, kind: str | None = None) -> Any:
    """moto's JSON answer -> values cbor2 encodes as the protocol wants."""
    if isinstance(value, dict):
        return {str(k): _typed(v, "timestamp" if k in TIMESTAMP_MEMBERS else "double" if k in DOUBLE_MEMBERS
                               else None) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, kind) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if kind == "timestamp":
            return cbor2.CBORTag(1, value)
        if kind == "double":
            return float(value)
    return value


def encode(value: Any) -> bytes:
    return cbor2.dumps(_typed(value))


def _plain(value: Any) -> Any:
    """CBOR-decoded request -> JSON-able value (bytes as base64, timestamps as epoch seconds, like awsJson)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, cbor2.CBORTag):
        return _plain(value.value)
    return value


def decode(data: bytes) -> Any:
    return _plain(cbor2.loads(data))


class RpcV2CborMiddleware:
    """Translates rpc-v2-cbor requests for the services in SERVICES."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        match = ROUTE.match(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST" or not match or match["service"] not in SERVICES:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            # The SDK gzips large requests (PutMetricData) with Content-Encoding.
            if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):
                raw = gzip.decompress(raw)
            request = decode(raw) if raw else {}
        except (ValueError, UnicodeDecodeError, OSError, cbor2.CBORDecodeError) as exc:
            return self._reply(start_response, "400 Bad Request",
                               {"__type": "SerializationException", "message": str(exc)})
        body = json.dumps(request).encode()
        inner = dict(environ)
        inner.update({
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"{match['service']}.{match['operation']}",
            "wsgi.input": io.BytesIO(body),
        })
        inner.pop("HTTP_CONTENT_ENCODING", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = status
            return lambda _data: None

        chunks = self.app(inner, capture)
        try:
            answer = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status = captured.get("status", "500 Internal Server Error")
        try:
            payload = json.loads(answer or b"{}")
        except ValueError:
            payload = {"__type": "InternalFailure", "message": answer.decode("utf-8", "replace")[:500]}
        if not status.startswith("2") and isinstance(payload, dict):
            payload.setdefault("__type", "InternalFailure")
            if "message" not in payload and "Message" in payload:
                payload["message"] = payload["Message"]
        return self._reply(start_response, status, payload)

    @staticmethod
    def _reply(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
        data = encode(payload)
        start_response(status, [
            ("Content-Type", "application/cbor"),
            ("Content-Length", str(len(data))),
            ("smithy-protocol", "rpc-v2-cbor"),
        ])
        return [data]

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

Only the standard library: a small CBOR codec (RFC 8949) for what the
protocol uses (integers, floats, strings, bytes, arrays, maps, booleans,
null, tag 1, indefinite lengths on input).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import struct
from typing import Any, Callable

ROUTE = re.compile(r"^/service/(?P<service>[A-Za-z0-9_]+)/operation/(?P<operation>[A-Za-z0-9_]+)$")
SERVICES = {"GraniteServiceVersion20100801"}  # CloudWatch
# Members that hold timestamps in CloudWatch responses (encoded as tag 1).
TIMESTAMP_MEMBERS = {
    "Timestamps", "Timestamp", "StartTime", "EndTime", "LastUpdated", "StateUpdatedTimestamp",
    "StateTransitionedTimestamp", "AlarmConfigurationUpdatedTimestamp", "CreationDate", "LastModified",
}
# Members that hold doubles (CBOR floats even when moto gives a whole number).
DOUBLE_MEMBERS = {"Values", "Value", "Sum", "Average", "Maximum", "Minimum", "SampleCount", "Threshold"}


class Tagged:
    def __init__(self, tag: int, value: Any):
        self.tag, self.value = tag, value


_BREAK = object()


def decode(data: bytes) -> Any:
    stream = io.BytesIO(data)
    value = _decode(stream)
    return value


def _read(stream: io.BytesIO, n: int) -> bytes:
    chunk = stream.read(n)
    if len(chunk) != n:
        raise ValueError("truncated CBOR")
    return chunk


def _argument(stream: io.BytesIO, info: int) -> int | None:
    if info < 24:
        return info
    if info in (24, 25, 26, 27):
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        return int.from_bytes(_read(stream, size), "big")
    if info == 31:
        return None  # indefinite length
    raise ValueError(f"bad CBOR additional info {info}")


def _decode(stream: io.BytesIO) -> Any:
    initial = _read(stream, 1)[0]
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(_read(stream, 2))
        if info == 26:
            return struct.unpack(">f", _read(stream, 4))[0]
        if info == 27:
            return struct.unpack(">d", _read(stream, 8))[0]
        if info == 31:
            return _BREAK
        raise ValueError(f"unsupported CBOR simple value {info}")
    arg = _argument(stream, info)
    if major == 0:
        return arg
    if major == 1:
        return -1 - arg
    if major in (2, 3):
        if arg is None:
            parts = []
            while (part := _decode(stream)) is not _BREAK:
                parts.append(part)
            joined = b"".join(parts) if major == 2 else "".join(parts)
            return joined
        raw = _read(stream, arg)
        return raw if major == 2 else raw.decode("utf-8")
    if major == 4:
        items = []
        if arg is None:
            while (item := _decode(stream)) is not _BREAK:
                items.append(item)
        else:
            items = [_decode(stream) for _ in range(arg)]
        return items
    if major == 5:
        result = {}
        while True:
            if arg is not None and len(result) == arg:
                return result
            key = _decode(stream)
            if key is _BREAK:
                return result
            result[key] = _decode(stream)
    if major == 6:
        value = _decode(stream)
        return value if arg == 1 else Tagged(arg, value)  # tag 1: epoch seconds
    raise ValueError(f"bad CBOR major type {major}")


def _half(raw: bytes) -> float:
    bits = int.from_bytes(raw, "big")
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent, fraction = (bits >> 10) & 0x1F, bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0**-24
    if exponent == 31:
        return sign * math.inf if fraction == 0 else math.nan
    return sign * (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")


def encode(value: Any, kind: str | None = None) -> bytes:
    """`kind` is "timestamp" or "double" for members that need them."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "timestamp" and number:
        return b"\xc1" + encode(value)
    if kind == "double" and number:
        return b"\xfb" + struct.pack(">d", float(value))
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v, kind) for v in value)
    if isinstance(value, dict):
        out = [_head(5, len(value))]
        for k, v in value.items():
            out.append(encode(str(k)))
            member = "timestamp" if k in TIMESTAMP_MEMBERS else "double" if k in DOUBLE_MEMBERS else None
            out.append(encode(v, member))
        return b"".join(out)
    if isinstance(value, Tagged):
        return _head(6, value.tag) + encode(value.value)
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def _plain(value: Any) -> Any:
    """CBOR-decoded request -> JSON-able value (bytes as base64, like awsJson)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Tagged):
        return _plain(value.value)
    return value


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
            request = _plain(decode(raw)) if raw else {}
        except (ValueError, UnicodeDecodeError, OSError) as exc:
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

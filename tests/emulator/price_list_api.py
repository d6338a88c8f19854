"""The AWS Price List Query API's GetProducts, served from recorded answers.

moto has no Price List API. This answers `AWSPriceListService.GetProducts`
(JSON 1.1) from the `GetProducts` pages in shared/tests/data/price_list/
(the documented `aws_v1` format: `PriceList` is a list of JSON strings):
every item of every page is one product; the request's `ServiceCode` and
`Filters` (TERM_MATCH / EQUALS exact, CONTAINS substring, ANY_OF / NONE_OF
comma lists, on `product.attributes`) select items, `MaxResults` (1-100,
default 100) pages them, `NextToken` is opaque to the caller.

Faults, per caller (the access key id of the SigV4 signature, so parallel
tests do not see each other's):

    POST   /_emulator/pricing/faults  {"caller": "<access key id>",
                                       "error": {"Code": "AccessDeniedException",
                                                 "Status": 400, "Message": "..."}}
           -> 200 {"faults": {caller: error}}   every GetProducts of that caller fails so
                                                (AccessDeniedException is not retried by the
                                                SDKs: the caller fails fast)
    DELETE /_emulator/pricing/faults           -> 200 {"faults": {}}   all cleared
    GET    /_emulator/pricing/faults           -> 200 {"faults": {...}}
"""

from __future__ import annotations

import glob
import json
import os
import re
import threading
from typing import Any, Callable

PATH = "/_emulator/pricing/faults"
TARGET_PREFIX = "AWSPriceListService."
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tests", "data", "price_list")
_CALLER = re.compile(r"Credential=(?P<akid>[^/]+)/")


def load_items(data_dir: str = DATA_DIR) -> list[tuple[dict[str, Any], str]]:
    """(parsed item, item as sent) for every item of every recorded page."""
    items = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            page = json.load(f)
        for text in page.get("PriceList", []):
            items.append((json.loads(text), text))
    return items


def _matches(item: dict[str, Any], service_code: str, filters: list[dict[str, Any]]) -> bool:
    if item.get("serviceCode", item.get("product", {}).get("attributes", {}).get("servicecode")) != service_code:
        return False
    attributes = item.get("product", {}).get("attributes", {})
    for f in filters:
        value = attributes.get(f.get("Field", ""))
        wanted = str(f.get("Value", ""))
        kind = f.get("Type", "TERM_MATCH")
        if value is None:
            return False
        if kind in ("TERM_MATCH", "EQUALS") and value != wanted:
            return False
        if kind == "CONTAINS" and wanted not in value:
            return False
        if kind == "ANY_OF" and value not in wanted.split(","):
            return False
        if kind == "NONE_OF" and value in wanted.split(","):
            return False
    return True


class _Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_caller: dict[str, dict[str, Any]] = {}

    def get(self, caller: str) -> dict[str, Any] | None:
        with self.lock:
            return self.by_caller.get(caller)

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {"faults": dict(self.by_caller)}


FAULTS = _Faults()


def get_products(request: dict[str, Any], items: list[tuple[dict[str, Any], str]]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of one GetProducts request."""
    max_results = request.get("MaxResults", 100)
    if not isinstance(max_results, int) or not 1 <= max_results <= 100:
        return 400, {"__type": "InvalidParameterException", "Message": "MaxResults must be 1 to 100"}
    token = request.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        return 400, {"__type": "InvalidNextTokenException", "Message": f"bad NextToken {token!r}"}
    chosen = [text for item, text in items
              if _matches(item, request.get("ServiceCode", ""), request.get("Filters") or [])]
    page = chosen[start:start + max_results]
    body: dict[str, Any] = {"FormatVersion": request.get("FormatVersion", "aws_v1"), "PriceList": page}
    if start + max_results < len(chosen):
        body["NextToken"] = str(start + max_results)
    return 200, body


class PriceListMiddleware:
    """Answers GetProducts and /_emulator/pricing/faults; passes the rest on."""

    def __init__(self, app: Callable[..., Any], data_dir: str = DATA_DIR):
        self.app = app
        self.items = load_items(data_dir)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "") == PATH:
            return self._control(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError:
            return _reply(start_response, 400, {"__type": "InvalidParameterException", "Message": "not JSON"})
        caller = _CALLER.search(environ.get("HTTP_AUTHORIZATION", ""))
        fault = FAULTS.get(caller.group("akid")) if caller else None
        if fault is not None:
            return _reply(start_response, int(fault.get("Status", 400)),
                          {"__type": fault["Code"], "Message": fault.get("Message", "injected fault")})
        if target != TARGET_PREFIX + "GetProducts":
            return _reply(start_response, 400, {"__type": "UnknownOperationException",
                                                "Message": f"{target} is not emulated"})
        status, body = get_products(request, self.items)
        return _reply(start_response, status, body)

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return _reply(start_response, 200, FAULTS.view())
        if method == "DELETE":
            with FAULTS.lock:
                FAULTS.by_caller.clear()
            return _reply(start_response, 200, FAULTS.view())
        if method != "POST":
            return _reply(start_response, 405, {"error": f"method {method} not allowed"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            caller, error = str(body["caller"]), dict(body["error"])
            str(error["Code"])
            int(error.get("Status", 400))
        except (ValueError, KeyError, TypeError) as exc:
            return _reply(start_response, 400, {"error": f"expected {{caller, error: {{Code, Status?}}}}: {exc}"})
        with FAULTS.lock:
            FAULTS.by_caller[caller] = error
        return _reply(start_response, 200, FAULTS.view())


def _reply(start_response: Callable[..., Any], status: int, payload: Any) -> list[bytes]:
    data = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed"}.get(status, "Error")
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
    if status >= 300 and isinstance(payload, dict) and "__type" in payload:
        headers.append(("x-amzn-ErrorType", payload["__type"]))
    start_response(f"{status} {reason}", headers)
    return [data]

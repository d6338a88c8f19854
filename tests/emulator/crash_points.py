"""Crash injection: a caller's process "dies" after its Nth AWS call.

    POST   /_emulator/crash   {"caller": "<access key id>", "after": N}
           -> 200 view   the first N AWS calls signed with that access key id are served;
                         the next one, and every later one, is held unanswered, never
                         reaching AWS (the emulator), as if the caller died while sending it
    GET    /_emulator/crash/<caller>[?wait=S]
           -> 200 view   with wait: answers as soon as the point has tripped or was cleared,
                         or after S seconds (at most 60)
    DELETE /_emulator/crash/<caller>
           -> 200 view   cleared; held calls are answered 503 (their caller is gone) and
                         later calls are served again
    view = {"caller", "armed": bool, "after": N, "served": n, "tripped": bool,
            "held": ["service:Operation", ...]}   (the first held call is where it crashed)

A test runs the code under test until the point trips, then drops it there: every AWS
call made before is in effect, nothing after it happened. It then delivers the same event
again and checks the deployment still ends in one outcome (tests/deployer/crash*.rs).
Held calls are neither counted (GET /_emulator/requests) nor recorded (GET /_emulator/calls):
AWS never saw them. Control-API and /moto-api/ requests are not counted towards N.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Callable
from urllib.parse import parse_qs

import request_counter

PATH = "/_emulator/crash"
_CALLER = re.compile(r"Credential=(?P<akid>[^/]+)/")
MAX_WAIT_SECONDS = 60.0
# A held call is answered after this long even if no one clears the point, so a
# forgotten point never keeps a server thread forever.
MAX_HOLD_SECONDS = 300.0


class _Point:
    def __init__(self, after: int) -> None:
        self.after = after
        self.served = 0
        self.held: list[str] = []
        self.cleared = False


class _Points:
    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.by_caller: dict[str, _Point] = {}

    def view(self, caller: str) -> dict[str, Any]:
        point = self.by_caller.get(caller)
        if point is None:
            return {"caller": caller, "armed": False, "after": None, "served": 0,
                    "tripped": False, "held": []}
        return {"caller": caller, "armed": True, "after": point.after, "served": point.served,
                "tripped": bool(point.held), "held": list(point.held)}

    def arm(self, caller: str, after: int) -> dict[str, Any]:
        with self.changed:
            old = self.by_caller.pop(caller, None)
            if old is not None:
                old.cleared = True
            self.by_caller[caller] = _Point(after)
            self.changed.notify_all()
            return self.view(caller)

    def clear(self, caller: str) -> dict[str, Any]:
        with self.changed:
            view = self.view(caller)
            point = self.by_caller.pop(caller, None)
            if point is not None:
                point.cleared = True
            self.changed.notify_all()
            view["armed"] = False
            return view

    def wait(self, caller: str, seconds: float) -> dict[str, Any]:
        with self.changed:
            point = self.by_caller.get(caller)
            if point is not None:
                self.changed.wait_for(lambda: bool(point.held) or point.cleared, timeout=seconds)
            return self.view(caller)

    def admit(self, caller: str, operation: str) -> bool:
        """True: serve the call. False: it was held, and the point has since been cleared."""
        with self.changed:
            point = self.by_caller.get(caller)
            if point is None:
                return True
            if not point.held and point.served < point.after:
                point.served += 1
                return True
            point.held.append(operation)
            self.changed.notify_all()
            self.changed.wait_for(lambda: point.cleared, timeout=MAX_HOLD_SECONDS)
            return False


POINTS = _Points()


def _reply(start_response: Callable[..., Any], status: int, payload: Any) -> list[bytes]:
    data = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
              503: "Service Unavailable"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data)))])
    return [data]


class CrashMiddleware:
    """Outermost WSGI layer: holds a crashed caller's calls; serves /_emulator/crash."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == PATH or path.startswith(PATH + "/"):
            return self._control(environ, start_response, path[len(PATH):].strip("/"))
        caller = _CALLER.search(environ.get("HTTP_AUTHORIZATION", ""))
        if caller is None or path.startswith("/_emulator/") or path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        if caller.group("akid") not in POINTS.by_caller:
            return self.app(environ, start_response)
        service, operation = request_counter.operation_of(environ)
        if POINTS.admit(caller.group("akid"), f"{service}:{operation}"):
            return self.app(environ, start_response)
        return _reply(start_response, 503, {"__type": "ServiceUnavailable",
                                            "message": "crash injected: this call never reached AWS"})

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any], caller: str) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST" and not caller:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                caller, after = str(body["caller"]), body["after"]
                if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                    raise ValueError("after must be an integer >= 0")
            except (ValueError, KeyError, TypeError) as exc:
                return _reply(start_response, 400, {"error": f'expected {{"caller": "...", "after": N}}: {exc}'})
            return _reply(start_response, 200, POINTS.arm(caller, after))
        if not caller:
            return _reply(start_response, 404, {"error": f"name the caller: {PATH}/<access key id>"})
        if method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                wait = min(float(query.get("wait", ["0"])[0]), MAX_WAIT_SECONDS)
            except ValueError:
                return _reply(start_response, 400, {"error": "wait must be a number of seconds"})
            return _reply(start_response, 200, POINTS.wait(caller, wait) if wait > 0 else POINTS.view(caller))
        if method == "DELETE":
            return _reply(start_response, 200, POINTS.clear(caller))
        return _reply(start_response, 405, {"error": f"method {method} not allowed on {PATH}/<caller>"})

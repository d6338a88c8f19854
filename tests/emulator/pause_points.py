"""Pause injection: one AWS call of a caller is held until the test lets it go on.

    POST   /_emulator/pause   {"caller": "<access key id>", "operation": "s3:CreateMultipartUpload"}
           -> 200 view   the caller's next call of that operation (service:Operation, as
                         GET /_emulator/requests names it) is held before it reaches AWS (the
                         emulator); its other calls, and later calls of that operation, pass
    GET    /_emulator/pause/<caller>[?wait=S]
           -> 200 view   with wait: answers as soon as a call is held (or the pause was
                         released), or after S seconds (at most 60)
    DELETE /_emulator/pause/<caller>
           -> 200 view   released: the held call goes on to AWS and is answered as usual
    view = {"caller", "armed": bool, "operation": "service:Operation" | null, "held": bool}

This is a slow step of the code under test, as long as the test wants it to be: a repack of a
multi-GB artifact, a throttled upload. Unlike a crash (crash_points.py) the caller lives on and
carries on once released; meanwhile the test runs other work (another delivery, time passing),
then checks what the paused caller does next. A held call goes on after crash_points'
MAX_HOLD_SECONDS even if no one releases it, so a forgotten pause never keeps a server thread
forever.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qs

import crash_points
import request_counter
# The same per-caller bookkeeping as a crash point: one point per caller, its calls told
# apart by access key id, a condition to wait on, answers in the same JSON shape.
from crash_points import _CALLER, MAX_HOLD_SECONDS, MAX_WAIT_SECONDS, _reply

PATH = "/_emulator/pause"


class _Pause:
    def __init__(self, operation: str) -> None:
        self.operation = operation
        # The held call (at most one), as crash_points' wait reads it.
        self.held: list[str] = []
        self.cleared = False


class _Pauses(crash_points._Points):
    """Crash points' registry (clear, wait); each point holds one call of one operation."""

    def view(self, caller: str) -> dict[str, Any]:
        pause = self.by_caller.get(caller)
        if pause is None:
            return {"caller": caller, "armed": False, "operation": None, "held": False}
        return {"caller": caller, "armed": True, "operation": pause.operation, "held": bool(pause.held)}

    def arm_pause(self, caller: str, operation: str) -> dict[str, Any]:
        with self.changed:
            self.clear(caller)
            self.by_caller[caller] = _Pause(operation)  # type: ignore[assignment]
            return self.view(caller)

    def hold(self, caller: str, operation: str) -> None:
        """Returns at once, unless this is the call to pause: then once it is released."""
        with self.changed:
            pause = self.by_caller.get(caller)
            if pause is None or pause.held or pause.operation != operation:
                return
            pause.held.append(operation)
            self.changed.notify_all()
            self.changed.wait_for(lambda: pause.cleared, timeout=MAX_HOLD_SECONDS)


PAUSES = _Pauses()


class PauseMiddleware:
    """Holds a paused call until released; serves /_emulator/pause."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == PATH or path.startswith(PATH + "/"):
            return self._control(environ, start_response, path[len(PATH):].strip("/"))
        caller = _CALLER.search(environ.get("HTTP_AUTHORIZATION", ""))
        if caller is None or path.startswith("/_emulator/") or path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        if caller.group("akid") in PAUSES.by_caller:
            service, operation = request_counter.operation_of(environ)
            PAUSES.hold(caller.group("akid"), f"{service}:{operation}")
        return self.app(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any], caller: str) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST" and not caller:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                caller, operation = str(body["caller"]), body["operation"]
                if not isinstance(operation, str) or ":" not in operation:
                    raise ValueError("operation must be service:Operation")
            except (ValueError, KeyError, TypeError) as exc:
                return _reply(start_response, 400,
                              {"error": f'expected {{"caller": "...", "operation": "service:Operation"}}: {exc}'})
            return _reply(start_response, 200, PAUSES.arm_pause(caller, operation))
        if not caller:
            return _reply(start_response, 404, {"error": f"name the caller: {PATH}/<access key id>"})
        if method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                wait = min(float(query.get("wait", ["0"])[0]), MAX_WAIT_SECONDS)
            except ValueError:
                return _reply(start_response, 400, {"error": "wait must be a number of seconds"})
            return _reply(start_response, 200, PAUSES.wait(caller, wait) if wait > 0 else PAUSES.view(caller))
        if method == "DELETE":
            return _reply(start_response, 200, PAUSES.clear(caller))
        return _reply(start_response, 405, {"error": f"method {method} not allowed on {PATH}/<caller>"})

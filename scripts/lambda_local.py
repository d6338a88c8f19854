#!/usr/bin/env python3
"""Run a Lambda function binary locally, the way Lambda runs it.

Serves a minimal Lambda Runtime API on 127.0.0.1, starts the function's
`bootstrap` binary with AWS_LAMBDA_RUNTIME_API pointing at it, hands it one
event, and prints the function's response (or error) as JSON.

    scripts/lambda_local.py --binary target/debug/deployer --event events/x.json \
        [--env NAME=VALUE ...] [--timeout 120]

Exit status: 0 when the function answered, 1 when it returned an error or
failed to start. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/2018-06-01/runtime"


class Invocation:
    """One event going in and what came back."""

    def __init__(self, event: bytes, timeout: float):
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.deadline_ms = int((time.time() + timeout) * 1000)
        self.delivered = threading.Event()
        self.finished = threading.Event()
        self.outcome: dict | None = None
        self.first_poll_at: float | None = None


def make_handler(invocation: Invocation):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):  # keep the function's own logs readable
            pass

        def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self):
            if self.path != f"{API}/invocation/next":
                return self._reply(404)
            if invocation.first_poll_at is None:
                invocation.first_poll_at = time.monotonic()
            if invocation.delivered.is_set():
                # One event per run: park the second poll until we exit.
                invocation.finished.wait()
                time.sleep(3600)
            invocation.delivered.set()
            self._reply(
                200,
                invocation.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:local",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                },
            )

        def do_POST(self):
            body = self._body()
            if self.path == f"{API}/invocation/{invocation.request_id}/response":
                invocation.outcome = {"ok": True, "response": _json_or_text(body)}
            elif self.path == f"{API}/invocation/{invocation.request_id}/error":
                invocation.outcome = {"ok": False, "error": _json_or_text(body)}
            elif self.path == f"{API}/init/error":
                invocation.outcome = {"ok": False, "init_error": _json_or_text(body)}
            else:
                return self._reply(404)
            self._reply(202)
            invocation.finished.set()

    return Handler


def _json_or_text(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def lambda_environment(port: int, name: str, extra: list[str]) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        }
    )
    for item in extra:
        key, _, value = item.partition("=")
        env[key] = value
    return env


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The function's parked second poll is cut when we stop it: expected.
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--event", required=True, help="path to a JSON event, or - for stdin")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the function")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    raw = sys.stdin.buffer.read() if args.event == "-" else open(args.event, "rb").read()
    json.loads(raw)  # refuse a broken event here, not inside the function
    invocation = Invocation(raw, args.timeout)
    server = QuietServer(("127.0.0.1", 0), make_handler(invocation))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = os.path.basename(args.binary)
    # The function's logs go to stderr, so stdout carries only the outcome;
    # the last lines are kept to explain a function that dies during init.
    process = subprocess.Popen(
        [args.binary],
        env=lambda_environment(server.server_address[1], name, args.env),
        stdout=sys.stderr,
        stderr=subprocess.PIPE,
    )
    last_lines = collections.deque(maxlen=20)

    def relay_stderr():
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace")
            last_lines.append(line.rstrip())
            sys.stderr.write(line)

    relay = threading.Thread(target=relay_stderr, daemon=True)
    relay.start()
    try:
        while not invocation.finished.wait(0.05):
            if process.poll() is not None:
                relay.join(2)
                invocation.outcome = {
                    "ok": False,
                    "init_error": f"{name} exited with status {process.returncode}",
                    "stderr": list(last_lines),
                }
                break
            if time.time() * 1000 > invocation.deadline_ms:
                invocation.outcome = {"ok": False, "error": f"timed out after {args.timeout} s"}
                break
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        server.shutdown()
    print(json.dumps(invocation.outcome, indent=2))
    return 0 if invocation.outcome and invocation.outcome.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())

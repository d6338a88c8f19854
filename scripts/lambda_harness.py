#!/usr/bin/env python3
"""The one local Lambda harness: the demo, the bench and the binary tests use it.

Invocations go through cargo-lambda (installed into .venv by scripts/setup):
`cargo lambda watch --only-lambda-apis` serves the Lambda Runtime API and
`cargo lambda invoke` sends the event and prints the answer. `CargoLambda`
starts the function's real `bootstrap` binary once per invocation (a cold
instance), as Lambda would, with the Runtime API in its environment.

What cargo-lambda cannot measure is done by the small Runtime API here
(`RuntimeAPI`): the time from process start to the first GET /next (the
init Lambda bills), whether a function polls at all (one that fails during
init exits first), and the handler's own time and CPU between the event's
delivery and the answer. scripts/bench.py uses it; so does the `init`
subcommand, which the binary tests use.

    lambda_harness.py invoke --binary target/debug/deployer --event events/x.json \
        [--env NAME=VALUE ...] [--timeout 120]
        -> {"ok": true, "response": ...} | {"ok": false, "error": ... | "init_error": ..., "stderr": [...]}
    lambda_harness.py init --binary target/debug/deployer [--env NAME=VALUE ...] [--timeout 60]
        -> {"polled": bool, "init_ms": float | null, "exit_status": int | null, "stderr": [...]}

Exit status: 0 when the function answered (invoke) or polled (init), else 1.
Function logs go to stderr; stdout carries only the JSON outcome.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = "/2018-06-01/runtime"


def lambda_environment(name: str, runtime_api: str, extra: dict | None = None) -> dict:
    """The variables Lambda sets for a function, over this process's environment."""
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    })
    env.update(extra or {})
    return env


def parse_env(items: list[str]) -> dict:
    return dict(item.partition("=")[::2] for item in items)


def _json_or_text(text: str | bytes):
    try:
        return json.loads(text)
    except ValueError:
        return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


class _StderrTail:
    """Relays a child's output stream to our stderr and keeps its last lines."""

    def __init__(self, stream, echo: bool, keep: int = 20):
        self.lines: collections.deque = collections.deque(maxlen=keep)

        def relay():
            for raw in stream:
                line = raw.decode("utf-8", "replace")
                self.lines.append(line.rstrip())
                if echo:
                    sys.stderr.write(line)

        self.thread = threading.Thread(target=relay, daemon=True)
        self.thread.start()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- cargo-lambda
def cargo_lambda() -> str:
    for candidate in (os.environ.get("CARGO_LAMBDA"), os.path.join(ROOT, ".venv", "bin", "cargo-lambda"),
                      shutil.which("cargo-lambda")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("lambda_harness: cargo-lambda not found: run scripts/setup (it installs it into .venv)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CargoLambda:
    """`cargo lambda watch --only-lambda-apis` on a free port, for `invoke`."""

    def __init__(self, log=None):
        self.tool = cargo_lambda()
        self.port = _free_port()
        self.watch = subprocess.Popen(
            [self.tool, "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.watch.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"cargo lambda watch did not start on port {self.port}")
                time.sleep(0.1)

    def __enter__(self) -> "CargoLambda":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        _stop(self.watch)

    def invoke(self, binary: str, event: bytes, env: dict | None = None, timeout: float = 120.0,
               echo_logs: bool = True) -> dict:
        """Starts `binary`, hands it `event` through `cargo lambda invoke`, stops it. A successful
        outcome also has the function's last log lines (`logs`: its stdout, where Lambda
        functions log), echoed to our stderr as well when `echo_logs`."""
        # --only-lambda-apis serves the function named "_".
        function_env = lambda_environment("_", f"http://127.0.0.1:{self.port}/.rt", env)
        process = subprocess.Popen([binary], env=function_env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tail = _StderrTail(process.stderr, echo_logs)
        logs = _StderrTail(process.stdout, echo_logs, keep=500)
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
            f.write(event)
        invoke = subprocess.Popen(
            [self.tool, "lambda", "invoke", "-A", "127.0.0.1", "-P", str(self.port), "--data-file", f.name,
             "--output-format", "json", "--color", "never"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        outcome = None
        try:
            while invoke.poll() is None:
                if process.poll() is not None:
                    tail.thread.join(2)
                    outcome = {"ok": False, "init_error": f"{os.path.basename(binary)} exited with status "
                               f"{process.returncode}", "stderr": list(tail.lines)}
                    break
                if time.monotonic() > deadline:
                    outcome = {"ok": False, "error": f"timed out after {timeout} s"}
                    break
                time.sleep(0.02)
            if outcome is None:
                out, err = invoke.communicate()
                if invoke.returncode == 0:
                    outcome = {"ok": True, "response": _json_or_text(out)}
                else:
                    # cargo-lambda prints the function's error, then a footer of its own.
                    text = (err or out).decode("utf-8", "replace").split("Was this behavior unexpected?")[0]
                    outcome = {"ok": False, "error": text.strip()}
        finally:
            _stop(invoke)
            _stop(process)
            os.unlink(f.name)
        logs.thread.join(2)
        if outcome.get("ok"):
            outcome["logs"] = list(logs.lines)
        return outcome


# --------------------------------------------------------------------------- measuring Runtime API
class Run:
    """One process start: at most one event, timestamps, CPU samples."""

    def __init__(self, event: bytes | None, timeout: float):
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.deadline_ms = int((time.time() + timeout) * 1000)
        self.pid: int | None = None
        self.first_poll_ns: int | None = None
        self.delivered_ns: int | None = None
        self.done_ns: int | None = None
        self.cpu_delivered_ns = self.cpu_done_ns = 0
        self.polled_idle = threading.Event()  # polled and nothing (more) to hand out
        self.finished = threading.Event()
        self.release = threading.Event()
        self.outcome: dict | None = None


def process_cpu_ns(pid: int | None) -> int:
    """On-CPU time of every thread of `pid`, in ns (schedstat: ns resolution)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def peak_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RuntimeAPI:
    """A Lambda Runtime API that times each process start (see the module doc)."""

    def __init__(self) -> None:
        self.run: Run | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                now = time.perf_counter_ns()
                run = api.run
                if self.path != f"{API}/invocation/next" or run is None:
                    return self._reply(404)
                if run.first_poll_ns is None:
                    run.first_poll_ns = now
                if run.event is None or run.delivered_ns is not None:
                    run.polled_idle.set()
                    run.release.wait(120)  # the harness kills the process, then releases
                    self.close_connection = True
                    return
                run.cpu_delivered_ns = process_cpu_ns(run.pid)
                run.delivered_ns = time.perf_counter_ns()
                self._reply(200, run.event, {
                    "Lambda-Runtime-Aws-Request-Id": run.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(run.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:local",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                })

            def do_POST(self):
                now = time.perf_counter_ns()
                run = api.run
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if run is None:
                    return self._reply(404)
                kind = self.path.rsplit("/", 1)[-1]
                if self.path == f"{API}/init/error":
                    run.outcome = {"ok": False, "init_error": _json_or_text(body)}
                elif self.path == f"{API}/invocation/{run.request_id}/{kind}" and kind in ("response", "error"):
                    run.done_ns = now
                    run.cpu_done_ns = process_cpu_ns(run.pid)
                    run.outcome = ({"ok": True, "response": _json_or_text(body)} if kind == "response"
                                   else {"ok": False, "error": _json_or_text(body)})
                else:
                    return self._reply(404)
                self._reply(202)
                run.finished.set()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the parked poll of a killed function is cut: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def start(self, command: list[str], env: dict, event: bytes | None = None, timeout: float = 300,
              log=None, require_poll: bool = True) -> dict:
        """Starts `command` once; returns init ms, handler times, peak RSS, outcome.

        Without an event it waits for the first poll (or the process's exit).
        A function that never polled raises RuntimeError, unless `require_poll`
        is False: then `init_ms` is None and `exit_status` says how it ended.
        """
        run = Run(event, timeout)
        self.run = run
        env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.port}")
        started = time.perf_counter_ns()
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL,
                                   stderr=log or subprocess.DEVNULL)
        run.pid = process.pid
        waiting_for = run.polled_idle if event is None else run.finished
        deadline = time.monotonic() + timeout
        exited = False
        while not waiting_for.wait(0.005):
            if process.poll() is not None:
                exited = True
                break
            if time.monotonic() > deadline:
                break
        if event is not None and run.finished.is_set():
            # Let it reach its next poll (Lambda freezes it there); not timed.
            run.polled_idle.wait(5)
        # Peak RSS from the kernel's high-water mark of this process's own memory
        # (the wait4 ru_maxrss of a child starts at its parent's RSS, Python's).
        hwm_kb = None
        if not exited:
            hwm_kb = peak_rss_kb(process.pid)
            process.kill()
            process.wait()
        run.release.set()
        self.run = None
        if require_poll and run.first_poll_ns is None:
            raise RuntimeError(f"{command[0]} never polled /next (exit status {process.returncode})")
        result = {
            "init_ms": (run.first_poll_ns - started) / 1e6 if run.first_poll_ns is not None else None,
            "maxrss_mb": hwm_kb / 1024 if hwm_kb else None,
            "exit_status": process.returncode if exited else None,
            "outcome": run.outcome,
        }
        if run.done_ns and run.delivered_ns:
            result["handler_ms"] = (run.done_ns - run.delivered_ns) / 1e6
            result["handler_cpu_ms"] = (run.cpu_done_ns - run.cpu_delivered_ns) / 1e6
        return result


def first_poll(binary: str, env: dict, timeout: float) -> dict:
    """Starts `binary` with no event: did it reach GET /next, and how fast (ms)?"""
    api = RuntimeAPI()
    with tempfile.TemporaryFile() as log:
        result = api.start([binary], lambda_environment(os.path.basename(binary), "", env), timeout=timeout,
                           log=log, require_poll=False)
        log.seek(0)
        lines = log.read().decode("utf-8", "replace").splitlines()[-20:]
    return {"polled": result["init_ms"] is not None, "init_ms": result["init_ms"],
            "exit_status": result["exit_status"], "init_error": (result["outcome"] or {}).get("init_error"),
            "stderr": lines}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    invoke = sub.add_parser("invoke", help="one event through cargo lambda watch/invoke")
    invoke.add_argument("--event", required=True, help="path to a JSON event, or - for stdin")
    init = sub.add_parser("init", help="start the function without an event: does it reach GET /next?")
    for p in (invoke, init):
        p.add_argument("--binary", required=True)
        p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the function")
        p.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    env = parse_env(args.env)
    if args.command == "init":
        outcome = first_poll(args.binary, env, args.timeout)
        print(json.dumps(outcome, indent=2))
        return 0 if outcome["polled"] else 1
    raw = sys.stdin.buffer.read() if args.event == "-" else open(args.event, "rb").read()
    json.loads(raw)  # refuse a broken event here, not inside the function
    with CargoLambda() as lam:
        outcome = lam.invoke(args.binary, raw, env, args.timeout)
    print(json.dumps(outcome, indent=2))
    return 0 if outcome.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())

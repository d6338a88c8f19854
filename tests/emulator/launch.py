#!/usr/bin/env python3
"""Start moto's server with SageMaker patched to behave like AWS.

    .venv/bin/python tests/emulator/launch.py --host 127.0.0.1 --port 5123 \
        [--settle-seconds manual|S]

What changes compared with plain `moto_server` (see docs/emulator.md):
UpdateEndpoint, create-on-existing-name errors, name and ServerlessConfig
validation, the Creating/Updating -> InService lifecycle driven by a settle
policy, AddTags overwriting keys, newest-first listing, AWS-style not-found
messages, per-endpoint SageMaker Runtime InvokeEndpoint results and errors
(runtime_patches.py), crash injection per caller (crash_points.py), Model Registry packages
(model_registry.py), and a control API under /_emulator/ (see control.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import call_recorder  # noqa: E402
import capacity_patches  # noqa: E402
import cbor_protocol  # noqa: E402
import control  # noqa: E402
import crash_points  # noqa: E402
import model_registry  # noqa: E402
import pause_points  # noqa: E402
import price_list_api  # noqa: E402
import runtime_patches  # noqa: E402
import s3_notification_patches  # noqa: E402
import request_counter  # noqa: E402
import sagemaker_patches  # noqa: E402
import search_patches  # noqa: E402
import service_quotas  # noqa: E402


def build_app() -> Any:
    """The WSGI app: control middleware in front of moto's dispatcher."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    sagemaker_patches.apply()
    capacity_patches.apply()
    search_patches.apply()
    # After sagemaker_patches: wraps its CreateModel.
    model_registry.apply()
    runtime_patches.apply()
    s3_notification_patches.apply()
    # SageMaker's serverless quotas: Service Quotas answers them, SageMaker keeps to them.
    service_quotas.apply()
    moto_app = DomainDispatcherApplication(create_backend_app)
    app = control.ControlMiddleware(runtime_patches.InvocationBodyMiddleware(moto_app))
    # The Price List Query API (moto has none), from recorded GetProducts answers.
    app = price_list_api.PriceListMiddleware(app)
    app = service_quotas.ServiceQuotasMiddleware(app)
    # Every AWS call as IAM authorization requests, by caller (GET /_emulator/calls).
    app = call_recorder.CallRecorderMiddleware(app)
    # CloudWatch over Smithy RPC v2 CBOR, as the Rust SDK sends it.
    app = cbor_protocol.RpcV2CborMiddleware(app)
    # Counts requests as clients sent them (GET /_emulator/requests).
    app = request_counter.RequestCounterMiddleware(app)
    # A caller's call held until the test lets it go on (POST /_emulator/pause): a slow step.
    app = pause_points.PauseMiddleware(app)
    # Outermost: a caller made to crash after its Nth call (POST /_emulator/crash);
    # the calls it holds never reach the layers above.
    return crash_points.CrashMiddleware(app)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5123)
    parser.add_argument(
        "--settle-seconds",
        default="manual",
        help="'manual' (default): endpoints stay Creating/Updating until the control "
        "API changes them; a number S: they read InService S seconds after "
        "CreateEndpoint/UpdateEndpoint",
    )
    args = parser.parse_args(argv)
    try:
        args.settle = control.parse_settle(args.settle_seconds)
    except (TypeError, ValueError):
        parser.error(f"--settle-seconds: expected 'manual' or seconds >= 0, got {args.settle_seconds!r}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    sagemaker_patches.SettlePolicy.seconds = args.settle

    from moto.server import MotoRequestHandler
    from werkzeug.serving import run_simple

    app = build_app()

    def stop(signum: int, frame: Any) -> None:
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"SageMaker emulator on http://{args.host}:{args.port} "
        f"(settle: {sagemaker_patches.SettlePolicy.describe()})",
        flush=True,
    )
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

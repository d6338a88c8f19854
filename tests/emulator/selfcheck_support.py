"""Helpers for test_launch.py: boto3 client, control-API calls, fixtures, asserts."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/emulator-test"
PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
RUN = format(int(time.time() * 1000) % 36**6, "x")
CHECKS: list[tuple[str, Callable[["Ctx"], None]]] = []


def check(fn: Callable[["Ctx"], None]) -> Callable[["Ctx"], None]:
    CHECKS.append((fn.__name__, fn))
    return fn


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


class Ctx:
    def __init__(self, endpoint: str):
        self.url = endpoint.rstrip("/")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "test")
        self.sm = self.client()
        self.rt = self.runtime_client()
        self.s3 = self.boto("s3")

    def boto(self, service: str) -> Any:
        """A plain boto3 client of another service (S3, SQS, DynamoDB) on the emulator."""
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def client(self) -> Any:
        # parameter_validation=False: send out-of-range values the way the Rust
        # SDK does (it does not validate ranges client-side).
        return boto3.client(
            "sagemaker",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(parameter_validation=False, retries={"max_attempts": 1}),
        )

    def runtime_client(self) -> Any:
        # One attempt only: every attempt pops a queued result, so retries would
        # make the checks' call counts ambiguous.
        return boto3.client(
            "sagemaker-runtime",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    # -- control API -------------------------------------------------------
    def control(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def set_status(self, name: str, status: str, reason: str | None = None) -> dict:
        body: dict[str, Any] = {"status": status}
        if reason is not None:
            body["failure_reason"] = reason
        code, out = self.control("POST", f"endpoints/{name}/status", body)
        assert code == 200, (code, out)
        return out

    def queue_results(self, endpoint: str, results: list[dict], replace: bool = False) -> dict:
        code, out = self.control("POST", f"endpoints/{endpoint}/invoke-results",
                                 {"results": results, "replace": replace})
        assert code == 200, (code, out)
        return out

    def invocations(self, endpoint: str) -> list[dict]:
        code, out = self.control("GET", f"endpoints/{endpoint}/invocations")
        assert code == 200 and out["Count"] == len(out["Invocations"]), (code, out)
        return out["Invocations"]

    def invoke(self, endpoint: str, body: bytes | str = b"{}", **kwargs: Any) -> tuple[bytes, dict]:
        out = self.rt.invoke_endpoint(EndpointName=endpoint, Body=body, **kwargs)
        return out["Body"].read(), out

    def invoke_error(self, endpoint: str, body: bytes | str = b"{}", **kwargs: Any) -> ClientError:
        try:
            self.rt.invoke_endpoint(EndpointName=endpoint, Body=body, **kwargs)
        except ClientError as err:
            return err
        raise AssertionError(f"invoke_endpoint({endpoint}) succeeded, expected an error")

    # -- fixtures ------------------------------------------------------------
    def model(self, name: str) -> str:
        self.sm.create_model(
            ModelName=name, ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        )
        return name

    def instance_config(self, name: str, model: str) -> str:
        self.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model,
            "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
        }])
        return name

    def serverless_config(self, name: str, model: str, mem: int = 2048, mx: int = 5,
                          prov: int | None = None) -> str:
        sc: dict[str, int] = {"MemorySizeInMB": mem, "MaxConcurrency": mx}
        if prov is not None:
            sc["ProvisionedConcurrency"] = prov
        self.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "ServerlessConfig": sc,
        }])
        return name

    def live_endpoint(self, prefix: str, variant: str = "AllTraffic") -> str:
        """Model + instance config + endpoint, moved to InService."""
        m = self.model(n(prefix, "m"))
        cfg = n(prefix, "c")
        self.sm.create_endpoint_config(EndpointConfigName=cfg, ProductionVariants=[{
            "VariantName": variant, "ModelName": m,
            "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
        }])
        ep = n(prefix, "e")
        self.sm.create_endpoint(EndpointName=ep, EndpointConfigName=cfg)
        self.set_status(ep, "InService")
        return ep

    def status(self, name: str) -> str:
        return self.sm.describe_endpoint(EndpointName=name)["EndpointStatus"]


def expect_error(fn: Callable[..., Any], message: str | None = None, contains: str | None = None,
                 **kwargs: Any) -> str:
    try:
        fn(**kwargs)
    except ClientError as err:
        e = err.response["Error"]
        status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        assert e["Code"] == "ValidationException", e
        assert status == 400, status
        if message is not None:
            assert e["Message"] == message, f"\n got: {e['Message']}\nwant: {message}"
        if contains is not None:
            assert contains in e["Message"], f"{contains!r} not in {e['Message']!r}"
        return e["Message"]
    raise AssertionError(f"{getattr(fn, '__name__', fn)}({kwargs}) succeeded, expected an error")


def n(prefix: str, what: str) -> str:
    return f"{prefix}-{RUN}-{what}"

#!/usr/bin/env python3
"""Peak memory of the deployer repacking a large artifact (issue 13 item 1).

The real deployer binary (under scripts/lambda_harness.py's Runtime API,
which reads the process's peak RSS, VmHWM) deploys a PyTorch 2.1 model with
`entry_point`/`source_dir`, so it repacks model.tar.gz with code/ as the SDK
does: the artifact is streamed from S3 (the emulator), re-written through tar
and gzip, and sent as a multipart upload. The artifact holds one file of
incompressible bytes of each size asked for; "flat" means the peak RSS does
not grow with it. The repacked archive is then read back and checked (its
members, and the weights' SHA-256).

    bench_repack.py --binary target/debug/deployer --emulator http://127.0.0.1:5126 \
        --sizes-mib 16,1024 --profile "debug" [--json out.json] [--markdown out.md] \
        [--update BENCHMARKS.md]

--update puts the section into that file (replacing its "## 2c." section, or
before "## 3."); scripts/bench passes the section to bench.py instead.

Not a test: nothing is asserted. The artifacts are built in a temporary
folder (deleted afterwards); the emulator must have --settle-seconds 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone

import boto3
from boto3.s3.transfer import TransferConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lambda_harness import RuntimeAPI, lambda_environment  # noqa: E402
from bench import Emulator, flat_counts, s3_event  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE = "arn:aws:iam::123456789012:role/bench-sagemaker-execution"
CHUNK = 8 << 20
ENTRY = b"def model_fn(model_dir):\n    return model_dir\n"


def build_artifact(path: str, size: int) -> str:
    """A model.tar.gz holding `weights.bin` of `size` incompressible bytes;
    returns the weights' SHA-256. Written as a stream (gzip level 1)."""
    digest = hashlib.sha256()

    class Source:
        left = size

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            data = os.urandom(n)
            self.left -= n
            digest.update(data)
            return data

    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("weights.bin")
        info.size = size
        info.mode = 0o644
        tar.addfile(info, Source())
    return digest.hexdigest()


def check_repacked(s3, bucket: str, key: str, weights_sha: str) -> dict:
    """Reads the repacked archive back as a stream: members and the weights."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    members, ok = [], False
    with tarfile.open(fileobj=body, mode="r|gz") as tar:
        for member in tar:
            members.append(member.name + ("/" if member.isdir() else ""))
            if member.name == "weights.bin":
                digest = hashlib.sha256()
                f = tar.extractfile(member)
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                ok = digest.hexdigest() == weights_sha
    return {"members": sorted(members), "weights_intact": ok}


def run_size(api: RuntimeAPI, emu: Emulator, binary: str, s3, size_mib: int, workdir: str, log) -> dict:
    bucket = f"bench-repack-{size_mib}-{int(time.time())}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    folder = "models/repack/v1/"
    s3.put_object(Bucket=bucket, Key=f"{folder}code/inference.py", Body=ENTRY)
    settings = {"framework": "pytorch", "framework_version": "2.1", "py_version": "py310",
                "entry_point": "inference.py", "source_dir": "code/"}
    s3.put_object(Bucket=bucket, Key=f"{folder}deploy.json", Body=json.dumps(settings).encode())
    path = os.path.join(workdir, f"model-{size_mib}.tar.gz")
    started = time.monotonic()
    weights_sha = build_artifact(path, size_mib << 20)
    s3.upload_file(path, bucket, f"{folder}model.tar.gz",
                   Config=TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK))
    artifact_bytes = os.path.getsize(path)
    os.remove(path)
    print(f"bench-repack: {size_mib} MiB artifact ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    head = s3.head_object(Bucket=bucket, Key=f"{folder}model.tar.gz")
    put = {"ETag": head["ETag"], "VersionId": head.get("VersionId", "")}
    event = s3_event(bucket, f"{folder}model.tar.gz", put, datetime.now(timezone.utc), "0062D8A400000001")
    env = lambda_environment("deployer", "", {
        "EXECUTION_ROLE_ARN": ROLE, "MODELS_PREFIX": "models/", "PACKED_CODE_PREFIX": "packed/",
        "KEEP_SUPERSEDED": "2",
    })
    emu.reset_counts()
    result = api.start([binary], env, event=event, timeout=3600, log=log)
    counts = flat_counts(emu.counts())
    outcome = result.get("outcome") or {}
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="packed/").get("Contents", [])
    repacked = next((o for o in listed if o["Key"].endswith("/model.tar.gz")), None)
    check = check_repacked(s3, bucket, repacked["Key"], weights_sha) if repacked else {}
    return {
        "size_mib": size_mib,
        "artifact_bytes": artifact_bytes,
        "repacked_bytes": repacked["Size"] if repacked else None,
        "maxrss_mb": result.get("maxrss_mb"),
        "handler_s": (result.get("handler_ms") or 0) / 1000,
        "handler_cpu_s": (result.get("handler_cpu_ms") or 0) / 1000,
        "upload_parts": counts.get("UploadPart", 0),
        "ok": bool(outcome.get("ok")) and repacked is not None and check.get("weights_intact", False),
        "members": check.get("members"),
        "outcome": outcome if not outcome.get("ok") else None,
    }


def markdown(rows: list[dict], profile: str) -> str:
    lines = [
        "## 2c. Deployer: repacking inference code, peak memory (scripts/bench-repack)",
        "",
        f"Binary: {profile}. The real deployer deploys a PyTorch 2.1 model with `entry_point`/`source_dir`, so it "
        "repacks `model.tar.gz` with `code/` (SDK repack mode): the artifact (one file of incompressible bytes) "
        "is streamed from the emulator's S3, re-written through tar and gzip, and sent as a multipart upload in "
        "8 MiB parts. Peak RSS is the process's VmHWM (scripts/lambda_harness.py). Each repacked archive was read "
        "back: members `code/`, `code/inference.py`, `weights.bin`, and the weights' SHA-256 matched.",
        "",
        "| artifact | peak RSS | handler time | CPU | parts | repacked | check |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rss = f"{r['maxrss_mb']:.1f} MB" if r["maxrss_mb"] else "-"
        repacked = f"{r['repacked_bytes'] / (1 << 20):.0f} MiB" if r["repacked_bytes"] else "-"
        check = "ok" if r["ok"] else f"FAILED {r['outcome'] or r['members']}"
        lines.append(f"| {r['size_mib']} MiB | {rss} | {r['handler_s']:.1f} s | {r['handler_cpu_s']:.1f} s | "
                     f"{r['upload_parts']} | {repacked} | {check} |")
    if len(rows) >= 2 and all(r["maxrss_mb"] for r in rows):
        small, big = rows[0], rows[-1]
        lines += ["", f"From {small['size_mib']} MiB to {big['size_mib']} MiB "
                      f"({big['size_mib'] / small['size_mib']:.0f}x the data) the peak RSS went "
                      f"from {small['maxrss_mb']:.1f} MB to {big['maxrss_mb']:.1f} MB."]
    return "\n".join(lines) + "\n"


def update(path: str, section: str) -> None:
    """Replaces the "## 2c." section of `path` (or inserts it before "## 3.")."""
    with open(path) as f:
        lines = f.read().split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("## 2c.")), None)
    if start is None:
        start = end = next(i for i, line in enumerate(lines) if line.startswith("## 3."))
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start:end] = section.rstrip("\n").split("\n") + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--sizes-mib", default="16,1024")
    parser.add_argument("--profile", default="as given")
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    parser.add_argument("--update", help="BENCHMARKS.md to put the section into")
    args = parser.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.emulator, region_name="us-east-1")
    emu = Emulator(args.emulator)
    api = RuntimeAPI()
    rows = []
    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-repack-") as workdir, \
            open(os.path.join(ROOT, "target", "bench", "repack.log"), "wb") as log:
        for size in [int(s) for s in args.sizes_mib.split(",") if s]:
            rows.append(run_size(api, emu, args.binary, s3, size, workdir, log))
            print(json.dumps(rows[-1]), file=sys.stderr)
    text = markdown(rows, args.profile)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.update:
        update(args.update, text)
    print(text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

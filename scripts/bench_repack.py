#!/usr/bin/env python3
"""Peak memory of the deployer repacking a large artifact (issue 13 item 1).

The real deployer binary (under scripts/lambda_harness.py's Runtime API,
which reads the process's peak RSS, VmHWM) deploys a PyTorch 2.1 model with
`entry_point`/`source_dir`, so it repacks model.tar.gz with code/ as the SDK
does: the artifact is streamed from S3, re-written through tar and gzip, and
sent as a multipart upload. The artifact holds one file of incompressible
bytes of each size asked for; "flat" means the peak RSS does not grow with
it. Every uploaded part is read as it arrives (members, the weights'
SHA-256) and checked against what was put in.

S3 is scripts/bench_s3.py's stand-in (AWS_ENDPOINT_URL_S3), which keeps no
uploaded bytes; SageMaker and the rest are the emulator's. moto's S3 keeps
every object and part in memory, which for 5 GiB is more than the machine
can spare (see bench_s3.py).

A 5 GiB artifact is refused by the deployer's pre-flight before anything is
read (its download and extraction cannot fit serverless's 5 GiB disk), so
sizes of `--packing-only-mib` also run the deployer's repack step alone
(functions/deployer/examples/repack.rs, the same pack_stream code), to show
the repack itself stays flat at that size.

    bench_repack.py --binary target/debug/deployer --repack-binary target/debug/examples/repack \
        --emulator http://127.0.0.1:5126 --sizes-mib 16,1024,5120 --packing-only-mib 16,5120 \
        --profile "debug" [--json out.json] [--markdown out.md] [--update BENCHMARKS.md]

Written to disk: the process's `write_bytes` (/proc/<pid>/io, bytes it
caused to be written to any file, /tmp included), sampled every 0.2 s until
it ends. --update puts the section into that file (replacing its "## 2c."
section, or before "## 3."); scripts/bench passes the section to bench.py.

Not a test: nothing is asserted. The artifacts are built in a temporary
folder (deleted afterwards; 5 GiB needs that much free disk).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lambda_harness import RuntimeAPI, lambda_environment  # noqa: E402
from bench import s3_event  # noqa: E402
from bench_s3 import StandInS3  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE = "arn:aws:iam::123456789012:role/bench-sagemaker-execution"
ENTRY = b"def model_fn(model_dir):\n    return model_dir\n"
EXPECTED_MEMBERS = ["code/", "code/inference.py", "weights.bin"]


def build_artifact(path: str, size: int) -> str:
    """A model.tar.gz holding `weights.bin` of `size` incompressible bytes;
    returns the weights' SHA-256. Written as a stream; gzip level 0 (random
    bytes do not compress: level 1 would also store them, only slower)."""
    digest = hashlib.sha256()

    class Source:
        left = size

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            data = os.urandom(n)
            self.left -= n
            digest.update(data)
            return data

    with tarfile.open(path, "w:gz", compresslevel=0) as tar:
        info = tarfile.TarInfo("weights.bin")
        info.size = size
        info.mode = 0o644
        tar.addfile(info, Source())
    return digest.hexdigest()


class DiskWrites:
    """Peak `write_bytes` of a process (/proc/<pid>/io), sampled until stopped."""

    def __init__(self, pid_of) -> None:
        self.pid_of, self.peak, self.stop = pid_of, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            pid = self.pid_of()
            try:
                with open(f"/proc/{pid}/io") as f:
                    for line in f:
                        if line.startswith("write_bytes:"):
                            self.peak = max(self.peak, int(line.split()[1]))
            except (OSError, TypeError):
                pass

    def done(self) -> int:
        self.stop.set()
        self.thread.join()
        return self.peak


def check(s3: StandInS3, bucket: str, weights_sha: str) -> tuple[dict | None, dict]:
    """The repacked archive's record and what its parts held."""
    packed = {k: o for k, o in s3.listed(bucket, "").items() if k.endswith("/model.tar.gz") and o.archive}
    if not packed:
        return None, {}
    key, obj = next(iter(packed.items()))
    members = obj.archive["members"]
    return {"key": key, "bytes": obj.size}, {
        "members": sorted(members),
        "ok": sorted(members) == EXPECTED_MEMBERS and members.get("weights.bin") == weights_sha
        and obj.archive["gzip_complete"],
    }


def prepare(s3: StandInS3, size_mib: int, workdir: str, label: str) -> tuple[str, str, str]:
    """Bucket, artifact key and weights SHA-256 of a fresh artifact of `size_mib`."""
    bucket = f"bench-repack-{label}-{size_mib}-{int(time.time())}"
    folder = "models/repack/v1/"
    s3.put_bytes(bucket, f"{folder}code/inference.py", ENTRY)
    settings = {"framework": "pytorch", "framework_version": "2.1", "py_version": "py310",
                "entry_point": "inference.py", "source_dir": "code/"}
    s3.put_bytes(bucket, f"{folder}deploy.json", json.dumps(settings).encode())
    path = os.path.join(workdir, f"model-{label}-{size_mib}.tar.gz")
    started = time.monotonic()
    weights_sha = build_artifact(path, size_mib << 20)
    s3.put_file(bucket, f"{folder}model.tar.gz", path)
    print(f"bench-repack: {size_mib} MiB artifact ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return bucket, f"{folder}model.tar.gz", weights_sha


def run_deployer(api: RuntimeAPI, binary: str, s3: StandInS3, size_mib: int, workdir: str, log) -> dict:
    bucket, key, weights_sha = prepare(s3, size_mib, workdir, "deploy")
    obj = s3.objects[(bucket, key)]
    event = s3_event(bucket, key, {"ETag": f'"{obj.etag}"'}, datetime.now(timezone.utc), "0062D8A400000001")
    env = lambda_environment("deployer", "", {
        "EXECUTION_ROLE_ARN": ROLE, "MODELS_PREFIX": "models/", "PACKED_CODE_PREFIX": "packed/",
        "KEEP_SUPERSEDED": "2", "AWS_ENDPOINT_URL_S3": s3.url,
    })
    s3.reset_counts()
    writes = DiskWrites(lambda: api.run.pid if api.run else None)
    result = api.start([binary], env, event=event, timeout=3600, log=log)
    written = writes.done()
    os.remove(obj.path)
    outcome = result.get("outcome") or {}
    repacked, checked = check(s3, bucket, weights_sha)
    refusal = None
    if not outcome.get("ok"):
        refusal = json.dumps(outcome.get("error") or outcome)[:400]
    return {
        "run": "deploy", "size_mib": size_mib, "artifact_bytes": obj.size,
        "repacked_bytes": repacked["bytes"] if repacked else None,
        "maxrss_mb": result.get("maxrss_mb"), "disk_write_bytes": written,
        "seconds": (result.get("handler_ms") or 0) / 1000,
        "cpu_s": (result.get("handler_cpu_ms") or 0) / 1000,
        "upload_parts": s3.counts.get("UploadPart", 0),
        "ok": bool(outcome.get("ok")) and checked.get("ok", False),
        "members": checked.get("members"), "refusal": refusal,
    }


def run_packing_only(binary: str, s3: StandInS3, size_mib: int, workdir: str, log) -> dict:
    bucket, key, weights_sha = prepare(s3, size_mib, workdir, "pack")
    obj = s3.objects[(bucket, key)]
    env = dict(os.environ, AWS_ENDPOINT_URL_S3=s3.url)
    s3.reset_counts()
    process = subprocess.Popen([binary, bucket, key, "packed/repack/bench/model.tar.gz"], env=env,
                               stdout=subprocess.PIPE, stderr=log)
    writes = DiskWrites(lambda: process.pid)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    written = writes.done()
    out = json.loads(process.stdout.read() or b"{}")
    os.remove(obj.path)
    repacked, checked = check(s3, bucket, weights_sha)
    return {
        "run": "repack step alone", "size_mib": size_mib, "artifact_bytes": obj.size,
        "repacked_bytes": repacked["bytes"] if repacked else None,
        "maxrss_mb": (out.get("peak_rss_kb") or 0) / 1024 or None, "disk_write_bytes": written,
        "seconds": out.get("seconds") or 0, "cpu_s": usage.ru_utime + usage.ru_stime,
        "upload_parts": s3.counts.get("UploadPart", 0),
        "ok": process.returncode == 0 and checked.get("ok", False),
        "members": checked.get("members"), "refusal": None,
    }


def markdown(rows: list[dict], profile: str) -> str:
    lines = [
        "## 2c. Deployer: repacking inference code, peak memory (scripts/bench-repack)",
        "",
        f"Binaries: {profile}. The real deployer deploys a PyTorch 2.1 model with `entry_point`/`source_dir`, so "
        "it repacks `model.tar.gz` with `code/` (SDK repack mode): the artifact (one file of incompressible bytes) "
        "is streamed from S3, re-written through tar and gzip, and sent as a multipart upload. Peak RSS is the "
        "process's VmHWM; *written to disk* is its `write_bytes` (/proc/<pid>/io: bytes it caused to be written "
        "to any file, `/tmp` included). Every part was read as it arrived: a check of ok means the archive held "
        "`code/`, `code/inference.py` and `weights.bin`, with the weights' SHA-256 unchanged.",
        "",
        "S3 here is scripts/bench_s3.py, a stand-in that serves the artifact from disk and reads each uploaded "
        "part as it arrives, keeping none of its bytes; SageMaker and the rest are the emulator's. moto's S3 "
        "(used for this section before) keeps every object and part in memory and joins the parts on "
        "completion: for 5 GiB that is over 10 GB in the emulator, on a 23 GB machine shared with builds.",
        "",
        "A 5 GiB artifact is refused by the deployer's pre-flight before it reads any of it: downloading and "
        "extracting it cannot fit serverless's 5 GiB ephemeral disk. So the *repack step alone* rows run the "
        "deployer's own repack code (`pack_stream::write_to_s3`, functions/deployer/examples/repack.rs) on it "
        "directly.",
        "",
        "| artifact | run | peak RSS | written to disk | time | CPU | parts | repacked | check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rss = f"{r['maxrss_mb']:.1f} MB" if r["maxrss_mb"] else "-"
        repacked = f"{r['repacked_bytes'] / (1 << 20):.0f} MiB" if r["repacked_bytes"] else "-"
        if r["ok"]:
            verdict = "ok"
        elif r["refusal"] and "ephemeral disk" in r["refusal"]:
            verdict = "refused by pre-flight: needs more than the 5 GiB serverless disk (nothing read)"
        else:
            verdict = f"FAILED {r['refusal'] or r['members']}"
        lines.append(f"| {r['size_mib']} MiB | {r['run']} | {rss} | {r['disk_write_bytes']} B | "
                     f"{r['seconds']:.1f} s | {r['cpu_s']:.1f} s | {r['upload_parts']} | {repacked} | {verdict} |")
    for run in ("deploy", "repack step alone"):
        done = [r for r in rows if r["run"] == run and r["ok"] and r["maxrss_mb"]]
        if len(done) >= 2:
            small, big = done[0], done[-1]
            lines += ["", f"{run}: from {small['size_mib']} MiB to {big['size_mib']} MiB "
                          f"({big['size_mib'] / small['size_mib']:.0f}x the data) the peak RSS went "
                          f"from {small['maxrss_mb']:.1f} MB to {big['maxrss_mb']:.1f} MB; at most "
                          f"{max(r['disk_write_bytes'] for r in done)} bytes were written to disk."]
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
    parser.add_argument("--repack-binary", help="functions/deployer/examples/repack, built")
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--sizes-mib", default="16,1024,5120")
    parser.add_argument("--packing-only-mib", default="16,5120")
    parser.add_argument("--profile", default="as given")
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    parser.add_argument("--update", help="BENCHMARKS.md to put the section into")
    args = parser.parse_args()
    os.environ["AWS_ENDPOINT_URL"] = args.emulator
    s3 = StandInS3()
    api = RuntimeAPI()
    rows = []
    sizes = lambda text: [int(s) for s in text.split(",") if s]  # noqa: E731
    os.makedirs(os.path.join(ROOT, "target", "bench"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-repack-") as workdir, \
            open(os.path.join(ROOT, "target", "bench", "repack.log"), "wb") as log:
        for size in sizes(args.sizes_mib):
            rows.append(run_deployer(api, args.binary, s3, size, workdir, log))
            print(json.dumps(rows[-1]), file=sys.stderr)
        for size in sizes(args.packing_only_mib) if args.repack_binary else []:
            rows.append(run_packing_only(args.repack_binary, s3, size, workdir, log))
            print(json.dumps(rows[-1]), file=sys.stderr)
    s3.close()
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
    # A size the pre-flight refuses is an expected result, not a failure.
    return 0 if all(r["ok"] or (r["refusal"] and "ephemeral disk" in r["refusal"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

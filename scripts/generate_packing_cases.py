#!/usr/bin/env python3
"""Generate shared/tests/data/packing_cases.json by calling the SageMaker SDK.

Run it with the interpreter of the scratch venv scripts/refresh-packing-cases
sets up (PyPI `sagemaker` 2.x: the version with `SKLearnModel`, `PyTorchModel`,
`TensorFlowModel`, ...). Each case is what

    <Framework>Model(model_data=..., entry_point=..., source_dir=..., dependencies=...,
                     framework_version=..., py_version=..., env=...)
        .deploy(serverless_inference_config=ServerlessInferenceConfig())

sends to SageMaker and S3: the container's image, environment and model data,
and the archive it uploads (sourcedir.tar.gz or the repacked model.tar.gz),
listed entry by entry with each file's SHA-256.

No AWS is needed: the SageMaker API calls are replaced by recorders, S3 by a
local folder (uploads land there, downloads come from there), telemetry is off.
The inputs (model archive, code folder, dependencies) are generated here and
written into each case, so the Rust tests upload the same bytes.
"""

import argparse
import hashlib
import importlib.metadata as md
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from unittest import mock

import boto3
import sagemaker
from sagemaker.pytorch import PyTorchModel
from sagemaker.serverless import ServerlessInferenceConfig
from sagemaker.sklearn import SKLearnModel
from sagemaker.tensorflow import TensorFlowModel
from sagemaker.xgboost import XGBoostModel

REGION = "us-east-1"
SDK_BUCKET = "sdk-bucket"
ARTIFACT_BUCKET = "models-bucket"
ROLE = "arn:aws:iam::111111111111:role/SageMakerExecution"
MODEL_CLASSES = {
    "sklearn": SKLearnModel,
    "xgboost": XGBoostModel,
    "pytorch": PyTorchModel,
    "tensorflow": TensorFlowModel,
}

# Inputs shared by the cases: text files, so the JSON stays readable.
MODEL_FILES = {
    "model.joblib": "weights v1\n",
    "extra/vocab.txt": "a\nb\n",
    "code/old_inference.py": "# shipped inside the artifact\n",
    "code/inference.py": "# old entry point inside the artifact\n",
}
SOURCE_DIR = {
    "inference.py": "def model_fn(model_dir):\n    return model_dir\n",
    "requirements.txt": "numpy\n",
    "helpers/__init__.py": "",
    "helpers/text.py": "def clean(s):\n    return s.strip()\n",
}
DEPENDENCY = {"mylib/__init__.py": "VALUE = 1\n", "mylib/util.py": "def f():\n    return 2\n"}
ENTRY_ONLY = {"inference.py": "# single-file entry point\n"}
# A source_dir given as an S3 .tar.gz: its members.
SOURCE_TARBALL = {"inference.py": "# from a tarball\n", "pkg/mod.py": "X = 3\n"}


class FakeS3:
    """Just enough of boto3's S3 resource: Object().upload_file, Bucket().download_file."""

    def __init__(self, root):
        self.root = root
        self.uploads = []

    def path(self, bucket, key):
        return os.path.join(self.root, bucket, key)

    def Object(self, bucket, key):  # noqa: N802 (boto3's name)
        outer = self

        class Obj:
            def upload_file(self, filename, ExtraArgs=None):  # noqa: N803
                dest = outer.path(bucket, key)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(filename, dest)
                outer.uploads.append(f"s3://{bucket}/{key}")

        return Obj()

    def Bucket(self, bucket):  # noqa: N802
        outer = self

        class B:
            def download_file(self, key, target, ExtraArgs=None):  # noqa: N803
                shutil.copyfile(outer.path(bucket, key), target)

        return B()


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def tar_gz_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for rel, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def listing(path):
    """The archive's entries as {path, type, sha256?}, names normalized
    (no leading './' or '/', no trailing '/'); the root entry dropped."""
    out = []
    with tarfile.open(path, "r:gz") as t:
        for m in t.getmembers():
            name = m.name
            while name.startswith("./") or name.startswith("/"):
                name = name[2:] if name.startswith("./") else name[1:]
            name = name.rstrip("/")
            if name in ("", "."):
                continue
            if m.isdir():
                out.append({"path": name, "type": "dir"})
            elif m.isfile():
                data = t.extractfile(m).read()
                out.append({"path": name, "type": "file", "sha256": hashlib.sha256(data).hexdigest()})
            else:
                out.append({"path": name, "type": "other"})
    return sorted(out, key=lambda e: e["path"])


def run_case(spec, work):
    s3 = FakeS3(os.path.join(work, "s3"))
    # The user's artifact lives in S3, as the pipeline sees it.
    artifact_key = "models/demo/v1/model.tar.gz"
    os.makedirs(os.path.dirname(s3.path(ARTIFACT_BUCKET, artifact_key)), exist_ok=True)
    with open(s3.path(ARTIFACT_BUCKET, artifact_key), "wb") as f:
        f.write(tar_gz_bytes(MODEL_FILES))
    model_data = f"s3://{ARTIFACT_BUCKET}/{artifact_key}"

    local = os.path.join(work, "local")
    source_dir = None
    code_files = ENTRY_ONLY
    if spec["source"] == "folder":
        source_dir = os.path.join(local, "code")
        write_tree(source_dir, SOURCE_DIR)
        code_files = SOURCE_DIR
        entry_point = spec.get("entry_point", "inference.py")
    elif spec["source"] == "tarball":
        tar_key = "models/demo/v1/code.tar.gz"
        with open(s3.path(ARTIFACT_BUCKET, tar_key), "wb") as f:
            f.write(tar_gz_bytes(SOURCE_TARBALL))
        source_dir = f"s3://{ARTIFACT_BUCKET}/{tar_key}"
        code_files = SOURCE_TARBALL
        entry_point = "inference.py"
    else:
        write_tree(local, ENTRY_ONLY)
        entry_point = os.path.join(local, "inference.py")
    dependencies = None
    if spec.get("dependencies"):
        write_tree(os.path.join(local, "deps"), DEPENDENCY)
        dependencies = [os.path.join(local, "deps", "mylib")]

    recorded = {}

    def create_model(self, name, role, container_defs, *args, **kwargs):
        recorded["container"] = container_defs
        return name

    boto_session = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with mock.patch.object(sagemaker.Session, "default_bucket", lambda self: SDK_BUCKET), \
            mock.patch.object(sagemaker.Session, "_get_account_id_if_default_bucket", lambda self, b: None), \
            mock.patch.object(sagemaker.Session, "create_model", create_model), \
            mock.patch.object(sagemaker.Session, "endpoint_from_production_variants", lambda self, *a, **k: None), \
            mock.patch.object(sagemaker.Session, "create_endpoint_config", lambda self, *a, **k: None), \
            mock.patch.object(sagemaker.Session, "create_endpoint", lambda self, *a, **k: None), \
            mock.patch.object(sagemaker.Session, "wait_for_endpoint", lambda self, *a, **k: None), \
            mock.patch.object(boto3.Session, "resource", lambda self, *a, **k: s3):
        session = sagemaker.Session(boto_session=boto_session, default_bucket=SDK_BUCKET)
        kwargs = dict(model_data=model_data, role=ROLE, entry_point=entry_point, source_dir=source_dir,
                      dependencies=dependencies, framework_version=spec["framework_version"],
                      env=dict(spec.get("user_environment", {})), sagemaker_session=session, name="m")
        if spec["framework"] != "tensorflow":
            kwargs["py_version"] = spec.get("py_version", "py3")
        model = MODEL_CLASSES[spec["framework"]](**kwargs)
        model.deploy(serverless_inference_config=ServerlessInferenceConfig(), endpoint_name="e", wait=False)

    container = recorded["container"]
    uploads = list(s3.uploads)
    if len(uploads) > 1:
        raise SystemExit(f"{spec['name']}: more than one upload: {uploads}")
    archive = None
    if uploads:
        bucket, key = uploads[0][len("s3://"):].split("/", 1)
        archive = {"uri": uploads[0], "name": os.path.basename(key), "entries": listing(s3.path(bucket, key))}
    mode = "none"
    if archive and archive["name"] == "sourcedir.tar.gz":
        mode = "sourcedir"
    elif archive and archive["name"] == "model.tar.gz":
        mode = "repack"

    def placeholder(value):
        # S3 URIs the SDK chose become names the test fills in with the
        # pipeline's own locations.
        if archive and value == archive["uri"]:
            return "{sourcedir}" if mode == "sourcedir" else "{repacked}"
        if value == model_data:
            return "{artifact}"
        if source_dir and value == source_dir:
            return "{source_tarball}"
        return value

    case = dict(spec)
    case.update({
        "region": REGION,
        "image_uri": container["Image"],
        "mode": mode,
        "model_data": placeholder(container["ModelDataUrl"]),
        "environment": {k: placeholder(v) for k, v in sorted(container.get("Environment", {}).items())},
        "archive": archive["entries"] if archive else None,
        "inputs": {
            "model": MODEL_FILES,
            "code": code_files,
            "dependencies": DEPENDENCY if dependencies else {},
        },
    })
    return case


# The cases: each framework's packing mode, each way of giving the code.
SPECS = [
    {"name": "sklearn-folder-deps", "framework": "sklearn", "framework_version": "1.2-1", "source": "folder",
     "dependencies": True, "user_environment": {"MY_FLAG": "1", "SAGEMAKER_PROGRAM": "ignored.py"}},
    {"name": "sklearn-entry-only", "framework": "sklearn", "framework_version": "1.2-1", "source": "entry"},
    {"name": "sklearn-nested-entry", "framework": "sklearn", "framework_version": "1.2-1", "source": "folder",
     "entry_point": "helpers/text.py"},
    {"name": "sklearn-tarball", "framework": "sklearn", "framework_version": "1.2-1", "source": "tarball"},
    {"name": "xgboost-folder", "framework": "xgboost", "framework_version": "1.7-1", "source": "folder"},
    {"name": "pytorch-folder-deps", "framework": "pytorch", "framework_version": "2.1", "py_version": "py310",
     "source": "folder", "dependencies": True, "user_environment": {"MY_FLAG": "1"}},
    {"name": "pytorch-entry-only", "framework": "pytorch", "framework_version": "2.1", "py_version": "py310",
     "source": "entry"},
    {"name": "pytorch-tarball", "framework": "pytorch", "framework_version": "2.1", "py_version": "py310",
     "source": "tarball"},
    {"name": "pytorch-py36", "framework": "pytorch", "framework_version": "1.8.1", "py_version": "py36",
     "source": "folder"},
    {"name": "pytorch-before-mms", "framework": "pytorch", "framework_version": "1.0.0", "py_version": "py3",
     "source": "folder"},
    {"name": "tensorflow-folder-deps", "framework": "tensorflow", "framework_version": "2.13", "source": "folder",
     "dependencies": True, "user_environment": {"MY_FLAG": "1"}},
]


def py_version_cases():
    """image_uris.retrieve() with an explicit py_version (or none) for every
    inference version of each framework, plus one unknown py_version each."""
    from sagemaker import image_uris
    out, seen = [], set()
    for framework in MODEL_CLASSES:
        config = image_uris.config_for_framework(framework)["inference"]
        for version, vc in config["versions"].items():
            available = vc.get("py_versions") if "repository" in vc else list(vc.keys())
            for py in [None, "py2", "py3", "py310", "py99"] + list(available or []):
                if (framework, version, py) in seen:
                    continue
                seen.add((framework, version, py))
                case = {"framework": framework, "version": version, "py_version": py}
                try:
                    case["uri"] = image_uris.retrieve(
                        framework, REGION, version=version, py_version=py, image_scope="inference",
                        serverless_inference_config=ServerlessInferenceConfig())
                except ValueError as exc:
                    case["error"] = "py_version" if str(exc).startswith("Unsupported Python version") else "other"
                out.append(case)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    args = parser.parse_args()
    os.environ["SAGEMAKER_TELEMETRY_OPT_OUT"] = "true"
    cases = []
    for spec in SPECS:
        with tempfile.TemporaryDirectory() as work:
            cases.append(run_case(spec, work))
    doc = {
        "generated_by": "scripts/generate_packing_cases.py",
        "sdk": {"package": "sagemaker", "version": md.version("sagemaker")},
        "cases": cases,
        "py_version_cases": py_version_cases(),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(cases)} cases -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate shared/tests/data/image_uri_cases.json by calling the SageMaker SDK.

Run it with the interpreter of the scratch venv that scripts/refresh-image-uris
sets up (it needs the PyPI package sagemaker-core). Every case is the answer of

    sagemaker.core.image_uris.retrieve(
        framework, region, version=version, image_scope="inference",
        serverless_inference_config=ServerlessInferenceConfig())

i.e. the CPU inference image, no instance type, default py_version. The
serverless config is what makes the SDK choose the CPU image for frameworks
that publish both CPU and GPU images (pytorch, tensorflow); without it (and
without an instance type) the SDK refuses them ("Empty SageMaker instance
type"). For frameworks with a single processor the two calls agree, which this
script checks.

A case is {"framework", "version", "region", "uri"} or, where the SDK raised,
{"framework", "version", "region", "error": true, "kind": K} with K one of
framework, version, py_version, region, other.
"""

import argparse
import functools
import importlib.metadata as md
import json
import os
import sys

import botocore.loaders
from sagemaker.core import image_uris
from sagemaker.core.serverless_inference_config import ServerlessInferenceConfig

# Speed only: the SDK builds a new botocore loader, and so re-reads the 1.2 MB
# endpoints.json, on every retrieve() call (90% of its run time). Sharing one
# loader (which caches what it read) gives the same answers.
botocore.loaders.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)

FRAMEWORKS = ["xgboost", "sklearn", "pytorch", "tensorflow"]
SERVERLESS = ServerlessInferenceConfig()

# Frameworks the SDK has no config for (it raises FileNotFoundError).
UNKNOWN_FRAMEWORKS = ["caffe", "XGBoost", "PyTorch", "scikit-learn", "torch", "tf", "", "xgboost ", " sklearn"]
# Region strings that are not in any framework's registry table.
BAD_REGIONS = ["us-east-9", "US-EAST-1", "", "us-east-1 ", " us-east-1", "local", "aws-global", "eu-isoe-west-1",
               "eusc-de-east-1", "us-gov-west-1-fips"]
# A few Regions for the version error cases: one per partition shape.
SAMPLE_REGIONS = ["us-east-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1"]


def classify(framework, exc):
    if isinstance(exc, FileNotFoundError):
        return "framework"
    msg = str(exc)
    if msg.startswith(f"Unsupported {framework} version:"):
        return "version"
    if msg.startswith("Unsupported Python version:"):
        return "py_version"
    if msg.startswith("Unsupported region:"):
        return "region"
    return "other"


def call(framework, version, region, **kwargs):
    try:
        return {"uri": image_uris.retrieve(framework, region, version=version, image_scope="inference", **kwargs)}
    except Exception as exc:  # pylint: disable=broad-except
        out = {"error": True, "kind": classify(framework, exc)}
        if out["kind"] == "other":
            out["message"] = f"{type(exc).__name__}: {exc}"
        return out


def inference_config(framework):
    return image_uris.config_for_framework(framework)["inference"]


def versions_for(framework):
    """Versions and aliases to test for a framework (config order)."""
    config = inference_config(framework)
    versions = list(config["versions"])
    aliases = config.get("version_aliases", {})
    if framework in ("xgboost", "sklearn"):
        chosen = versions + list(aliases)
    else:
        targets = set(aliases.values())
        chosen = list(aliases)  # every short version ("2.1", "2.13", ...)
        # Full versions no alias points at are only reachable spelled out.
        chosen += [v for v in versions if v not in targets]
        # Oldest and newest, and the newest alias targets, spelled out.
        chosen += versions[:2] + versions[-3:]
    chosen.append("")  # the SDK treats an empty version like None: the latest
    return list(dict.fromkeys(chosen))


def regions_for(framework):
    config = inference_config(framework)
    regions = {}
    for version_config in config["versions"].values():
        regions.update(dict.fromkeys(version_config["registries"]))
    return sorted(regions)


def bad_versions_for(framework):
    config = inference_config(framework)
    newest_alias = list(config.get("version_aliases", {}) or config["versions"])[-1]
    bad = ["0.1", "99.0", "v" + newest_alias, " " + newest_alias, newest_alias + " ", newest_alias + ".0.0",
           "LATEST", "latest", "None", "1.7-1", "2.1", "2.13", "1.2-1"]
    known = set(config["versions"]) | set(config.get("version_aliases", {}))
    return [v for v in bad if v not in known]


def all_partition_regions():
    from sagemaker.core import common_utils  # pylint: disable=import-outside-toplevel

    resolver = common_utils._botocore_resolver()  # pylint: disable=protected-access
    return sorted(r for p in resolver._endpoint_data["partitions"] for r in p["regions"])  # pylint: disable=protected-access


def build_cases():
    cases = []
    seen = set()
    plain_mismatches = []

    def add(framework, version, region):
        key = (framework, version, region)
        if key in seen:
            return
        seen.add(key)
        result = call(framework, version, region, serverless_inference_config=SERVERLESS)
        if framework in ("xgboost", "sklearn") or framework not in FRAMEWORKS:
            plain = call(framework, version, region)
            if plain != result:
                plain_mismatches.append((key, plain, result))
        cases.append({"framework": framework, "version": version, "region": region, **result})

    partition_regions = all_partition_regions()
    for framework in FRAMEWORKS:
        regions = regions_for(framework)
        for version in versions_for(framework):
            for region in regions:
                add(framework, version, region)
        for version in bad_versions_for(framework):
            for region in SAMPLE_REGIONS:
                add(framework, version, region)
        newest = list(inference_config(framework)["versions"])[-1]
        extra_regions = BAD_REGIONS + [r for r in partition_regions if r not in regions]
        for region in extra_regions:
            add(framework, newest, region)
            add(framework, "", region)
    for framework in UNKNOWN_FRAMEWORKS:
        for version in ("1.0-1", "2.1", ""):
            add(framework, version, "us-east-1")

    if plain_mismatches:
        for key, plain, serverless in plain_mismatches[:20]:
            print(f"mismatch without serverless config: {key}: {plain} vs {serverless}", file=sys.stderr)
        sys.exit("generate_image_uri_cases: the serverless and plain calls disagree for a single-processor framework")
    return cases


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(repo_root, "shared", "tests", "data", "image_uri_cases.json"))
    args = parser.parse_args()

    cases = build_cases()
    header = {
        "generator": "scripts/generate_image_uri_cases.py",
        "sagemaker_core_version": md.version("sagemaker-core"),
        "botocore_version": md.version("botocore"),
        "call": "sagemaker.core.image_uris.retrieve(framework, region, version=version, image_scope='inference', "
                "serverless_inference_config=ServerlessInferenceConfig())",
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        f.write("{\n")
        for key, value in header.items():
            f.write(f"{json.dumps(key)}: {json.dumps(value)},\n")
        f.write('"cases": [\n')
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]\n}\n")

    errors = sum(1 for c in cases if c.get("error"))
    kinds = {}
    for c in cases:
        if c.get("error"):
            kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    print(f"generate_image_uri_cases: {len(cases)} cases ({len(cases) - errors} URIs, {errors} errors {kinds}) "
          f"-> {args.output}")


if __name__ == "__main__":
    main()

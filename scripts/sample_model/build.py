#!/usr/bin/env python3
"""Builds the demo's model.tar.gz as a training job leaves it: model.joblib
alone. The inference script (inference.py beside this file) is not packed
by hand: the demo uploads it next to the artifact and names it in
deploy.json (entry_point/source_dir), and the deployer packs it as the
SageMaker SDK's SKLearnModel does.

    .venv/bin/python scripts/sample_model/build.py OUT_DIR
"""

import io
import os
import sys
import tarfile

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main(out_dir: str) -> str:
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    path = os.path.join(out_dir, "model.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = buffer.tell()
        buffer.seek(0)
        tar.addfile(info, buffer)
    return path


if __name__ == "__main__":
    print(main(sys.argv[1]))

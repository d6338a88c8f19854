#!/usr/bin/env python3
"""Builds the demo's model.tar.gz the way the SageMaker scikit-learn
container expects it: model.joblib at the top, the inference script under
code/ (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code).

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
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(out_dir, "model.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = buffer.tell()
        buffer.seek(0)
        tar.addfile(info, buffer)
        tar.add(os.path.join(here, "inference.py"), arcname="code/inference.py")
    return path


if __name__ == "__main__":
    print(main(sys.argv[1]))

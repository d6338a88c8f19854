"""Inference handlers for the SageMaker scikit-learn container.

The container imports this module (SAGEMAKER_PROGRAM=inference.py) and
calls model_fn once at start-up, then input_fn -> predict_fn -> output_fn
for each request.
"""

import io
import json
import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    if content_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type}; send text/csv")
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)


def predict_fn(features, model):
    return model.predict_proba(features)


def output_fn(probabilities, accept):
    return json.dumps({"probabilities": probabilities.tolist()}), "application/json"

#!/usr/bin/env python3
"""Deterministically build small trained MLPs with table-lookup activations, in the same format
as make_models.py (its helpers and data split are reused):

  mlp_sigmoid   64 -> 32 -> 16 -> 10, Sigmoid activations (scikit-learn "logistic")
  mlp_tanh      64 -> 32 -> 10, Tanh activation

Set-up and run (any python with these packages will do), from the repository root:
  python3 -m venv target/models-venv
  target/models-venv/bin/pip install numpy onnx onnxruntime scikit-learn
  (cd models && ../target/models-venv/bin/python make_nonlinear_models.py)
"""
import argparse
import json
import os
import warnings

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from sklearn.neural_network import MLPClassifier

import make_models
from make_models import SEED, CALIB_SAMPLES, SAMPLE_INDEX, f32list, load_data, ort_run, param_count

SPECS = {
    "mlp_sigmoid": ((32, 16), "logistic", "Sigmoid"),
    "mlp_tanh": ((32,), "tanh", "Tanh"),
}


def train(hidden, activation, Xtr, ytr):
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, solver="adam",
                        alpha=1e-4, max_iter=600, random_state=SEED, tol=1e-6,
                        n_iter_no_change=30)
    clf.fit(Xtr, ytr)
    return clf.coefs_, clf.intercepts_


def graph(name, coefs, intercepts, act):
    nodes, inits = [], []
    cur = "input"
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        inits.append(numpy_helper.from_array(np.asarray(W, np.float32), f"W{i}"))
        inits.append(numpy_helper.from_array(np.asarray(b, np.float32), f"b{i}"))
        last = i == len(coefs) - 1
        z = "output" if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [z], name=f"gemm{i}"))
        if not last:
            nodes.append(helper.make_node(act, [z], [f"h{i}"], name=f"{act.lower()}{i}"))
            cur = f"h{i}"
    return helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, coefs[-1].shape[1]])],
        inits)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*Maximum iterations.*")
    Xtr, Xte, ytr, yte = load_data()
    for name, (hidden, activation, op) in SPECS.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "network.onnx")
        coefs, ints = train(hidden, activation, Xtr, ytr)
        model = make_models.save_model(graph(name, coefs, ints, op), path,
                                       producer="zkinfer-bench-make_nonlinear_models")
        out_all = ort_run(path, Xte, (1, 64))
        acc = float((out_all.argmax(1) == yte).mean())
        y0 = out_all[SAMPLE_INDEX]
        with open(os.path.join(d, "input.json"), "w") as f:
            json.dump({"input_data": [f32list(Xte[SAMPLE_INDEX])]}, f)
        with open(os.path.join(d, "calibration.json"), "w") as f:
            json.dump({"input_data": [f32list(Xte[:CALIB_SAMPLES])]}, f)
        exp = {
            "model": name,
            "arch": "64->" + "->".join(str(h) for h in hidden) + f"->10 (Gemm+{op}, logits out)",
            "input_shape": [1, 64],
            "params": param_count(model),
            "test_accuracy_float": acc,
            "sample_index": SAMPLE_INDEX,
            "label": int(yte[SAMPLE_INDEX]),
            "argmax": int(np.argmax(y0)),
            "output": f32list(y0),
        }
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(exp, f, indent=1)
        print(json.dumps({k: exp[k] for k in ("model", "arch", "params", "test_accuracy_float", "label", "argmax")}))


if __name__ == "__main__":
    main()

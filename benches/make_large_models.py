#!/usr/bin/env python3
"""Large models for the performance bench (issue: ≥ 1 M and 10 M parameters).

Not trained: He-initialised weights with a fixed seed and inputs in [0, 1) (the shapes and
value ranges of a real export are what cost depends on). Each model folder gets what
`benches/compare.sh` and ../shared/peer/run.sh read: network.onnx, input.json,
calibration.json (EZKL input format) and expected.json (onnxruntime's float output).

  python benches/make_large_models.py [--out target/large_models] [name ...]

Models:
  mlp_deep_1m   784 → 512 → 512 → 512 → 512 → 10, ReLU      (~1.2 M parameters)
  cnn_wide_1m   Conv 1→32 3×3 on 28×28, ReLU, Conv 32→64 3×3 stride 2, ReLU, Flatten,
                Gemm 12544→96, ReLU, Gemm 96→10                (~1.2 M parameters,
                4.6 M multiply-accumulates)
  mlp_10m       784 → 2048 → 2048 → 2048 → 10, ReLU          (~10.0 M parameters)
"""
import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

SEED = 7
CALIB = 8


def he(rng, fan_in, shape):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def mlp(name, dims, rng):
    nodes, inits = [], []
    cur = "input"
    for i in range(len(dims) - 1):
        W = he(rng, dims[i], (dims[i + 1], dims[i]))
        b = (rng.standard_normal(dims[i + 1]) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(W, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        last = i == len(dims) - 2
        z = "output" if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [z], name=f"gemm{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [z], [f"h{i}"], name=f"relu{i}"))
            cur = f"h{i}"
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, dims[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, dims[-1]])],
        inits)
    params = sum(dims[i] * dims[i + 1] + dims[i + 1] for i in range(len(dims) - 1))
    return g, [1, dims[0]], params


def cnn(name, rng):
    c1, c2, hidden = 32, 64, 96
    flat = c2 * 14 * 14
    inits = [
        numpy_helper.from_array(he(rng, 9, (c1, 1, 3, 3)), "k1"),
        numpy_helper.from_array(np.zeros(c1, np.float32), "c1"),
        numpy_helper.from_array(he(rng, 9 * c1, (c2, c1, 3, 3)), "k2"),
        numpy_helper.from_array(np.zeros(c2, np.float32), "c2"),
        numpy_helper.from_array(he(rng, flat, (hidden, flat)), "W1"),
        numpy_helper.from_array(np.zeros(hidden, np.float32), "b1"),
        numpy_helper.from_array(he(rng, hidden, (10, hidden)), "W2"),
        numpy_helper.from_array(np.zeros(10, np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "k1", "c1"], ["a1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "k2", "c2"], ["a2"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("Flatten", ["r2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "W1", "b1"], ["z"], transB=1, name="fc1"),
        helper.make_node("Relu", ["z"], ["h"], name="relu3"),
        helper.make_node("Gemm", ["h", "W2", "b2"], ["output"], transB=1, name="fc2"),
    ]
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])],
        inits)
    params = sum(int(np.prod(t.dims)) for t in inits)
    return g, [1, 1, 28, 28], params


MODELS = {
    "mlp_deep_1m": lambda rng: mlp("mlp_deep_1m", [784, 512, 512, 512, 512, 10], rng),
    "cnn_wide_1m": lambda rng: cnn("cnn_wide_1m", rng),
    "mlp_10m": lambda rng: mlp("mlp_10m", [784, 2048, 2048, 2048, 10], rng),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="target/large_models")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    for name in a.names or MODELS:
        rng = np.random.default_rng(SEED)
        g, in_shape, params = MODELS[name](rng)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        onnx.save(m, os.path.join(d, "network.onnx"))
        n = int(np.prod(in_shape))
        x = rng.random((CALIB, n)).astype(np.float32)
        sess = ort.InferenceSession(m.SerializeToString())
        out = sess.run(None, {"input": x[0].reshape(in_shape)})[0].reshape(-1)
        json.dump({"input_data": [x[0].tolist()]}, open(os.path.join(d, "input.json"), "w"))
        json.dump({"input_data": [x.reshape(-1).tolist()]}, open(os.path.join(d, "calibration.json"), "w"))
        json.dump({"output": out.tolist(), "argmax": int(out.argmax()), "params": params},
                  open(os.path.join(d, "expected.json"), "w"))
        print(f"{name}: {params} parameters -> {d}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deterministically build four small *trained* ONNX classifiers that exercise more graph ops
(BatchNormalization, MaxPool/AveragePool, GlobalAveragePool, grouped/strided/padded/SAME_UPPER Conv,
residual Add) than make_models.py, for zkML op-coverage testing.

Setup and run (from the repository root; CPU only, no downloads, < 1 min on 2 cores):
    python3 -m venv target/models-venv
    target/models-venv/bin/pip install numpy onnx onnxruntime scikit-learn autograd
    target/models-venv/bin/python models/make_graph_models.py [--out DIR]

Conventions follow make_models.py: scikit-learn's bundled `load_digits`, inputs are pixel/16 as
float32, the same stratified 80/20 split, opset 13, ir_version 8, fixed batch 1, raw logits out.
Training is a small Adam loop in numpy with gradients from the pure-python `autograd` package.

For every model <name> this writes, under the output dir (default: this script's folder)/<name>/:
  network.onnx      the model (input "input": [1,1,8,8] CNNs / [1,64] MLP; output "output": [1,10])
  input.json        EZKL input format {"input_data": [[64 floats]]}: test sample SAMPLE_INDEX
  calibration.json  EZKL input format with CALIB_SAMPLES test samples concatenated
  expected.json     onnxruntime float output for input.json, label, argmax, accuracy, param count
"""
import argparse
import json
import os

import autograd.numpy as anp
import numpy as np
import onnx
from autograd import grad
from onnx import TensorProto, helper, numpy_helper

import make_models  # the same folder: data split and ONNX/onnxruntime helpers
from make_models import SAMPLE_INDEX, load_data, ort_run, write_outputs

SEED = 0
OPSET = 13
IR_VERSION = 8  # conservative, readable by older ONNX consumers (tract)
BN_EPS = 1e-5  # ONNX BatchNormalization default epsilon (attribute omitted in the graph)
STEPS = 400
BATCH = 128  # default minibatch size / Adam learning rate; per-model overrides in SPECS
LR = 0.02
WD = 1e-4


# ---------------------------------------------------------------- numpy/autograd building blocks
def conv2d(x, W, b, stride=1, pads=(0, 0, 0, 0), group=1):
    """x (N,C,H,W), W (O,C/group,kh,kw), pads ONNX order [top,left,bottom,right]."""
    kh, kw = W.shape[2], W.shape[3]
    t, l, bo, r = pads
    if any(pads):
        x = anp.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)), mode="constant")
    H, Wd = x.shape[2], x.shape[3]
    Ho, Wo = (H - kh) // stride + 1, (Wd - kw) // stride + 1
    patches = anp.stack([x[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride]
                         for i in range(kh) for j in range(kw)])  # (K,N,C,Ho,Wo)
    if group == 1:
        out = anp.einsum("knchw,ock->nohw", patches, anp.reshape(W, (W.shape[0], W.shape[1], kh * kw)))
    else:  # depthwise only: group == C == O
        assert group == x.shape[1] == W.shape[0] and W.shape[1] == 1
        out = anp.einsum("knchw,ck->nchw", patches, anp.reshape(W, (W.shape[0], kh * kw)))
    return out + anp.reshape(b, (1, -1, 1, 1))


def relu(x):
    return anp.maximum(x, 0.0)


def pool2x2(x, kind):
    N, C, H, W = x.shape
    r = anp.reshape(x, (N, C, H // 2, 2, W // 2, 2))
    return anp.max(anp.max(r, axis=5), axis=3) if kind == "max" else anp.mean(anp.mean(r, axis=5), axis=3)


def gap_flatten(x):
    return anp.mean(anp.mean(x, axis=3), axis=2)


def flatten(x):
    return anp.reshape(x, (x.shape[0], -1))


def bn_apply(z, mean, var, scale, bias):
    sh = (1, -1, 1, 1)
    return (anp.reshape(scale, sh) * (z - anp.reshape(mean, sh)) / anp.sqrt(anp.reshape(var, sh) + BN_EPS)
            + anp.reshape(bias, sh))


def he(rng, shape, fan_in):
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


# ---------------------------------------------------------------- models: init + forward
# Each forward takes x in the model's input layout and a dict of parameters (plus, for BN, a
# `train` flag: batch statistics while training, running statistics otherwise).
def init_cnn_bn(rng):
    return {"c0_W": he(rng, (4, 1, 3, 3), 9), "c0_b": np.zeros(4),
            "bn_scale": np.ones(4), "bn_bias": np.zeros(4),
            "c1_W": he(rng, (8, 4, 3, 3), 36), "c1_b": np.zeros(8),
            "fc_W": he(rng, (8, 10), 8), "fc_b": np.zeros(10)}


def fwd_cnn_bn(x, p, train=False):
    z = conv2d(x, p["c0_W"], p["c0_b"])  # ONNX defaults: stride 1, no padding
    if train:
        mean, var = anp.mean(z, axis=(0, 2, 3)), anp.var(z, axis=(0, 2, 3))
    else:
        mean, var = p["bn_mean"], p["bn_var"]
    h = relu(bn_apply(z, mean, var, p["bn_scale"], p["bn_bias"]))
    h = pool2x2(h, "max")
    h = relu(conv2d(h, p["c1_W"], p["c1_b"], pads=(1, 1, 1, 1)))
    return anp.dot(gap_flatten(h), p["fc_W"]) + p["fc_b"]


DW_LAYERS = [("c0", dict(pads=(1, 1, 1, 1))), ("dw", dict(stride=2, pads=(1, 1, 1, 1), group=8)), ("pw", {})]


def init_dw(rng):
    p = {"c0_W": he(rng, (8, 1, 3, 3), 9), "c0_b": np.zeros(8),
         "dw_W": he(rng, (8, 1, 3, 3), 9), "dw_b": np.zeros(8),
         "pw_W": he(rng, (8, 8, 1, 1), 8), "pw_b": np.zeros(8),
         "fc_W": he(rng, (8, 10), 8), "fc_b": np.zeros(10)}
    for n, _ in DW_LAYERS:  # training-only BatchNorm affine params, folded into the convs afterwards
        p[n + "_g"], p[n + "_be"] = np.ones(8), np.zeros(8)
    return p


def fwd_dw(x, p, train=False):
    # Without normalization this GAP-bottlenecked net trains poorly (~85% test) in a few hundred steps,
    # so training inserts batch-stat BN after each conv; fold_dw folds it into the conv weights.
    h = x
    for n, kw in DW_LAYERS:
        z = conv2d(h, p[n + "_W"], p[n + "_b"], **kw)
        if train:
            z = bn_apply(z, anp.mean(z, axis=(0, 2, 3)), anp.var(z, axis=(0, 2, 3)), p[n + "_g"], p[n + "_be"])
        h = relu(z)
    return anp.dot(gap_flatten(h), p["fc_W"]) + p["fc_b"]


def fold_dw(p, X):
    """Fold each training BN (with statistics over the whole training split) into its conv, layer by layer."""
    h = X
    for n, kw in DW_LAYERS:
        z = conv2d(h, p[n + "_W"], p[n + "_b"], **kw)
        a = p.pop(n + "_g") / np.sqrt(z.var(axis=(0, 2, 3)) + BN_EPS)
        p[n + "_W"] = p[n + "_W"] * a[:, None, None, None]
        p[n + "_b"] = (p[n + "_b"] - z.mean(axis=(0, 2, 3))) * a + p.pop(n + "_be")
        h = relu(conv2d(h, p[n + "_W"], p[n + "_b"], **kw))
    return p


def precise_bn(p, X):
    """cnn_bn: BN running statistics = conv0 output statistics over the whole training split."""
    z = conv2d(X, p["c0_W"], p["c0_b"])
    p["bn_mean"], p["bn_var"] = z.mean(axis=(0, 2, 3)), z.var(axis=(0, 2, 3))
    return p


def init_res_mlp(rng):
    return {"W0": he(rng, (64, 32), 64), "b0": np.zeros(32),
            "W1": he(rng, (32, 32), 32) * 0.5, "b1": np.zeros(32),
            "W2": he(rng, (32, 10), 32), "b2": np.zeros(10)}


def fwd_res_mlp(x, p, train=False):
    h0 = relu(anp.dot(x, p["W0"]) + p["b0"])
    h1 = relu(anp.dot(h0, p["W1"]) + p["b1"])
    return anp.dot(h1 + h0, p["W2"]) + p["b2"]


def init_res_conv(rng):
    return {"c0_W": he(rng, (4, 1, 3, 3), 9), "c0_b": np.zeros(4),
            "c1_W": he(rng, (4, 4, 3, 3), 36) * 0.5, "c1_b": np.zeros(4),
            "fc_W": he(rng, (64, 10), 64), "fc_b": np.zeros(10)}


def fwd_res_conv(x, p, train=False):
    h0 = relu(conv2d(x, p["c0_W"], p["c0_b"], pads=(1, 1, 1, 1)))  # SAME_UPPER, 3x3, stride 1
    h1 = conv2d(h0, p["c1_W"], p["c1_b"], pads=(1, 1, 1, 1))
    h = pool2x2(relu(h1 + h0), "avg")
    return anp.dot(flatten(h), p["fc_W"]) + p["fc_b"]


# ---------------------------------------------------------------- ONNX graphs
def _init(p, names):
    return [numpy_helper.from_array(np.asarray(p[n], np.float32), n) for n in names]


def _graph(nodes, name, inits, in_shape):
    return helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])],
        inits)


N = helper.make_node


def onnx_cnn_bn(name, p):
    nodes = [
        N("Conv", ["input", "c0_W", "c0_b"], ["c0"], name="conv0", kernel_shape=[3, 3]),  # no strides/pads/dilations/group
        N("BatchNormalization", ["c0", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn0"], name="bn0"),  # default epsilon
        N("Relu", ["bn0"], ["r0"], name="relu0"),
        N("MaxPool", ["r0"], ["p0"], name="maxpool0", kernel_shape=[2, 2], strides=[2, 2]),
        N("Conv", ["p0", "c1_W", "c1_b"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("Relu", ["c1"], ["r1"], name="relu1"),
        N("GlobalAveragePool", ["r1"], ["g0"], name="gap0"),
        N("Flatten", ["g0"], ["f0"], name="flatten0", axis=1),
        N("Gemm", ["f0", "fc_W", "fc_b"], ["output"], name="gemm0"),
    ]
    names = ["c0_W", "c0_b", "bn_scale", "bn_bias", "bn_mean", "bn_var", "c1_W", "c1_b", "fc_W", "fc_b"]
    return _graph(nodes, name, _init(p, names), (1, 1, 8, 8))


def onnx_dw(name, p):
    nodes = [
        N("Conv", ["input", "c0_W", "c0_b"], ["c0"], name="conv0", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("Relu", ["c0"], ["r0"], name="relu0"),
        N("Conv", ["r0", "dw_W", "dw_b"], ["c1"], name="dwconv", kernel_shape=[3, 3], group=8,
          strides=[2, 2], pads=[1, 1, 1, 1]),
        N("Relu", ["c1"], ["r1"], name="relu1"),
        N("Conv", ["r1", "pw_W", "pw_b"], ["c2"], name="pwconv", kernel_shape=[1, 1]),
        N("Relu", ["c2"], ["r2"], name="relu2"),
        N("GlobalAveragePool", ["r2"], ["g0"], name="gap0"),
        N("Flatten", ["g0"], ["f0"], name="flatten0", axis=1),
        N("Gemm", ["f0", "fc_W", "fc_b"], ["output"], name="gemm0"),
    ]
    names = ["c0_W", "c0_b", "dw_W", "dw_b", "pw_W", "pw_b", "fc_W", "fc_b"]
    return _graph(nodes, name, _init(p, names), (1, 1, 8, 8))


def onnx_res_mlp(name, p):
    nodes = [
        N("Gemm", ["input", "W0", "b0"], ["z0"], name="gemm0"),
        N("Relu", ["z0"], ["h0"], name="relu0"),
        N("Gemm", ["h0", "W1", "b1"], ["z1"], name="gemm1"),
        N("Relu", ["z1"], ["h1"], name="relu1"),
        N("Add", ["h1", "h0"], ["s0"], name="add0"),
        N("Gemm", ["s0", "W2", "b2"], ["output"], name="gemm2"),
    ]
    return _graph(nodes, name, _init(p, ["W0", "b0", "W1", "b1", "W2", "b2"]), (1, 64))


def onnx_res_conv(name, p):
    nodes = [
        N("Conv", ["input", "c0_W", "c0_b"], ["c0"], name="conv0", kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
        N("Relu", ["c0"], ["r0"], name="relu0"),
        N("Conv", ["r0", "c1_W", "c1_b"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("Add", ["c1", "r0"], ["s0"], name="add0"),
        N("Relu", ["s0"], ["r1"], name="relu1"),
        N("AveragePool", ["r1"], ["p0"], name="avgpool0", kernel_shape=[2, 2], strides=[2, 2]),
        N("Flatten", ["p0"], ["f0"], name="flatten0", axis=1),
        N("Gemm", ["f0", "fc_W", "fc_b"], ["output"], name="gemm0"),
    ]
    names = ["c0_W", "c0_b", "c1_W", "c1_b", "fc_W", "fc_b"]
    return _graph(nodes, name, _init(p, names), (1, 1, 8, 8))


SPECS = {
    # name: (init, forward, onnx builder, input shape, arch string, extra train() kwargs)
    "cnn_bn": (init_cnn_bn, fwd_cnn_bn, onnx_cnn_bn, (1, 1, 8, 8),
               "Conv(1->4,3x3,defaults)->BatchNorm->ReLU->MaxPool(2x2,s2)->Conv(4->8,3x3,pad1)->ReLU"
               "->GlobalAvgPool->Flatten->Gemm(8->10) (logits out)",
               dict(lr=0.05, batch=256, finalize=precise_bn)),
    "dw_separable": (init_dw, fwd_dw, onnx_dw, (1, 1, 8, 8),
                     "Conv(1->8,3x3,pad1)->ReLU->DepthwiseConv(8,3x3,group8,s2,pad1)->ReLU->Conv(8->8,1x1)->ReLU"
                     "->GlobalAvgPool->Flatten->Gemm(8->10) (logits out)",
                     dict(lr=0.08, batch=128, finalize=fold_dw)),
    "residual_mlp": (init_res_mlp, fwd_res_mlp, onnx_res_mlp, (1, 64),
                     "Gemm(64->32)->ReLU=h0->Gemm(32->32)->ReLU->Add(h0)->Gemm(32->10) (logits out)", {}),
    "residual_conv": (init_res_conv, fwd_res_conv, onnx_res_conv, (1, 1, 8, 8),
                      "Conv(1->4,3x3,SAME_UPPER)->ReLU=h0->Conv(4->4,3x3,pad1)->Add(h0)->ReLU"
                      "->AvgPool(2x2,s2)->Flatten(64)->Gemm(64->10) (logits out)", {}),
}


# ---------------------------------------------------------------- training
def train(init, fwd, Xtr, ytr, in_shape, lr=LR, batch=BATCH, finalize=None):
    rng = np.random.default_rng(SEED)
    p = init(rng)
    keys = sorted(p)
    X = Xtr.reshape((-1,) + tuple(in_shape[1:])).astype(np.float64)
    Y = np.eye(10)[ytr]

    def loss(params, xb, yb):
        logits = fwd(xb, params, train=True)
        logits = logits - anp.max(logits, axis=1, keepdims=True)
        lse = anp.log(anp.sum(anp.exp(logits), axis=1))
        ce = anp.mean(lse - anp.sum(logits * yb, axis=1))
        return ce + WD * sum(anp.sum(params[k] ** 2) for k in params if k.endswith("W"))

    g_fn = grad(loss)
    m = {k: np.zeros_like(p[k]) for k in keys}
    v = {k: np.zeros_like(p[k]) for k in keys}
    b1, b2, eps = 0.9, 0.999, 1e-8
    n = X.shape[0]
    perm, pos = rng.permutation(n), 0
    for t in range(1, STEPS + 1):
        if pos + batch > n:
            perm, pos = rng.permutation(n), 0
        idx = perm[pos:pos + batch]
        pos += batch
        lr_t = lr * 0.5 * (1 + np.cos(np.pi * (t - 1) / STEPS))  # cosine decay
        g = g_fn(p, X[idx], Y[idx])
        for k in keys:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            p[k] = p[k] - lr_t * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
    if finalize is not None:
        p = finalize(p, X)
    return {k: np.asarray(val, np.float32) for k, val in p.items()}


# ---------------------------------------------------------------- common: make_models.py's helpers
def save_model(graph, path):
    return make_models.save_model(graph, path, producer="zkinfer-bench-make_graph_models")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    Xtr, Xte, ytr, yte = load_data()

    summary = {}
    for name, (init, fwd, build, in_shape, arch, kw) in SPECS.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "network.onnx")
        p = train(init, fwd, Xtr, ytr, in_shape, **kw)
        model = save_model(build(name, p), path)
        onnx.checker.check_model(path, full_check=True)

        # onnxruntime over the test split: accuracy, reference output, and agreement with numpy
        out_all = ort_run(path, Xte, in_shape)
        ref = np.asarray(fwd(Xte.reshape((-1,) + tuple(in_shape[1:])).astype(np.float64),
                             {k: v.astype(np.float64) for k, v in p.items()}))
        diff = float(np.abs(out_all - ref).max())
        assert diff < 1e-4, f"{name}: onnxruntime vs numpy max abs diff {diff}"
        exp = write_outputs(d, name, arch, in_shape, model, out_all, Xte, yte)
        y0 = out_all[SAMPLE_INDEX]
        top2 = np.sort(y0)[-2:]
        summary[name] = {k: exp[k] for k in ("params", "test_accuracy_float", "argmax", "label")}
        print(json.dumps({"model": name, **summary[name], "margin": round(float(top2[1] - top2[0]), 3),
                          "ort_vs_numpy_max_abs_diff": diff}), flush=True)
    return summary


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Copies of model folders that EZKL 23.0.5 reads.

EZKL 23.0.5 refuses a Conv, MaxPool or AveragePool without an explicit `strides` attribute
("a node is missing required params: stride"), which ONNX allows (the default is 1 along every
spatial axis); three bundled models omit it (cnn_bn, dw_separable, residual_conv). This writes,
for each model folder given, target/peer/models/<name>/ with every such node's defaults
written out (strides, dilations, pads, and a Conv's kernel_shape from its weight), the same
graph otherwise (so the same outputs to the last bit), and input.json, calibration.json and
expected.json copied. Run it with the peer venv's python (it has onnx):

    target/peer/.venv/bin/python benches/peer_models.py models/cnn_bn models/residual_conv
    ../shared/peer/run.sh target/peer/models/cnn_bn target/peer/models/residual_conv
"""
import os
import shutil
import sys

import onnx
from onnx import helper, numpy_helper

SPATIAL_OPS = ("Conv", "MaxPool", "AveragePool")


def spatial_rank(node, graph, inits):
    if node.op_type == "Conv":
        w = inits.get(node.input[1])
        if w is None:
            raise SystemExit(f"{node.name}: Conv weight is not an initializer")
        return len(w.shape) - 2, list(w.shape[2:])
    for a in node.attribute:
        if a.name == "kernel_shape":
            return len(a.ints), list(a.ints)
    raise SystemExit(f"{node.name}: {node.op_type} without kernel_shape")


def explicit(model):
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    changed = 0
    for node in model.graph.node:
        if node.op_type not in SPATIAL_OPS:
            continue
        rank, kernel = spatial_rank(node, model.graph, inits)
        have = {a.name for a in node.attribute}
        auto_pad = next((a.s.decode() for a in node.attribute if a.name == "auto_pad"), "NOTSET")
        defaults = {"strides": [1] * rank, "kernel_shape": kernel}
        if node.op_type != "AveragePool":
            defaults["dilations"] = [1] * rank
        if auto_pad in ("NOTSET", ""):
            defaults["pads"] = [0] * (2 * rank)
        for name, value in defaults.items():
            if name not in have:
                node.attribute.append(helper.make_attribute(name, value))
                changed += 1
    return changed


def main(folders):
    for src in folders:
        name = os.path.basename(os.path.normpath(src))
        dst = os.path.join("target", "peer", "models", name)
        os.makedirs(dst, exist_ok=True)
        model = onnx.load(os.path.join(src, "network.onnx"))
        n = explicit(model)
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, os.path.join(dst, "network.onnx"))
        for f in ("input.json", "calibration.json", "expected.json"):
            if os.path.exists(os.path.join(src, f)):
                shutil.copy(os.path.join(src, f), os.path.join(dst, f))
        print(f"{dst}: {n} default attributes written out")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])

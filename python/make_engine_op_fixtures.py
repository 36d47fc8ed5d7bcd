#!/usr/bin/env python3
"""Reference fixtures for single ops whose gradient rules need more than the engine cases
of make_engine_fixtures.py exercise: float64 Casts, strided and reversed Slices, and Pad in
reflect, edge and wrap modes and with negative (cropping) pads, Where.

Each case is a hand-built graph (onnx.helper): x [2, 3, 7, 7] -> the op(s) -> Flatten ->
MatMul by a fixed random matrix -> y [2, 4]. For every case writes
crates/sensie/tests/data/engine_ops/<case>.onnx and <case>.npz (uncompressed) with keys:
  x           float32 [2, 3, 7, 7], standard normal
  outputs     float32 [2, 4], the model's output by onnxruntime
  target      int64 [2], the class differentiated per example (1 and 2)
  grad_input  float32 like x, d y[i, target[i]] / d x[i] by PyTorch autograd in float64 on
              the same computation written with torch ops (its output checked against
              onnxruntime's within 1e-5)
Also writes reduce_max_over_batch.onnx (no npz): x - ReduceMax(x) over every axis, batch
included, whose gradient sensie must refuse (one example's gradient would depend on the
others in its batch).
Deterministic. Usage: python/.venv/bin/python python/make_engine_op_fixtures.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "sensie" / "tests" / "data" / "engine_ops"
SHAPE = (2, 3, 7, 7)
CLASSES = 4
TARGET = np.array([1, 2], dtype=np.int64)
N = helper.make_node


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def cast_float64():
    """Cast to float64, x * x there, Cast back (a model computing part of itself in double)."""
    nodes = [N("Cast", ["x"], ["d"], to=TensorProto.DOUBLE), N("Mul", ["d", "d"], ["sq"]),
             N("Cast", ["sq"], ["h"], to=TensorProto.FLOAT)]
    return nodes, [], 13, lambda x: x * x


def where_softplus():
    """Softplus as the dynamo exporter writes it, Where(x > threshold, x, Softplus(x)), with
    the threshold lowered from 20 to 0.3 so that both branches carry gradient."""
    nodes = [N("Softplus", ["x"], ["sp"]), N("Greater", ["x", "threshold"], ["big"]),
             N("Where", ["big", "x", "sp"], ["h"])]
    threshold = numpy_helper.from_array(np.array(0.3, dtype=np.float32), "threshold")
    return nodes, [threshold], 18, lambda x: torch.where(x > 0.3, x, F.softplus(x))


def slice_steps():
    """x[:, ::-1, 1::2, ::3] with the axes given negative: steps 2, 3 and -1."""
    nodes = [N("Slice", ["x", "starts", "ends", "axes", "steps"], ["h"])]
    inits = [ints("starts", [-1, 1, 0]), ints("ends", [-(2 ** 63), 2 ** 63 - 1, 7]),
             ints("axes", [-3, -2, -1]), ints("steps", [-1, 2, 3])]
    return nodes, inits, 13, lambda x: x.flip(1)[:, :, 1::2, ::3]


def pad_reflect():
    nodes = [N("Pad", ["x", "pads"], ["h"], mode="reflect")]
    return nodes, [ints("pads", [0, 0, 1, 6, 0, 0, 6, 2])], 13, \
        lambda x: F.pad(x, (6, 2, 1, 6), mode="reflect")


def pad_edge_cropping():
    """Edge padding with a negative (cropping) pad on each spatial axis."""
    nodes = [N("Pad", ["x", "pads"], ["h"], mode="edge")]
    return nodes, [ints("pads", [0, 0, -1, 3, 0, 0, 2, -2])], 13, \
        lambda x: F.pad(x[:, :, 1:, :-2], (3, 0, 0, 2), mode="replicate")


def pad_wrap():
    """Opset 19's wrap mode along the width only (the axes input)."""
    nodes = [N("Pad", ["x", "pads", "", "axes"], ["h"], mode="wrap")]
    return nodes, [ints("pads", [2, 9]), ints("axes", [-1])], 19, \
        lambda x: torch.cat([x[..., 5:], x, x, x[..., :2]], dim=-1)


CASES = {f.__name__: f for f in (cast_float64, where_softplus, slice_steps, pad_reflect, pad_edge_cropping, pad_wrap)}


def build(nodes, inits, opset, width, rng):
    w = (rng.standard_normal((width, CLASSES)) / np.sqrt(width)).astype(np.float32)
    nodes = nodes + [N("Flatten", ["h"], ["flat"], axis=1), N("MatMul", ["flat", "w_out"], ["y"])]
    graph = helper.make_graph(
        nodes, "op", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *SHAPE[1:]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", CLASSES])],
        initializer=inits + [numpy_helper.from_array(w, "w_out")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, w


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    nodes = [N("ReduceMax", ["x"], ["peak"], keepdims=1, name="max_of_batch"),
             N("Sub", ["x", "peak"], ["h"])]
    model, _ = build(nodes, [], 18, int(np.prod(SHAPE[1:])), np.random.default_rng(0))
    onnx.save(model, OUT / "reduce_max_over_batch.onnx")
    for name, make in CASES.items():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(SHAPE).astype(np.float32)
        nodes, inits, opset, fwd = make()
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        h = fwd(xt).flatten(1)
        model, w = build(nodes, inits, opset, h.shape[1], rng)
        y = h @ torch.tensor(w, dtype=torch.float64)
        (y[torch.arange(2), torch.from_numpy(TARGET)]).sum().backward()
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        out = sess.run(None, {"x": x})[0]
        diff = float(np.abs(out - y.detach().numpy()).max())
        assert diff < 1e-5, (name, diff)
        onnx.save(model, OUT / f"{name}.onnx")
        np.savez(OUT / f"{name}.npz", x=x, outputs=out, target=TARGET,
                 grad_input=xt.grad.numpy().astype(np.float32))
        print(f"{name:20s} opset {opset} ort-torch {diff:.1e}")


if __name__ == "__main__":
    main()

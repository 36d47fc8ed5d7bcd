"""Helpers shared by make_engine_fixtures.py: ONNX Runtime runs, tensor matching,
PyTorch reference gradients, ReLU rule swapping and the kink (tie) report.

Only the fixture scripts use this module; the Rust crates never do.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

# --------------------------------------------------------------------------- ORT


def ort_session(model: onnx.ModelProto | str | Path, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def ort_run(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return ort_session(model).run(None, feeds)


def ort_all_tensors(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the model with every node output exposed as a graph output."""
    m = copy.deepcopy(model)
    have = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for name in node.output:
            if name and name not in have:
                m.graph.output.append(onnx.ValueInfoProto(name=name))
                have.add(name)
    sess = ort_session(m, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    names = [o.name for o in sess.get_outputs()]
    vals = sess.run(names, feeds)
    out = dict(zip(names, vals))
    out.update(feeds)
    for init in model.graph.initializer:
        out.setdefault(init.name, numpy_helper.to_array(init))
    return out


def find_tensor(tensors: dict[str, np.ndarray], value: np.ndarray, what: str = "layer") -> tuple[str, float]:
    """The unique ONNX tensor whose values equal `value` (same shape, max abs diff
    below 1e-5 scaled by max(1, max |value|))."""
    scale = max(1.0, float(np.abs(value).max()))
    tol = 1e-5 * scale
    hits = []
    for name, t in tensors.items():
        if not isinstance(t, np.ndarray) or t.dtype != np.float32 or t.shape != value.shape:
            continue
        d = float(np.abs(t - value).max())
        if d < tol:
            hits.append((name, d))
    assert len(hits) == 1, f"{what}: expected one matching ONNX tensor, found {hits}"
    return hits[0]


def op_types(model: onnx.ModelProto) -> list[str]:
    return sorted({n.op_type for n in model.graph.node})


def opset_of(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


# ----------------------------------------------------------------------- export


def export_legacy(model: nn.Module, x: torch.Tensor, opset: int, *, input_name="input",
                  output_name="logits", dynamic_batch=True, **kw) -> onnx.ModelProto:
    import io

    f = io.BytesIO()
    dyn = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), f, dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes=dyn, **kw)
    m = onnx.load_from_string(f.getvalue())
    assert opset_of(m) == opset, (opset_of(m), opset)
    return m


# ------------------------------------------------------------------ ReLU rules


class _RuleReLU(torch.autograd.Function):
    """ReLU whose backward follows a saliency rule.

    plain:     g * (y > 0)          (PyTorch's own rule, gradient 0 at 0)
    guided:    relu(g) * (y > 0)    (guided backprop, Springenberg et al.)
    deconvnet: relu(g)              (Zeiler & Fergus)
    """

    @staticmethod
    def forward(ctx, x, rule):
        y = x.clamp(min=0)
        ctx.save_for_backward(y)
        ctx.rule = rule
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        mask = (y > 0).to(g.dtype)
        if ctx.rule == "plain":
            return g * mask, None
        if ctx.rule == "guided":
            return g.clamp(min=0) * mask, None
        if ctx.rule == "deconvnet":
            return g.clamp(min=0), None
        raise ValueError(ctx.rule)


def rule_relu(x: torch.Tensor, rule: str | None) -> torch.Tensor:
    return torch.relu(x) if rule is None else _RuleReLU.apply(x, rule)


class RuleReLU(nn.Module):
    calls = 0

    def __init__(self, rule: str):
        super().__init__()
        self.rule = rule

    def forward(self, x):
        RuleReLU.calls += 1
        return _RuleReLU.apply(x, self.rule)


def with_relu_rule(model: nn.Module, rule: str) -> nn.Module:
    """A deep copy of `model` with every nn.ReLU module replaced by RuleReLU(rule).
    A ReLU module used several times (torchvision's BasicBlock) is covered by the one swap."""
    m = copy.deepcopy(model)
    for parent in list(m.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, RuleReLU(rule))
    return m


def set_relu_not_inplace(model: nn.Module) -> None:
    for mod in model.modules():
        if isinstance(mod, (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.LeakyReLU, nn.ELU)):
            if hasattr(mod, "inplace"):
                mod.inplace = False


def randomize_batchnorm(model: nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics and affine parameters (seeded)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                c = mod.num_features
                mod.running_mean.copy_(0.2 * torch.randn(c, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
                if mod.affine:
                    mod.weight.copy_(0.5 + torch.rand(c, generator=g))
                    mod.bias.copy_(0.2 * torch.randn(c, generator=g))


# ---------------------------------------------------------------- gradients


@dataclass
class TorchRef:
    output: np.ndarray          # the model's first output
    scores: np.ndarray          # the tensor whose target entry is differentiated
    grad_input: np.ndarray
    layer_value: np.ndarray | None = None
    grad_layer: np.ndarray | None = None


# fwd(x) -> (first_output, scores, layer_tensor_or_None)
Forward = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


def torch_reference(fwd: Forward, x: np.ndarray, target: np.ndarray, score: str = "logit") -> TorchRef:
    """Gradient of sum_i s_i[target_i] w.r.t. the input (and the layer), where s is the
    score tensor (score='logit') or softmax of it (score='prob'). float32, batch as given."""
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    out, scores, layer = fwd(xt)
    if layer is not None:
        layer.retain_grad()
    s = scores if score == "logit" else torch.softmax(scores, dim=1)
    sel = s.gather(1, torch.as_tensor(target, dtype=torch.int64)[:, None]).sum()
    sel.backward()
    ref = TorchRef(out.detach().numpy().copy(), scores.detach().numpy().copy(),
                   xt.grad.detach().numpy().copy())
    if layer is not None:
        ref.layer_value = layer.detach().numpy().copy()
        ref.grad_layer = layer.grad.detach().numpy().copy()
    return ref


def module_forward(model: nn.Module, layer_module: nn.Module | None) -> Forward:
    """fwd for a module whose first output is the score tensor; the layer is the output
    of `layer_module` (a forward hook)."""
    def fwd(x):
        store = {}
        handle = None
        if layer_module is not None:
            handle = layer_module.register_forward_hook(lambda m, i, o: store.__setitem__("y", o))
        try:
            out = model(x)
        finally:
            if handle is not None:
                handle.remove()
        return out, out, store.get("y")
    return fwd


# ------------------------------------------------------------------ kink report


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _pool_windows_gap(x: np.ndarray, node, out_shape) -> np.ndarray:
    """Gap between the largest and second largest value of each MaxPool window (2-D)."""
    k = list(_attr(node, "kernel_shape"))
    nd = len(k)
    s = list(_attr(node, "strides", [1] * nd))
    d = list(_attr(node, "dilations", [1] * nd))
    pads = list(_attr(node, "pads", [0] * (2 * nd)))
    auto = _attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    spatial = x.shape[2:]
    osz = out_shape[2:]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * nd)
        for i in range(nd):
            total = max((osz[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - spatial[i], 0)
            small = total // 2
            pads[i], pads[i + nd] = (small, total - small) if auto == "SAME_UPPER" else (total - small, small)
    t = torch.from_numpy(x.astype(np.float64))
    padspec = []
    for i in reversed(range(nd)):
        need = (osz[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1
        end = max(pads[i + nd], need - spatial[i] - pads[i])
        padspec += [pads[i], end]
    t = torch.nn.functional.pad(t, padspec, value=-np.inf)
    for i in range(nd):
        t = t.unfold(2 + i, (k[i] - 1) * d[i] + 1, s[i])
    # t: N, C, o1.., keff1..
    t = t[(slice(None),) * (2 + nd) + tuple(slice(None, None, d[i]) for i in range(nd))]
    t = t[(slice(None), slice(None)) + tuple(slice(0, osz[i]) for i in range(nd))]
    t = t.reshape(*t.shape[: 2 + nd], -1)
    top = torch.topk(t, 2, dim=-1).values
    gap = (top[..., 0] - top[..., 1]).numpy()
    gap[np.isnan(gap)] = np.inf
    return gap, top[..., 0].numpy()


def _reduce_gap(x: np.ndarray, axes, keep=None):
    axes = [a % x.ndim for a in axes]
    rest = [a for a in range(x.ndim) if a not in axes]
    t = np.transpose(x, rest + axes).reshape([x.shape[a] for a in rest] + [-1]).astype(np.float64)
    if t.shape[-1] < 2:
        return np.full(t.shape[:-1], np.inf), t[..., 0]
    srt = np.sort(t, axis=-1)
    return srt[..., -1] - srt[..., -2], srt[..., -1]


def kink_report(model: onnx.ModelProto, tensors: dict[str, np.ndarray], near: float = 1e-4) -> dict:
    """For every op whose derivative jumps (Relu, LeakyRelu, PRelu, Clip, HardSigmoid,
    HardSwish, Abs, MaxPool, GlobalMaxPool, ReduceMax), how close the forward values of
    this input come to the jump: the smallest distance, how many elements lie within
    `near` of it (but not on it) and how many lie exactly on it (exact ties).
    MaxPool/ReduceMax distances are the gap between the largest and second largest
    value of each window ('exact' = tied maxima, 'exact_at_zero' = ties at value 0)."""
    report: dict[str, dict] = {}

    def add(op, dist, top=None):
        dist = np.asarray(dist, dtype=np.float64).ravel()
        r = report.setdefault(op, {"count": 0, "min_nonzero": float("inf"), "near": 0, "exact": 0})
        r["count"] += dist.size
        nz = dist[dist > 0]
        if nz.size:
            r["min_nonzero"] = min(r["min_nonzero"], float(nz.min()))
        r["near"] += int(((dist > 0) & (dist < near)).sum())
        r["exact"] += int((dist == 0).sum())
        if top is not None:
            top = np.asarray(top).ravel()
            r["exact_at_zero"] = r.get("exact_at_zero", 0) + int(((dist == 0) & (top == 0)).sum())

    def val(name):
        return None if not name else tensors.get(name)

    for node in model.graph.node:
        op = node.op_type
        x = val(node.input[0]) if node.input else None
        if x is None or not isinstance(x, np.ndarray) or x.dtype != np.float32:
            continue
        x64 = x.astype(np.float64)
        if op in ("Relu", "LeakyRelu", "PRelu", "Abs"):
            add(op, np.abs(x64))
        elif op == "Clip":
            lo = val(node.input[1]) if len(node.input) > 1 else None
            hi = val(node.input[2]) if len(node.input) > 2 else None
            if lo is None and hi is None:  # opset < 11 attributes
                lo, hi = _attr(node, "min"), _attr(node, "max")
            ds = []
            if lo is not None:
                ds.append(np.abs(x64 - float(np.asarray(lo))))
            if hi is not None:
                ds.append(np.abs(x64 - float(np.asarray(hi))))
            if ds:
                add(op, np.minimum.reduce(ds))
        elif op == "HardSigmoid":
            a, b = _attr(node, "alpha", 0.2), _attr(node, "beta", 0.5)
            z = a * x64 + b
            add(op, np.minimum(np.abs(z), np.abs(z - 1)) / a)
        elif op == "HardSwish":
            add(op, np.minimum(np.abs(x64 + 3), np.abs(x64 - 3)))
        elif op == "MaxPool":
            out = val(node.output[0])
            gap, top = _pool_windows_gap(x, node, out.shape)
            add(op, gap, top)
        elif op == "GlobalMaxPool":
            gap, top = _reduce_gap(x, list(range(2, x.ndim)))
            add(op, gap, top)
        elif op == "ReduceMax":
            axes = _attr(node, "axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = [int(a) for a in np.asarray(val(node.input[1])).ravel()]
            if axes is None:
                axes = list(range(x.ndim))
            gap, top = _reduce_gap(x, axes)
            add(op, gap, top)
    for r in report.values():
        if r["min_nonzero"] == float("inf"):
            r["min_nonzero"] = None
    return report


def kinks_clear(report: dict) -> bool:
    return all(r["near"] == 0 and r["exact"] == 0 for r in report.values())

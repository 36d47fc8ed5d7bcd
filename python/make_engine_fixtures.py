#!/usr/bin/env python3
"""Reference fixtures for sensie's engine tests (forward values and gradients).

For every case writes crates/sensie/tests/data/engine/<case>/:
  model.onnx            (mnist_cnn_external: model.onnx + model.onnx.data)
  reference.npz         uncompressed npz, keys:
      x                     float32, the 3 inputs in the model's own layout
      outputs               float32, the model's first output by onnxruntime
      target                int64 [3], the class whose score is differentiated
      grad_input            float32, like x: d(sum_i score_i[target_i]) / dx, by PyTorch
                            autograd in float32, eval mode, batch of 3. The score is the
                            tensor named meta["score_tensor"] (the first output, except
                            nhwc_tf2onnx where it is the pre-softmax logits)
      layer_value           float32, the tensor named meta["layer"], by PyTorch
      grad_layer            float32, d(sum_i score_i[target_i]) / d layer
      grad_input_guided     (relu_rules cases) guided backprop: Relu backward relu(g) * (y > 0)
      grad_input_deconvnet  (relu_rules cases) deconvnet: Relu backward relu(g)
      grad_input_prob       (mnist_cnn, mnist_cnn_external, nhwc_tf2onnx)
                            gradient of softmax(scores)[target]
      logits                (nhwc_tf2onnx) the score tensor (pre-softmax) by onnxruntime
  meta.json             case, opset, exporter, layout, layer, relu_rules, notes, and more

Deterministic. Needs examples/mnist/ from train_mnist.py (the MNIST weights are read from
examples/mnist/mnist_cnn.onnx, so no retraining is needed on a fresh checkout).
Usage: python/.venv/bin/python python/make_engine_fixtures.py [case ...]
"""
from __future__ import annotations

import json
import math
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import fixture_lib as fl  # noqa: E402
from sensie_models import MnistCnn, load_mnist_cnn  # noqa: E402

OUT = ROOT / "crates" / "sensie" / "tests" / "data" / "engine"
MNIST_DIR = ROOT / "examples" / "mnist"
TARGET = np.array([1, 3, 7], dtype=np.int64)
torch.set_num_threads(2)


@dataclass
class Case:
    name: str
    model: onnx.ModelProto
    x: np.ndarray
    fwd: fl.Forward
    exporter: str
    layout: str
    notes: str
    target: np.ndarray = field(default_factory=lambda: TARGET.copy())
    rule_fwds: dict | None = None          # {"guided": fwd, "deconvnet": fwd}
    prob: bool = False
    score_tensor: str | None = None         # default: the first graph output
    expect_ops: list[str] | None = None
    external: bool = False
    require_clear_kinks: bool = False
    post_check: object = None               # f(tensors by ORT) -> dict, merged into meta
    module: nn.Module | None = None         # for the Captum cross-check of the ReLU rules
    meta: dict = field(default_factory=dict)


# =============================================================== cases

def case_mnist() -> Case:
    model = load_mnist_cnn(ROOT)
    onnx_model = onnx.load(MNIST_DIR / "mnist_cnn.onnx")
    xs = np.load(MNIST_DIR / "data" / "test_x.npy")
    ys = np.load(MNIST_DIR / "data" / "test_y.npy")
    # Held-out digits labelled 1, 3 and 4: targets 1 and 3 are the true class, 7 is not.
    idx = [int(np.flatnonzero(ys == c)[0]) for c in (1, 3, 4)]
    x = xs[idx].astype(np.float32)
    return Case(
        name="mnist_cnn", model=onnx_model, x=x,
        fwd=fl.module_forward(model, model.relu2),
        rule_fwds={r: fl.module_forward(fl.with_relu_rule(model, r), None) for r in ("guided", "deconvnet")},
        exporter="legacy", layout="NCHW", prob=True,
        notes="examples/mnist/mnist_cnn.onnx (trained by python/train_mnist.py). x = held-out "
              "digits (flat zero backgrounds: MaxPool windows with tied maxima, PyTorch sends the "
              "gradient to the first maximum in row-major order). Layer = output of the second "
              "conv block's ReLU (before its MaxPool).",
        meta={"test_indices": idx, "labels": [int(ys[i]) for i in idx]},
        post_check=lambda t: _mnist_tie_check(model, t), module=model,
    )


def _mnist_tie_check(model: MnistCnn, tensors: dict) -> dict:
    """PyTorch and ONNX Runtime must pick the same (first) maximum in every MaxPool window,
    tied or not, for the references to be well defined."""
    x = torch.from_numpy(tensors["input"])
    res = {}
    with torch.no_grad():
        r1 = model.relu1(model.conv1(x))
        r2 = model.relu2(model.conv2(model.pool1(r1)))
    for name, t in (("/relu1/Relu_output_0", r1), ("/relu2/Relu_output_0", r2)):
        _, it = F.max_pool2d(t, 2, return_indices=True)
        _, io = F.max_pool2d(torch.from_numpy(tensors[name]), 2, return_indices=True)
        mism = int((it != io).sum())
        assert mism == 0, (name, mism)
        res[name] = {"windows": it.numel(), "argmax_mismatch_torch_vs_ort": mism}
    return {"maxpool_first_argmax_check": res}


def case_mnist_external() -> Case:
    c = case_mnist()
    c.name = "mnist_cnn_external"
    c.external = True
    c.notes = ("The mnist_cnn model saved with all tensors as external data in model.onnx.data "
               "(size_threshold=0); the references are those of mnist_cnn.")
    return c


def case_resnet18() -> Case:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    fl.randomize_batchnorm(model, seed=1)
    fl.set_relu_not_inplace(model)
    model.eval()
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2)).numpy()
    m = fl.export_legacy(model, torch.from_numpy(x), 14)
    return Case(
        name="resnet18", model=m, x=x,
        fwd=fl.module_forward(model, model.layer3[-1]),
        rule_fwds={r: fl.module_forward(fl.with_relu_rule(model, r), None) for r in ("guided", "deconvnet")},
        exporter="legacy", layout="NCHW", module=model,
        notes="torchvision resnet18, weights=None, torch.manual_seed(0), num_classes=10, random "
              "BatchNorm statistics/affine (seed 1), eval. The legacy exporter folds BatchNorm "
              "into the Conv weights. x = torch.randn (seed 2). Layer = output of layer3's last "
              "BasicBlock (after its final ReLU). One nn.ReLU module is used twice per block.",
    )


def case_mobilenet() -> Case:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)
    fl.randomize_batchnorm(model, seed=1)
    fl.set_relu_not_inplace(model)
    model.eval()
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2)).numpy()
    m = fl.export_legacy(model, torch.from_numpy(x), 13)
    return Case(
        name="mobilenet_v3_small", model=m, x=x,
        fwd=fl.module_forward(model, model.features[-1]),
        exporter="legacy", layout="NCHW",
        expect_ops=["HardSigmoid", "Mul", "Relu", "GlobalAveragePool", "Conv", "Gemm"],
        notes="torchvision mobilenet_v3_small, weights=None, torch.manual_seed(0), num_classes=10, "
              "random BatchNorm statistics/affine (seed 1, folded into Conv by the exporter), "
              "eval (Dropout removed). x = torch.randn (seed 2). At opset 13 the exporter writes "
              "Hardswish as x * HardSigmoid(x) (HardSwish op needs opset 14); the SE block is "
              "GlobalAveragePool-Conv-Relu-Conv-HardSigmoid-Mul. Layer = output of the last conv "
              "block (features[-1], 576 channels, after its Hardswish, i.e. a Mul output).",
    )


class BnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=2, dilation=2)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = nn.LeakyReLU(0.1)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.bn3 = nn.BatchNorm2d(16)
        self.relu3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)
        for mod in self.modules():  # variance-preserving init, so gradients are not tiny
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
        nn.init.normal_(self.fc.weight, std=0.5)

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(x))))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        return self.fc(torch.flatten(self.gap(x), 1))


def case_bn_preserved() -> Case:
    torch.manual_seed(0)
    model = BnNet()
    fl.randomize_batchnorm(model, seed=1)
    model.eval()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)).numpy()
    m = fl.export_legacy(model, torch.from_numpy(x), 11, do_constant_folding=False,
                         training=torch.onnx.TrainingMode.PRESERVE)
    return Case(
        name="bn_preserved", model=m, x=x,
        fwd=fl.module_forward(model, model.relu3),
        exporter="legacy", layout="NCHW",
        expect_ops=["BatchNormalization", "AveragePool", "LeakyRelu", "Conv", "Relu", "GlobalAveragePool"],
        notes="Conv-BatchNorm-ReLU, AvgPool2d(3, stride 2, pad 1, count_include_pad=False), dilated "
              "conv (d=2) + BN + LeakyReLU(0.1), grouped conv (groups=4) + BN + ReLU, global average "
              "pool, Linear. Exported in eval mode with training=PRESERVE and do_constant_folding="
              "False, so BatchNormalization nodes (inference form) stay in the graph. Random BN "
              "statistics (seed 1). Layer = output of the last ReLU (after the grouped conv block).",
    )


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


def case_dynamo() -> Case:
    import io
    import tempfile

    torch.manual_seed(0)
    model = SmallCnn().eval()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)).numpy()
    fixed = False
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as d:
        warnings.simplefilter("ignore")
        import contextlib
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                prog = torch.onnx.export(model, (torch.from_numpy(x),), dynamo=True,
                                         input_names=["input"], output_names=["logits"],
                                         dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
            except Exception:  # pragma: no cover - fall back to a fixed batch
                fixed = True
                prog = torch.onnx.export(model, (torch.from_numpy(x),), dynamo=True,
                                         input_names=["input"], output_names=["logits"])
        prog.save(str(Path(d) / "m.onnx"), external_data=False)
        m = onnx.load(str(Path(d) / "m.onnx"))
    # The exporter's per-node metadata_props include Python stack traces with absolute paths
    # and line numbers of this script; drop those (only) so the file does not depend on them.
    for item in list(m.graph.node) + list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        keep = [(p.key, p.value) for p in item.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del item.metadata_props[:]
        for k, v in keep:
            item.metadata_props.add(key=k, value=v)
    meta = {"dynamo_default_opset": fl.opset_of(m)}
    if fixed:
        meta["fixed_batch"] = 3
    return Case(
        name="dynamo", model=m, x=x,
        fwd=fl.module_forward(model, model.relu2),
        rule_fwds={r: fl.module_forward(fl.with_relu_rule(model, r), None) for r in ("guided", "deconvnet")},
        exporter="dynamo", layout="NCHW", meta=meta, module=model,
        notes="Small CNN (Conv-ReLU-MaxPool x2, Linear) exported by torch.onnx.export(dynamo=True) "
              "with its default opset and dynamic batch (dynamic_shapes). Tensor names are the "
              "FX node names (e.g. 'relu_1'), not '/module/Op_output_0'; nodes carry metadata_props "
              "(namespace, class_hierarchy, fx_node, name_scopes; the script drops the stack_trace "
              "entries). Flatten is a Reshape with allowzero=1. Layer = second ReLU output.",
    )


# ------------------------------------------------------------- nhwc_tf2onnx

def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def case_nhwc() -> Case:
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * math.sqrt(2 / 27)).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((16, 8, 3, 3)) * math.sqrt(2 / 72)).astype(np.float32)
    b2 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    wd = (rng.standard_normal((8 * 8 * 16, 10)) * math.sqrt(1 / 1024)).astype(np.float32)
    bd = (rng.standard_normal(10) * 0.1).astype(np.float32)
    x = rng.random((3, 32, 32, 3)).astype(np.float32)

    p = "StatefulPartitionedCall/sequential/"
    names = {
        "in": "input_1",
        "t0": p + "conv2d/Conv2D__6:0",
        "c1": p + "conv2d/BiasAdd:0",
        "r1": p + "conv2d/Relu:0",
        "c2": p + "conv2d_1/BiasAdd:0",
        "r2": p + "conv2d_1/Relu:0",
        "mp": p + "max_pooling2d/MaxPool:0",
        "t1": p + "max_pooling2d/MaxPool__20:0",
        "shape": p + "flatten/Shape:0",
        "n": p + "flatten/strided_slice:0",
        "n1": p + "flatten/Reshape/shape_Unsqueeze__24:0",
        "rs": p + "flatten/Reshape/shape_Concat__25:0",
        "flat": p + "flatten/Reshape:0",
        "mm": p + "dense/MatMul:0",
        "logits": p + "dense/BiasAdd:0",
        "out": "dense",
    }
    inits = [
        numpy_helper.from_array(w1, p + "conv2d/Conv2D/ReadVariableOp:0"),
        numpy_helper.from_array(b1, p + "conv2d/BiasAdd/ReadVariableOp:0"),
        numpy_helper.from_array(w2, p + "conv2d_1/Conv2D/ReadVariableOp:0"),
        numpy_helper.from_array(b2, p + "conv2d_1/BiasAdd/ReadVariableOp:0"),
        numpy_helper.from_array(wd, p + "dense/MatMul/ReadVariableOp:0"),
        numpy_helper.from_array(bd, p + "dense/BiasAdd/ReadVariableOp:0"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "const_axes__23"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "const_zero__21"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "const_fold_opt__26"),
    ]
    N = helper.make_node
    nodes = [
        N("Transpose", [names["in"]], [names["t0"]], perm=[0, 3, 1, 2], name="conv2d/Conv2D__6"),
        N("Conv", [names["t0"], inits[0].name, inits[1].name], [names["c1"]], name="conv2d/Conv2D",
          auto_pad="SAME_UPPER", strides=[1, 1], kernel_shape=[3, 3], dilations=[1, 1]),
        N("Relu", [names["c1"]], [names["r1"]], name="conv2d/Relu"),
        N("Conv", [names["r1"], inits[2].name, inits[3].name], [names["c2"]], name="conv2d_1/Conv2D",
          auto_pad="SAME_UPPER", strides=[2, 2], kernel_shape=[3, 3], dilations=[1, 1]),
        N("Relu", [names["c2"]], [names["r2"]], name="conv2d_1/Relu"),
        N("MaxPool", [names["r2"]], [names["mp"]], name="max_pooling2d/MaxPool",
          auto_pad="SAME_UPPER", kernel_shape=[2, 2], strides=[2, 2]),
        N("Transpose", [names["mp"]], [names["t1"]], perm=[0, 2, 3, 1], name="max_pooling2d/MaxPool__20"),
        N("Shape", [names["t1"]], [names["shape"]], name="flatten/Shape"),
        N("Gather", [names["shape"], "const_zero__21"], [names["n"]], axis=0, name="flatten/strided_slice"),
        N("Unsqueeze", [names["n"], "const_axes__23"], [names["n1"]], name="flatten/Reshape/shape_Unsqueeze__24"),
        N("Concat", [names["n1"], "const_fold_opt__26"], [names["rs"]], axis=0,
          name="flatten/Reshape/shape_Concat__25"),
        N("Reshape", [names["t1"], names["rs"]], [names["flat"]], name="flatten/Reshape"),
        N("MatMul", [names["flat"], inits[4].name], [names["mm"]], name="dense/MatMul"),
        N("Add", [names["mm"], inits[5].name], [names["logits"]], name="dense/BiasAdd"),
        N("Softmax", [names["logits"]], [names["out"]], axis=-1, name="dense/Softmax"),
    ]
    graph = helper.make_graph(
        nodes, "tf2onnx",
        [helper.make_tensor_value_info(names["in"], TensorProto.FLOAT, ["unk__0", 32, 32, 3])],
        [helper.make_tensor_value_info(names["out"], TensorProto.FLOAT, ["unk__0", 10])],
        initializer=inits,
    )
    m = helper.make_model(graph, producer_name="tf2onnx", producer_version="1.16.1 15c810",
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8

    tw1, tb1, tw2, tb2, twd, tbd = map(torch.from_numpy, (w1, b1, w2, b2, wd, bd))

    def make_fwd(rule):
        def fwd(xt):
            h = xt.permute(0, 3, 1, 2)
            ph, pw = _same_pads(32, 3, 1), _same_pads(32, 3, 1)
            h = F.conv2d(F.pad(h, (pw[0], pw[1], ph[0], ph[1])), tw1, tb1)
            h = fl.rule_relu(h, rule)
            ph, pw = _same_pads(32, 3, 2), _same_pads(32, 3, 2)
            h = F.conv2d(F.pad(h, (pw[0], pw[1], ph[0], ph[1])), tw2, tb2, stride=2)
            layer = fl.rule_relu(h, rule)
            ph, pw = _same_pads(16, 2, 2), _same_pads(16, 2, 2)
            assert ph == (0, 0) and pw == (0, 0)
            h = F.max_pool2d(layer, 2, 2)
            h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)
            logits = h @ twd + tbd
            return torch.softmax(logits, dim=-1), logits, layer
        return fwd

    return Case(
        name="nhwc_tf2onnx", model=m, x=x, fwd=make_fwd(None),
        rule_fwds={r: make_fwd(r) for r in ("guided", "deconvnet")},
        exporter="onnx.helper", layout="NHWC", prob=True, score_tensor=names["logits"],
        expect_ops=["Transpose", "Conv", "Relu", "MaxPool", "Shape", "Gather", "Unsqueeze", "Concat",
                    "Reshape", "MatMul", "Add", "Softmax"],
        notes="Hand-built graph in the style tf2onnx writes for a Keras Sequential model: NHWC input "
              "'input_1' [unk__0,32,32,3], Transpose to NCHW, Conv (auto_pad SAME_UPPER, stride 1) + "
              "Relu, Conv (SAME_UPPER, stride 2: pads 0 before / 1 after) + Relu, MaxPool 2x2/2 "
              "(SAME_UPPER), Transpose back to NHWC, Shape-Gather-Unsqueeze-Concat([-1])-Reshape "
              "flatten, MatMul + Add (the logits, meta.score_tensor), Softmax output 'dense'. "
              "Tensor names contain '/' and ':'. outputs = softmax probabilities; the gradients "
              "are of the pre-softmax logit (score_tensor), w.r.t. the NHWC input, so grad_input is "
              "NHWC; grad_input_prob is of the softmax output. The layer (second Relu) is inside "
              "the NCHW part of the graph, so layer_value/grad_layer are NCHW [3,16,16,16]. "
              "x = uniform [0,1) numpy (seed 0, after the weights).",
    )


# ------------------------------------------------------------------ vit

class AttnResidual(nn.Module):
    """x + MHSA(LayerNorm(x)), attention written with explicit ops."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5     # a Python float, as in timm
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, c = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, c)
        return x + self.proj(y)


class MlpResidual(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="none")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


class TinyViT(nn.Module):
    def __init__(self, dim=32, heads=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, kernel_size=4, stride=4)
        self.pos = nn.Parameter(0.1 * torch.randn(1, 16, dim))
        self.attn = AttnResidual(dim, heads)
        self.mlp = MlpResidual(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        h = self.mlp(self.attn(h))
        return self.head(self.norm(h).mean(dim=1))


def _vit_model() -> TinyViT:
    torch.manual_seed(0)
    model = TinyViT()
    with torch.no_grad():  # non-trivial LayerNorm affine parameters
        g = torch.Generator().manual_seed(1)
        for mod in model.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=g))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g))
    return model.eval()


def case_vit(gelu_op: bool) -> Case:
    model = _vit_model()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)).numpy()
    opset = 20 if gelu_op else 17
    m = fl.export_legacy(model, torch.from_numpy(x), opset)
    ops = fl.op_types(m)
    notes = ("Tiny ViT: patch Conv(3->32, k4, s4) on 3x16x16 -> 16 tokens, + learned position "
             "embedding, pre-norm block (LayerNorm, 4-head self-attention with explicit "
             "MatMul/Softmax/Reshape/Transpose, residual; LayerNorm, Linear-GELU(erf)-Linear, "
             "residual), final LayerNorm, mean over tokens (ReduceMean), Linear head. Random "
             "LayerNorm affine (seed 1). x = torch.randn (seed 2). Layer = attention residual "
             "output (Add after the attention projection), [3,16,32]. ")
    if gelu_op:
        if "Gelu" not in ops:
            m = replace_erf_gelu(m)
            notes += "GELU: the exporter did not emit Gelu; the Erf subgraph was replaced by a Gelu node. "
        else:
            notes += "GELU: the legacy exporter at opset 20 emits a single Gelu node (approximate='none'). "
        expect = ["Gelu", "LayerNormalization", "MatMul", "Softmax", "Transpose", "Reshape", "ReduceMean"]
    else:
        notes += "GELU is decomposed as x * 0.5 * (1 + Erf(x / sqrt 2)) (Div, Erf, Add, Mul, Mul)."
        expect = ["Erf", "LayerNormalization", "MatMul", "Softmax", "Transpose", "Reshape", "ReduceMean"]
    return Case(
        name="vit_block_gelu" if gelu_op else "vit_block", model=m, x=x,
        fwd=fl.module_forward(model, model.attn),
        exporter="legacy", layout="NCHW", expect_ops=expect, notes=notes,
    )


def replace_erf_gelu(m: onnx.ModelProto) -> onnx.ModelProto:  # pragma: no cover - unused with torch 2.15
    raise NotImplementedError("Erf-GELU rewriting is not needed: torch emits Gelu at opset 20")


# ------------------------------------------------------------------ ops zoo

class ZooA(nn.Module):
    """opset 16: ConvTranspose, PReLU, Clip (ReLU6), InstanceNorm, Split, Sigmoid, Tanh,
    HardSigmoid, Elu, Softplus, Concat, Pad, strided Conv, ReduceMean, Gemm."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)
        self.up = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.relu6 = nn.ReLU6()
        self.inorm = nn.InstanceNorm2d(6, affine=True)
        self.down = nn.Conv2d(10, 8, 3, stride=2)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():
            self.prelu.weight.copy_(0.05 + 0.4 * torch.rand(8))
            self.inorm.weight.copy_(0.5 + torch.rand(6))
            self.inorm.bias.copy_(0.2 * torch.randn(6))

    def forward_with_layer(self, x):
        h = self.prelu(self.conv(x))                                    # 8 x 8 x 8
        h = self.relu6(3.0 * self.up(h))                                # 6 x 16 x 16
        layer = self.inorm(h)
        a, b, c = torch.split(layer, [2, 2, 2], dim=1)
        h = torch.cat([torch.sigmoid(a), torch.tanh(b), F.hardsigmoid(2.0 * c), F.elu(b), F.softplus(c)], dim=1)
        h = F.pad(h, (1, 2, 0, 1), mode="constant", value=0.25)         # 10 x 17 x 19
        h = self.down(h)                                                # 8 x 8 x 9
        return self.fc(h.mean(dim=(2, 3))), layer

    def forward(self, x):
        return self.forward_with_layer(x)[0]


class ZooB(nn.Module):
    """opset 19: Resize (bilinear half-pixel, nearest x2), Slice, MaxPool k3 s2 pad1 ceil_mode,
    AveragePool ceil_mode, Pow (2 and 3), Sub, Sqrt, Neg, Exp, Div, ReduceMean/Sum/Max,
    GlobalMaxPool, Concat, Gemm, LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.gmp = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(6 * 5, 10)

    def forward_with_layer(self, x):
        h = torch.tanh(self.conv(x))                                    # 6 x 12 x 12
        h1 = F.interpolate(h, size=(17, 19), mode="bilinear", align_corners=False)
        h2 = F.interpolate(h, scale_factor=2, mode="nearest")          # 24 x 24
        s = h1[:, :, 1:-1, 2:]                                          # 15 x 17
        p = F.max_pool2d(s, 3, stride=2, padding=1, ceil_mode=True)     # 8 x 9
        q = F.avg_pool2d(h2, 3, stride=2, ceil_mode=True)               # 12 x 12, last window partial
        r = p ** 2 - torch.sqrt(p * p + 1.0)
        e = torch.exp(-(q ** 3))
        d = e / (q * q + 1.0)
        f1 = r.mean(dim=(2, 3))                                         # keepdim False
        f2 = d.sum(dim=(2, 3), keepdim=True).flatten(1)                 # keepdim True
        f3 = h1.amax(dim=(2, 3), keepdim=False)
        f4 = self.gmp(s).flatten(1)
        f5 = h.amax(dim=3, keepdim=True).mean(dim=(2, 3))               # keepdim True
        feats = torch.cat([f1, f2, f3, f4, f5], dim=1)
        return F.log_softmax(self.fc(feats), dim=1), s

    def forward(self, x):
        return self.forward_with_layer(x)[0]


class ZooC(nn.Module):
    """opset 21: depthwise conv, dilated conv, Softplus, token MatMul (Linear on 3-D),
    activation-activation MatMul, Softmax, Sub, Div, Gemm."""

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dil = nn.Conv2d(8, 12, 3, padding=2, dilation=2)
        self.tok = nn.Linear(12, 16)
        self.fc = nn.Linear(16, 10)

    def forward_with_layer(self, x):
        h = F.softplus(self.dw(x))                                      # 8 x 10 x 10
        layer = torch.tanh(self.dil(h))                                 # 12 x 10 x 10
        t = self.tok(layer.flatten(2).transpose(1, 2))                  # N x 100 x 16
        a = torch.softmax(torch.matmul(t, t.transpose(1, 2)) / 4.0, dim=-1)
        u = torch.matmul(a, t)                                          # N x 100 x 16
        v = (u - t.mean(dim=1, keepdim=True)) / (t.std(dim=1, keepdim=True) + 1.0)
        return self.fc(v.mean(dim=1)), layer

    def forward(self, x):
        return self.forward_with_layer(x)[0]


class ZooD(nn.Module):
    """opset 17: HardSwish (a single op from opset 14), dilated MaxPool, Squeeze; a Dropout
    node is inserted into the exported graph (eval-mode exports drop it)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.act = nn.Hardswish()
        self.pool = nn.MaxPool2d(3, stride=1, dilation=2)
        self.fc = nn.Linear(8, 10)

    def forward_with_layer(self, x):
        layer = self.act(self.conv(x) * 2.0)                            # 8 x 9 x 9, spans the kinks at +-3
        p = self.pool(layer)                                            # 8 x 5 x 5
        v = p.mean(dim=(2, 3), keepdim=True).squeeze(3).squeeze(2)      # N x 8
        return self.fc(v), layer

    def forward(self, x):
        return self.forward_with_layer(x)[0]


def _insert_dropout(m: onnx.ModelProto) -> onnx.ModelProto:
    """Puts an inference-mode Dropout (ratio 0.5 as an input) in front of the final Gemm."""
    gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
    ratio = onnx.helper.make_tensor("dropout_ratio", onnx.TensorProto.FLOAT, [], [0.5])
    m.graph.initializer.append(ratio)
    dropped = gemm.input[0] + "_dropout"
    node = onnx.helper.make_node("Dropout", [gemm.input[0], "dropout_ratio"], [dropped], name="/dropout/Dropout")
    gemm.input[0] = dropped
    m.graph.node.insert(list(m.graph.node).index(gemm), node)
    onnx.checker.check_model(m)
    return m


def _with_layer_forward(model) -> fl.Forward:
    def fwd(x):
        out, layer = model.forward_with_layer(x)
        return out, out, layer
    return fwd


def _replace_full_maxpool_by_global(m: onnx.ModelProto, tensors: dict) -> tuple[onnx.ModelProto, int]:
    """The legacy exporter writes AdaptiveMaxPool2d(1) on a static-size input as MaxPool with
    a full-size kernel; turn such nodes into GlobalMaxPool (same values)."""
    n = 0
    for node in m.graph.node:
        if node.op_type != "MaxPool" or len(node.output) != 1:
            continue
        shape = tensors[node.input[0]].shape
        k = list(fl._attr(node, "kernel_shape"))
        pads = list(fl._attr(node, "pads", [0] * 4))
        if k == list(shape[2:]) and not any(pads):
            node.op_type = "GlobalMaxPool"
            del node.attribute[:]
            n += 1
    return m, n


ZOO_NOTES = {
    "d": "Conv - x2 - HardSwish (one op at opset 17) - MaxPool(k3, stride 1, dilation 2) - mean over "
         "H, W with keepdim then two squeezes (Squeeze) - Dropout (inserted into the graph, inference "
         "mode) - Gemm. Layer = HardSwish output.",
    "a": "Conv - PReLU - ConvTranspose(k3, stride 2, padding 1, output_padding 1) - x3 - ReLU6 (Clip "
         "0..6) - InstanceNorm(affine) - Split [2,2,2] - Sigmoid / Tanh / HardSigmoid(2x) / ELU / "
         "Softplus - Concat - Pad(constant 0.25; left 1, right 2, top 0, bottom 1) - Conv (stride 2, "
         "no pad) - mean over H,W (ReduceMean) - Linear (Gemm). Layer = InstanceNormalization output.",
    "b": "Conv - Tanh; Resize bilinear 12x12 -> 17x19 (align_corners False); Resize nearest x2 "
         "(24x24); Slice [:, :, 1:-1, 2:] of the bilinear branch (15x17); MaxPool k3 s2 pad1 "
         "ceil_mode on the slice (overlapping windows, 8x9); AveragePool k3 s2 ceil_mode (no pad) on "
         "the nearest branch (12x12, the last row/column of windows is partial); Pow 2 and 3, Sub, Sqrt(p*p+1), Neg, Exp, Div by a tensor; ReduceMean "
         "keepdim false, ReduceSum keepdim true, ReduceMax keepdim false and true; GlobalMaxPool; "
         "Concat; Linear (Gemm); LogSoftmax output (outputs are log-probabilities and the "
         "differentiated score is the target's log-probability). The bilinear Resize gets its "
         "'sizes' input from Shape-Slice-Concat (integer shape arithmetic); the nearest Resize has "
         "constant 'scales' (coordinate_transformation_mode asymmetric, nearest_mode floor). The "
         "slice [1:-1, 2:] is two Slice nodes. {gmp} "
         "Layer = Slice output.",
    "c": "Depthwise Conv (groups 8) - Softplus - dilated Conv (d=2) - Tanh - tokens (Reshape, "
         "Transpose) - Linear on 3-D input (MatMul + Add) - MatMul(t, t^T) / 4 - Softmax - MatMul - "
         "(u - mean) / (std + 1) - mean over tokens - Linear (Gemm). Exported by the legacy exporter "
         "with opset_version=21 (its symbolic functions stop at opset 20; the ops that changed in "
         "opset 21 only gained new types). Layer = Tanh output after the dilated conv.",
}


def case_zoo(which: str) -> Case:
    cls, opset, shape, expect = {
        "a": (ZooA, 16, (4, 8, 8), ["ConvTranspose", "PRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid",
                                    "Elu", "Softplus", "InstanceNormalization", "Pad", "Split",
                                    "Concat", "ReduceMean", "Gemm", "Conv"]),
        "b": (ZooB, 19, (3, 12, 12), ["Resize", "Slice", "MaxPool", "AveragePool", "Pow", "Sqrt",
                                      "Exp", "Neg", "Sub", "Div", "ReduceMean", "ReduceSum",
                                      "ReduceMax", "GlobalMaxPool", "Concat", "Gemm", "LogSoftmax"]),
        "c": (ZooC, 21, (8, 10, 10), ["Conv", "Softplus", "Tanh", "MatMul", "Softmax", "Sub", "Div",
                                      "Gemm", "Transpose", "ReduceMean"]),
        "d": (ZooD, 17, (4, 9, 9), ["HardSwish", "MaxPool", "Squeeze", "Dropout", "Gemm"]),
    }[which]
    torch.manual_seed(0)
    model = cls().eval()
    # Inputs: the first seed for which no kink (Relu/Clip/PRelu/HardSigmoid/MaxPool/ReduceMax
    # decision) lies within 1e-4 of a tie.
    for seed in range(100, 200):
        x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(seed)).numpy()
        m = fl.export_legacy(model, torch.from_numpy(x), opset)
        if which == "d":
            m = _insert_dropout(m)
        tensors = fl.ort_all_tensors(m, {"input": x})
        replaced = 0
        if which == "b":
            # Fallback: only needed if the exporter wrote AdaptiveMaxPool2d(1) as a full MaxPool.
            m, replaced = _replace_full_maxpool_by_global(m, tensors)
            if replaced:
                tensors = fl.ort_all_tensors(m, {"input": x})
        if fl.kinks_clear(fl.kink_report(m, tensors)):
            break
    else:
        raise RuntimeError(f"ops_zoo_{which}: no input seed without near-ties")
    meta = {"input_seed": seed}
    gmp = ("AdaptiveMaxPool2d(1) was exported as MaxPool with a full-size kernel and rewritten by the "
           "script to GlobalMaxPool (values checked)." if replaced else
           "AdaptiveMaxPool2d(1) is exported directly as GlobalMaxPool because the exporter cannot "
           "infer the spatial size of its input (it follows the Resize with computed sizes).")
    if replaced:
        meta["maxpool_rewritten_to_globalmaxpool"] = replaced
    return Case(
        name=f"ops_zoo_{which}", model=m, x=x, fwd=_with_layer_forward(model), exporter="legacy",
        layout="NCHW", expect_ops=expect, require_clear_kinks=True, notes=ZOO_NOTES[which].format(gmp=gmp), meta=meta,
    )


# =============================================================== writer

def _rel_close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1e-12, float(np.abs(b).max())))


def _captum_check(model: nn.Module, x: np.ndarray, target: np.ndarray, npz: dict) -> dict:
    """Captum's Saliency / GuidedBackprop / Deconvolution must give the same gradients."""
    from captum.attr import Deconvolution, GuidedBackprop, Saliency

    res = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, make, kw in (("grad_input", Saliency, {"abs": False}),
                              ("grad_input_guided", GuidedBackprop, {}),
                              ("grad_input_deconvnet", Deconvolution, {})):
            xt = torch.tensor(x, requires_grad=True)
            a = make(model).attribute(xt, target=torch.as_tensor(target), **kw).detach().numpy()
            d = float(np.abs(a - npz[key]).max())
            assert d <= 1e-6 * max(1.0, float(np.abs(npz[key]).max())), (key, d)
            res[key] = d
    return res


def write_case(c: Case) -> dict:
    d = OUT / c.name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    m = c.model
    onnx.checker.check_model(m, full_check=True)
    in_name = m.graph.input[0].name
    inits = {i.name for i in m.graph.initializer}
    assert [i.name for i in m.graph.input if i.name not in inits] == [in_name]
    out_name = m.graph.output[0].name
    score_name = c.score_tensor or out_name
    feeds = {in_name: c.x}
    ops = fl.op_types(m)
    for op in c.expect_ops or []:
        assert op in ops, f"{c.name}: op {op} missing from {ops}"

    ort_out = fl.ort_run(m, feeds)[0].astype(np.float32)
    ref = fl.torch_reference(c.fwd, c.x, c.target)
    diff = float(np.abs(ort_out - ref.output).max())
    assert np.allclose(ort_out, ref.output, rtol=1e-4, atol=1e-4), f"{c.name}: ORT vs torch {diff}"

    tensors = fl.ort_all_tensors(m, feeds)
    layer_name, layer_diff = fl.find_tensor(tensors, ref.layer_value, f"{c.name} layer")
    score_diff = float(np.abs(tensors[score_name] - ref.scores).max())
    assert np.allclose(tensors[score_name], ref.scores, rtol=1e-4, atol=1e-4), (c.name, score_diff)
    kinks = fl.kink_report(m, tensors)
    extra = c.post_check(tensors) if c.post_check else {}
    if c.require_clear_kinks:
        assert fl.kinks_clear(kinks), (c.name, kinks)

    npz = {
        "x": c.x.astype(np.float32),
        "outputs": ort_out,
        "target": c.target.astype(np.int64),
        "grad_input": ref.grad_input.astype(np.float32),
        "layer_value": ref.layer_value.astype(np.float32),
        "grad_layer": ref.grad_layer.astype(np.float32),
    }
    if c.score_tensor:
        npz["logits"] = tensors[score_name].astype(np.float32)
    if c.prob:
        npz["grad_input_prob"] = fl.torch_reference(c.fwd, c.x, c.target, score="prob").grad_input
    relu_checks = {}
    if c.rule_fwds:
        n_relu = sum(1 for n in m.graph.node if n.op_type == "Relu")
        # The rule-swapped model with the plain rule must reproduce autograd exactly, and
        # run one RuleReLU per Relu node of the ONNX graph.
        for rule, fwd in c.rule_fwds.items():
            fl.RuleReLU.calls = 0
            g = fl.torch_reference(fwd, c.x, c.target).grad_input
            if c.name != "nhwc_tf2onnx":
                assert fl.RuleReLU.calls == n_relu, (c.name, fl.RuleReLU.calls, n_relu)
            npz[f"grad_input_{rule}"] = g.astype(np.float32)
            relu_checks[rule] = {"relu_calls": fl.RuleReLU.calls}
        assert not np.array_equal(npz["grad_input_guided"], npz["grad_input"])
        if c.module is not None:
            relu_checks["captum_max_abs_diff"] = _captum_check(c.module, c.x, c.target, npz)
    for k, v in npz.items():
        assert np.all(np.isfinite(v)), (c.name, k)
        if k.startswith("grad"):
            assert np.abs(v).max() > 0, (c.name, k)

    # Save, reload from disk and check the saved model gives the same outputs.
    if c.external:
        onnx.save_model(m, str(d / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=0)
    else:
        onnx.save_model(m, str(d / "model.onnx"))
    again = fl.ort_session(str(d / "model.onnx")).run(None, feeds)[0]
    assert np.array_equal(again, ort_out) or np.allclose(again, ort_out, rtol=1e-6, atol=1e-6)
    np.savez(d / "reference.npz", **npz)

    dims = [dd.dim_param or dd.dim_value for dd in m.graph.input[0].type.tensor_type.shape.dim]
    meta = {
        "case": c.name,
        "opset": fl.opset_of(m),
        "ir_version": m.ir_version,
        "exporter": c.exporter,
        "layout": c.layout,
        "input": in_name,
        "input_shape": dims,
        "output": out_name,
        "score_tensor": score_name,
        "layer": layer_name,
        "layer_shape": list(ref.layer_value.shape),
        "relu_rules": bool(c.rule_fwds),
        "dynamic_batch": isinstance(dims[0], str),
        "num_classes": int(ort_out.shape[1]),
        "ops": ops,
        "external_data": "model.onnx.data" if c.external else None,
        "npz_keys": sorted(npz),
        "checks": {
            "ort_vs_torch_max_abs_diff": diff,
            "layer_match_max_abs_diff": layer_diff,
            "score_tensor_ort_vs_torch_max_abs_diff": score_diff,
        },
        "kinks": kinks,
        "notes": c.notes,
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__},
    }
    if relu_checks:
        meta["relu_rule_checks"] = relu_checks
    meta.update(c.meta)
    meta.update(extra)
    (d / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    size = sum(f.stat().st_size for f in d.iterdir())
    print(f"{c.name:22s} opset {meta['opset']:2d} {c.exporter:11s} layer {layer_name!r} "
          f"ort-torch {diff:.1e} size {size / 1e6:.2f} MB")
    return {"case": c.name, "size": size}


CASES = {
    "mnist_cnn": case_mnist,
    "mnist_cnn_external": case_mnist_external,
    "resnet18": case_resnet18,
    "mobilenet_v3_small": case_mobilenet,
    "bn_preserved": case_bn_preserved,
    "dynamo": case_dynamo,
    "nhwc_tf2onnx": case_nhwc,
    "vit_block": lambda: case_vit(False),
    "vit_block_gelu": lambda: case_vit(True),
    "ops_zoo_a": lambda: case_zoo("a"),
    "ops_zoo_b": lambda: case_zoo("b"),
    "ops_zoo_c": lambda: case_zoo("c"),
    "ops_zoo_d": lambda: case_zoo("d"),
}


def main(argv: list[str]) -> None:
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown cases {unknown}; known: {list(CASES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_case(CASES[name]())
    print("\nfixture sizes (all cases in", OUT.relative_to(ROOT), "):")
    total = 0
    for d in sorted(p for p in OUT.iterdir() if p.is_dir()):
        files = sorted(d.iterdir())
        s = sum(f.stat().st_size for f in files)
        total += s
        print(f"  {d.name:22s} {s / 1e6:8.3f} MB  " + ", ".join(f"{f.name} {f.stat().st_size / 1e3:.0f} kB" for f in files))
    print(f"  {'total':22s} {total / 1e6:8.3f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""zennit and scipy reference fixtures for sensie's LRP and blur-saliency tests.

Writes crates/sensie/tests/data/explain/:
  resnet_bn.onnx  a small residual network with BatchNormalization (ResNetBn below), trained for a
                  few epochs on MNIST digits 100-999 of examples/mnist/data (seed 0), exported with
                  the legacy exporter in eval mode with training=PRESERVE and no constant folding, so
                  the BatchNormalization nodes and the residual Adds stay in the graph
  lrp.npz         uncompressed npz, float32 (zennit 0.5 ran in float64 on the same weights):
      {m}_x                 f32 [5,1,28,28]  digits INDICES of examples/mnist/data/test_x.npy
      {m}_target            i64 [5]          their labels
      {m}_logits            f32 [5,10]
      {m}_{composite}       the relevance at the input, starting from the target's logit on the
                            target class (attr_output = logits * one-hot)
      {m}_{composite}_conservation   per example, sum(relevance) / target logit
    for m in mnist (examples/mnist/mnist_cnn.onnx), resnet (resnet_bn.onnx) and composite in
      epsilon            Epsilon(1e-6) on every Conv and Linear (a LayerMapComposite)
      epsilon_plus_flat  zennit's EpsilonPlusFlat()
      epsilon_gamma_box  zennit's EpsilonGammaBox(low, high), low and high the min and max of {m}_x
      alpha1_beta0       AlphaBeta(1, 0) on every Conv and Linear (a LayerMapComposite)
    every composite with layer_map_base (activations pass, average pooling and zennit's Sum get
    Norm) and the SequentialMergeBatchNorm canonizer (made exact: ExactMergeBatchNorm); the residual additions run as zennit.layer.Sum
    over the stacked branches, so they share relevance in proportion to each branch's value.
      blur_x                f32 [3,1,28,28]  MNIST digits 0, 1, 2
      blur_{case}           blur-perturbation saliency (Greydanus et al. 2017) by numpy and
                            scipy.ndimage.gaussian_filter on the MNIST CNN's logits (onnxruntime):
                            cases in meta (blur sigma, mask sigma, stride, compared logits)
  lrp.json        versions, indices, parameters, bounds

Deterministic. Usage: python/.venv/bin/python python/make_lrp_fixtures.py
"""
from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import scipy
import scipy.ndimage
import torch
import zennit
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonGammaBox, EpsilonPlusFlat, LayerMapComposite, layer_map_base
from zennit.layer import Sum
from zennit.rules import AlphaBeta, Epsilon
from zennit.types import Convolution

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from sensie_models import load_mnist_cnn  # noqa: E402

OUT = ROOT / "crates" / "sensie" / "tests" / "data" / "explain"
MNIST = ROOT / "examples" / "mnist"
INDICES = [0, 1, 2, 3, 13]
COMPOSITES = ["epsilon", "epsilon_plus_flat", "epsilon_gamma_box", "alpha1_beta0"]
BLUR_CASES = {
    "b3_s5_k4_all": {"blur_sigma": 3.0, "mask_sigma": 5.0, "stride": 4, "score": "all"},
    "b2_s3_k3_target": {"blur_sigma": 2.0, "mask_sigma": 3.0, "stride": 3, "score": "target"},
}
torch.set_num_threads(2)
warnings.filterwarnings("ignore")


class Block(nn.Module):
    """conv-bn-relu-conv-bn, plus the input (or its 1x1 conv-bn projection), then ReLU. Modules are
    declared in the order they run, so that zennit's SequentialMergeBatchNorm finds each BN after
    its conv."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.project = None
        if stride != 1 or c_in != c_out:
            self.project = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.sum = Sum()
        self.relu2 = nn.ReLU()
        self.zennit_sum = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        skip = x if self.project is None else self.project(x)
        # zennit needs the addition as a module to give it the Norm rule; ONNX gets a plain Add.
        out = self.sum(torch.stack([out, skip], dim=-1)) if self.zennit_sum else out + skip
        return self.relu2(out)


class ResNetBn(nn.Module):
    """Stem conv(1->8, 3x3, bias)-BN-ReLU, a block 8->8, a block 8->16 with stride 2 and a projection,
    global average pooling, Linear(16->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.block1 = Block(8, 8, 1)
        self.block2 = Block(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.block1(self.relu(self.bn(self.conv(x)))))
        return self.fc(self.flatten(self.pool(x)))

    def use_zennit_sum(self, on: bool) -> None:
        for block in (self.block1, self.block2):
            block.zennit_sum = on


def train_resnet(x_all: np.ndarray, y_all: np.ndarray) -> ResNetBn:
    torch.manual_seed(0)
    model = ResNetBn()
    x = torch.from_numpy(x_all[100:])
    y = torch.from_numpy(y_all[100:].astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(50):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def export(model: nn.Module, x: torch.Tensor) -> onnx.ModelProto:
    f = io.BytesIO()
    torch.onnx.export(model, (x,), f, dynamo=False, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load_from_string(f.getvalue())
    ops = {n.op_type for n in m.graph.node}
    assert {"BatchNormalization", "Add", "GlobalAveragePool", "Gemm"} <= ops, ops
    return m


class ExactMergeBatchNorm(SequentialMergeBatchNorm):
    """zennit's SequentialMergeBatchNorm leaves each merged BatchNorm computing x / sqrt(1 + eps)
    (running_var 1, eps kept), a factor 1 - 5e-6 per BN that the exact fold (sensie's, or an
    exporter's) does not have and that residual sums near zero amplify; this one also sets eps to 0
    while merged, so the merged BatchNorm is the identity."""

    def merge_batch_norm(self, modules, batch_norm):
        super().merge_batch_norm(modules, batch_norm)
        self.eps = batch_norm.eps
        batch_norm.eps = 0.0

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.eps


def composite(name: str, low: float, high: float):
    canonizers = [ExactMergeBatchNorm()]
    if name == "epsilon":
        return LayerMapComposite(layer_map_base() + [(Convolution, Epsilon(1e-6)), (nn.Linear, Epsilon(1e-6))],
                                 canonizers=canonizers)
    if name == "alpha1_beta0":
        return LayerMapComposite(layer_map_base() + [(Convolution, AlphaBeta(1.0, 0.0)), (nn.Linear, AlphaBeta(1.0, 0.0))],
                                 canonizers=canonizers)
    if name == "epsilon_plus_flat":
        return EpsilonPlusFlat(canonizers=canonizers)
    if name == "epsilon_gamma_box":
        return EpsilonGammaBox(low=low, high=high, canonizers=canonizers)
    raise ValueError(name)


def lrp_references(prefix: str, model: nn.Module, x: np.ndarray, target: np.ndarray) -> tuple[dict, dict]:
    model = model.double().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    xd = torch.from_numpy(x.astype(np.float64))
    with torch.no_grad():
        logits = model(xd)
    onehot = torch.zeros_like(logits)
    onehot[range(len(target)), target] = 1.0
    picked = logits[range(len(target)), target]
    low, high = float(x.min()), float(x.max())
    out = {f"{prefix}_x": x.astype(np.float32), f"{prefix}_target": target.astype(np.int64),
           f"{prefix}_logits": logits.numpy().astype(np.float32)}
    for name in COMPOSITES:
        with Gradient(model, composite(name, low, high)) as attributor:
            _, relevance = attributor(xd.clone().requires_grad_(True), lambda output: output * onehot)
        out[f"{prefix}_{name}"] = relevance.numpy().astype(np.float32)
        out[f"{prefix}_{name}_conservation"] = (relevance.sum(dim=(1, 2, 3)) / picked).numpy().astype(np.float32)
    return out, {"low": low, "high": high}


def blur_saliency(session: ort.InferenceSession, x: np.ndarray, target: np.ndarray, blur_sigma: float,
                  mask_sigma: float, stride: int, score: str) -> np.ndarray:
    """Greydanus et al.'s equations, directly: phi = I (1 - M) + A M per centre, 1/2 ||f(I) - f(phi)||^2."""
    f = lambda batch: session.run(None, {"input": batch.astype(np.float32)})[0].astype(np.float64)  # noqa: E731
    n, c, h, w = x.shape
    rows, cols = -(-h // stride), -(-w // stride)
    u, v = np.mgrid[0:h, 0:w]
    clean = f(x)
    out = np.zeros((n, rows, cols))
    for e in range(n):
        image = x[e].astype(np.float64)
        blurred = scipy.ndimage.gaussian_filter(image, sigma=(0, blur_sigma, blur_sigma), mode="reflect", truncate=4.0)
        phis = []
        for i in range(0, h, stride):
            for j in range(0, w, stride):
                mask = np.exp(-((u - i) ** 2 + (v - j) ** 2) / (2 * mask_sigma ** 2))
                phis.append(image * (1 - mask) + blurred * mask)
        scores = f(np.stack(phis))
        diff = clean[e] - scores
        if score == "target":
            diff = diff[:, target[e]:target[e] + 1]
        out[e] = (0.5 * (diff ** 2).sum(axis=1)).reshape(rows, cols)
    return out.astype(np.float32)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    x_all = np.load(MNIST / "data" / "test_x.npy")
    y_all = np.load(MNIST / "data" / "test_y.npy")
    x, target = x_all[INDICES], y_all[INDICES].astype(np.int64)

    mnist = load_mnist_cnn(ROOT)
    arrays, mnist_bounds = lrp_references("mnist", mnist, x, target)

    resnet = train_resnet(x_all, y_all)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = export(resnet, torch.from_numpy(x))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        assert np.abs(session.run(None, {"input": x})[0] - resnet(torch.from_numpy(x)).numpy()).max() < 1e-4
    onnx.save(proto, str(OUT / "resnet_bn.onnx"))
    resnet.use_zennit_sum(True)
    more, resnet_bounds = lrp_references("resnet", resnet, x, target)
    arrays.update(more)
    accuracy = float((resnet(torch.from_numpy(x_all[:100]).double()).argmax(1).numpy() == y_all[:100]).mean())

    cnn = ort.InferenceSession(str(MNIST / "mnist_cnn.onnx"), providers=["CPUExecutionProvider"])
    blur_x = x_all[:3]
    arrays["blur_x"] = blur_x
    arrays["blur_target"] = y_all[:3].astype(np.int64)
    for name, case in BLUR_CASES.items():
        arrays[f"blur_{name}"] = blur_saliency(cnn, blur_x, y_all[:3], **case)

    np.savez(OUT / "lrp.npz", **arrays)
    meta = {
        "indices": INDICES,
        "composites": COMPOSITES,
        "bounds": {"mnist": mnist_bounds, "resnet": resnet_bounds},
        "resnet_accuracy_digits_0_99": accuracy,
        "blur_cases": BLUR_CASES,
        "conservation": {k: arrays[k].tolist() for k in arrays if k.endswith("_conservation")},
        "versions": {"torch": torch.__version__, "zennit": zennit.__version__ if hasattr(zennit, "__version__") else "0.5.1",
                     "scipy": scipy.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__},
    }
    (OUT / "lrp.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta["conservation"], indent=1))


if __name__ == "__main__":
    main()

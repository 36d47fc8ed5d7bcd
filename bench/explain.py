"""Explanation benchmark: sensie's attribution methods against Captum on the same weights, the
same digits and the same batch, one sitting. Appends a section to BENCHMARKS.md.

Methods, as the explanations issue times them: saliency (Captum `Saliency`, abs=True; sensie
also takes the max over channels), Integrated Gradients (50 Gauss-Legendre steps, zero baseline;
Captum's default internal batching: all steps at once), Grad-CAM at the ReLU after the last
convolution, upsampled bilinearly to the input (`LayerGradCam` + `LayerAttribution.interpolate`),
and occlusion with a 4 x 4 window, stride 2 (169 windows per digit; Captum's
`perturbations_per_eval` set to 16, its fastest setting on this machine, see `--ppe`).
Targets are the predicted classes. Model: the bundled MNIST CNN.

The machine is shared and its load drifts, so sensie and Captum are timed alternately in ROUNDS
rounds of one second per method each; the table gives the median over rounds of each side's time
and of the per-round ratio, with the range of the ratios.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from engine import median_seconds, mnist_model  # noqa: E402

DATA = ROOT / "examples/mnist/data/test_x.npy"
ROUNDS = 5
SECONDS = 1.0


def captum_times(batch: int, ppe: int) -> dict:
    model, _, _ = mnist_model()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.from_numpy(np.load(DATA)[:batch].copy())
    with torch.no_grad():
        target = model(x).argmax(1)
    saliency, ig, occlusion = Saliency(model), IntegratedGradients(model), Occlusion(model)
    gradcam = LayerGradCam(model, model.relu2)
    runs = {
        "saliency": lambda: saliency.attribute(x, target=target, abs=True).amax(1, keepdim=True),
        "integrated-gradients": lambda: ig.attribute(x, target=target, n_steps=50, method="gausslegendre"),
        "gradcam": lambda: LayerAttribution.interpolate(gradcam.attribute(x, target=target, relu_attributions=True),
                                                        (28, 28), interpolate_mode="bilinear"),
        "occlusion": lambda: occlusion.attribute(x, target=target, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                                 perturbations_per_eval=ppe),
    }
    return {name: median_seconds(f, SECONDS) for name, f in runs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensie-bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--ppe", type=int, default=16, help="Captum Occlusion's perturbations_per_eval")
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    rounds = []
    for _ in range(ROUNDS):
        ours = json.loads(subprocess.run([args.sensie_bench, str(ROOT / "examples/mnist/mnist_cnn.onnx"), str(DATA),
                                          str(args.batch), str(SECONDS)], check=True, capture_output=True,
                                         text=True).stdout.strip().splitlines()[-1])
        theirs = captum_times(args.batch, args.ppe)
        rounds.append({m: (ours[m]["seconds"], theirs[m]) for m in theirs})
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    rows = []
    for m in rounds[0]:
        ratios = [r[m][0] / r[m][1] for r in rounds]
        rows.append({"method": m, "sensie_s": statistics.median(r[m][0] for r in rounds),
                     "captum_s": statistics.median(r[m][1] for r in rounds), "ratio": statistics.median(ratios),
                     "ratio_range": (min(ratios), max(ratios))})
    print(json.dumps({"load": load, "load_after": load_after, "rows": rows}), flush=True)
    lines = [
        "",
        "## Explanations",
        "",
        f"MNIST CNN, a batch of {args.batch} held-out digits, targets = predicted classes; milliseconds per image",
        f"(median call time / batch), timed alternately in {ROUNDS} rounds. Captum 0.9 on PyTorch with the same weights.",
        f"Load average before the run: {' '.join(load)}; after: {' '.join(load_after)}. Saliency: max over channels of",
        "|gradient|; Integrated Gradients: 50 Gauss-Legendre",
        "steps, zero baseline; Grad-CAM: ReLU after the last convolution, upsampled bilinearly; occlusion: 4 x 4",
        f"window, stride 2 (Captum: perturbations_per_eval={args.ppe}).",
        "",
        "| method | sensie ms/image | Captum ms/image | sensie / Captum | range over rounds |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = r["ratio_range"]
        lines.append(f"| {r['method']} | {1e3 * r['sensie_s'] / args.batch:.3f} | {1e3 * r['captum_s'] / args.batch:.3f} | "
                     f"{r['ratio']:.2f} | {low:.2f} to {high:.2f} |")
    lines += ["", "Target (explanations issue): sensie / Captum at most 0.5 for each method.", ""]
    out = Path(args.out)
    out.write_text((out.read_text() if out.exists() else "# Benchmarks\n") + "\n".join(lines))


if __name__ == "__main__":
    main()

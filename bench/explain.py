"""Explanation benchmark: sensie's attribution methods against Captum on the same weights, the
same digits and the same batch, one sitting. Appends a section to BENCHMARKS.md.

Per image, two ways: one digit explained on its own (batch 1, the interactive case) and 32
digits explained together (batch 32, time / 32).

Methods, as the explanations issue times them: saliency (Captum `Saliency`, abs=True; sensie
also takes the max over channels), Integrated Gradients (50 Gauss-Legendre steps, zero baseline;
Captum's default internal batching: all steps at once), Grad-CAM at the ReLU after the last
convolution, upsampled bilinearly to the input (`LayerGradCam` + `LayerAttribution.interpolate`),
and occlusion with a 4 x 4 window, stride 2 (169 windows per digit; Captum's
`perturbations_per_eval` set to 16, its fastest setting on this machine, see `--ppe`).
Targets are the predicted classes. Model: the bundled MNIST CNN.

The machine is shared and its speed drifts (on 2 vCPUs, ONNX Runtime's two threads lose most when
the second vCPU is slowed by the host), so sensie and Captum are timed alternately in ROUNDS rounds
of SECONDS per method each; the table gives the median over rounds of each side's time and of the
per-round ratio, with the range of the ratios.
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
SECONDS = 0.5
BATCHES = (1, 32)


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
    ap.add_argument("--ppe", type=int, default=16, help="Captum Occlusion's perturbations_per_eval")
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    rounds = {batch: [] for batch in BATCHES}
    for _ in range(ROUNDS):
        for batch in BATCHES:
            ours = json.loads(subprocess.run([args.sensie_bench, str(ROOT / "examples/mnist/mnist_cnn.onnx"), str(DATA),
                                              str(batch), str(SECONDS)], check=True, capture_output=True,
                                             text=True).stdout.strip().splitlines()[-1])
            theirs = captum_times(batch, args.ppe)
            rounds[batch].append({m: (ours[m]["seconds"], theirs[m]) for m in theirs})
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    rows = []
    for batch in BATCHES:
        for m in rounds[batch][0]:
            ratios = [r[m][0] / r[m][1] for r in rounds[batch]]
            rows.append({"method": m, "batch": batch, "sensie_s": statistics.median(r[m][0] for r in rounds[batch]),
                         "captum_s": statistics.median(r[m][1] for r in rounds[batch]),
                         "ratio": statistics.median(ratios), "ratio_range": (min(ratios), max(ratios))})
    print(json.dumps({"load": load, "load_after": load_after, "rows": rows}), flush=True)
    lines = [
        "",
        "## Explanations",
        "",
        "MNIST CNN, held-out digits, targets = predicted classes; milliseconds per image (median call time / batch),",
        f"sensie and Captum 0.9 (PyTorch, same weights) timed alternately in {ROUNDS} rounds. Load average before the",
        f"run: {' '.join(load)}; after: {' '.join(load_after)} (the run itself adds about 1). Saliency: max over",
        "channels of |gradient|; Integrated Gradients: 50 Gauss-Legendre steps, zero baseline; Grad-CAM: ReLU after",
        "the last convolution, upsampled bilinearly; occlusion: 4 x 4 window, stride 2, 169 windows per digit",
        f"(Captum: perturbations_per_eval={args.ppe}).",
        "",
        "| method | batch | sensie ms/image | Captum ms/image | sensie / Captum | range over rounds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = r["ratio_range"]
        lines.append(f"| {r['method']} | {r['batch']} | {1e3 * r['sensie_s'] / r['batch']:.3f} | "
                     f"{1e3 * r['captum_s'] / r['batch']:.3f} | {r['ratio']:.2f} | {low:.2f} to {high:.2f} |")
    lines += ["", "Target (explanations issue): sensie / Captum at most 0.5 for each method.", ""]
    out = Path(args.out)
    out.write_text((out.read_text() if out.exists() else "# Benchmarks\n") + "\n".join(lines))


if __name__ == "__main__":
    main()

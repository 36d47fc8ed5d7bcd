"""Explanation benchmark: sensie's attribution methods against Captum on the same weights, the
same digits and the same batch, one sitting. Appends a section to BENCHMARKS.md.

Per image, two ways: one digit explained on its own (batch 1, the interactive case) and 32
digits explained together (batch 32, time / 32).

Methods, timed as a user would run them: saliency (Captum `Saliency`, abs=True; sensie
also takes the max over channels), Integrated Gradients (50 Gauss-Legendre steps, zero baseline;
Captum's default internal batching: all steps at once), Grad-CAM at the ReLU after the last
convolution, upsampled bilinearly to the input (`LayerGradCam` + `LayerAttribution.interpolate`),
guided backprop (`GuidedBackprop`), occlusion with a 4 x 4 window, stride 2 (169 windows per digit; Captum's
`perturbations_per_eval` set to 16, its fastest setting on this machine, see `--ppe`), and LRP against zennit
0.5.1 instead of Captum (Captum has no LRP composites): the EpsilonPlusFlat composite, relevance starting at the
target's logit, zennit's `Gradient` attributor entered once (hooks registered outside the timing, on a model of its
own).
Targets are the predicted classes. Model: the bundled MNIST CNN.

The machine is shared and its speed drifts (on 2 vCPUs, ONNX Runtime's two threads lose most when
the second vCPU is slowed by the host), so sensie and Captum are timed alternately in ROUNDS rounds
of SECONDS per method each; the table gives the median over rounds of each side's time and of the
per-round ratio, with the range of the ratios.

Memory: each method at batch 32 in a fresh process of its own, on each side (sensie's explain
bench binary with one method; this script with --captum-memory for Captum), after the model, the
digits and the targets are loaded: the resident peak (VmHWM, reset to the resident size with
/proc/self/clear_refs just before the method's first call) minus the resident size then, and the
process's whole peak. Both sides are read the same way from /proc/self/status.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from captum.attr import GuidedBackprop, IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import load_average, reset_peak, run_json, status_mib  # noqa: E402
from engine import median_seconds, mnist_model  # noqa: E402

DATA = ROOT / "examples/mnist/data/test_x.npy"
ROUNDS = 5
SECONDS = 0.5
BATCHES = (1, 32)
MEMORY_BATCH = 32
TARGET = 0.5
METHODS = ("saliency", "integrated-gradients", "gradcam", "guided-backprop", "occlusion", "lrp")
MODEL = ROOT / "examples/mnist/mnist_cnn.onnx"
# Captum warns on every call that it set requires_grad and hooked the ReLUs, as asked.
warnings.filterwarnings("ignore", category=UserWarning, module="captum")


def captum_methods(batch: int, ppe: int) -> dict:
    """Each method as a call of Captum on the first `batch` digits for their predicted classes."""
    model, _, _ = mnist_model()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.from_numpy(np.load(DATA)[:batch].copy())
    with torch.no_grad():
        target = model(x).argmax(1)
    saliency, ig, occlusion = Saliency(model), IntegratedGradients(model), Occlusion(model)
    gradcam, guided = LayerGradCam(model, model.relu2), GuidedBackprop(model)
    lrp = zennit_lrp(x, target)
    return {
        "saliency": lambda: saliency.attribute(x, target=target, abs=True).amax(1, keepdim=True),
        "integrated-gradients": lambda: ig.attribute(x, target=target, n_steps=50, method="gausslegendre"),
        "gradcam": lambda: LayerAttribution.interpolate(gradcam.attribute(x, target=target, relu_attributions=True),
                                                        (28, 28), interpolate_mode="bilinear"),
        "guided-backprop": lambda: guided.attribute(x, target=target),
        "occlusion": lambda: occlusion.attribute(x, target=target, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                                 perturbations_per_eval=ppe),
        "lrp": lrp,
    }


def zennit_lrp(x: torch.Tensor, target: torch.Tensor):
    """zennit's EpsilonPlusFlat on a model of its own, hooks registered once: a call is one attribution."""
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlusFlat

    model, _, _ = mnist_model()
    for p in model.parameters():
        p.requires_grad_(False)
    attributor = Gradient(model, EpsilonPlusFlat())
    attributor.__enter__()
    onehot = torch.nn.functional.one_hot(target, 10).to(x.dtype)
    return lambda: attributor(x.clone().requires_grad_(True), lambda output: output * onehot)[1]


def captum_times(batch: int, ppe: int) -> dict:
    return {name: median_seconds(f, SECONDS) for name, f in captum_methods(batch, ppe).items()}


def captum_memory(method: str, ppe: int) -> dict:
    """One method's memory in this (fresh) process, read as the sensie bench binary reads its own."""
    run = captum_methods(MEMORY_BATCH, ppe)[method]
    reset_peak()
    before = status_mib("VmRSS")
    median_seconds(run, SECONDS)
    peak = status_mib("VmHWM")
    return {"added_peak_mib": peak - before, "process_peak_mib": peak}


def memory_rows(sensie_bench: str, ppe: int) -> list:
    rows = []
    for m in METHODS:
        ours = run_json([sensie_bench, MODEL, DATA, MEMORY_BATCH, SECONDS, m])[m]
        theirs = run_json([sys.executable, __file__, "--captum-memory", m, "--ppe", ppe])
        rows.append({"method": m, "sensie": ours, "captum": theirs})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensie-bench", help="the explain bench binary")
    ap.add_argument("--out", help="the markdown section to write")
    ap.add_argument("--ppe", type=int, default=16, help="Captum Occlusion's perturbations_per_eval")
    ap.add_argument("--captum-memory", choices=METHODS, help="print one Captum method's memory (run in a fresh process)")
    args = ap.parse_args()
    if args.captum_memory:
        print(json.dumps(captum_memory(args.captum_memory, args.ppe)))
        return
    if not (args.sensie_bench and args.out):
        ap.error("--sensie-bench and --out are required (or --captum-memory)")
    load = load_average().split()
    rounds = {batch: [] for batch in BATCHES}
    for _ in range(ROUNDS):
        for batch in BATCHES:
            ours = run_json([args.sensie_bench, MODEL, DATA, batch, SECONDS, "all"])
            theirs = captum_times(batch, args.ppe)
            rounds[batch].append({m: (ours[m]["seconds"], theirs[m]) for m in theirs})
    memory = memory_rows(args.sensie_bench, args.ppe)
    load_after = load_average().split()
    rows = []
    for batch in BATCHES:
        for m in rounds[batch][0]:
            ratios = [r[m][0] / r[m][1] for r in rounds[batch]]
            rows.append({"method": m, "batch": batch, "sensie_s": statistics.median(r[m][0] for r in rounds[batch]),
                         "captum_s": statistics.median(r[m][1] for r in rounds[batch]),
                         "ratio": statistics.median(ratios), "ratio_range": (min(ratios), max(ratios))})
    print(json.dumps({"load": load, "load_after": load_after, "rows": rows, "memory": memory}), flush=True)
    lines = [
        "## Explanations",
        "",
        "MNIST CNN, held-out digits, targets = predicted classes; milliseconds per image (median call time / batch),",
        f"sensie and Captum 0.9 (PyTorch, same weights) timed alternately in {ROUNDS} rounds. Load average before the",
        f"run: {' '.join(load)}; after: {' '.join(load_after)} (the run itself adds about 1). Saliency: max over",
        "channels of |gradient|; Integrated Gradients: 50 Gauss-Legendre steps, zero baseline; Grad-CAM: ReLU after",
        "the last convolution, upsampled bilinearly; guided backprop: Captum's `GuidedBackprop`, sensie's",
        "`guided-backprop`; occlusion: 4 x 4 window, stride 2, 169 windows per digit",
        f"(Captum: perturbations_per_eval={args.ppe}); lrp: the epsilon-plus-flat composite against zennit 0.5.1's",
        "EpsilonPlusFlat (the Captum columns hold zennit's numbers on that row).",
        "",
        "| method | batch | sensie ms/image | Captum ms/image | sensie / Captum | range over rounds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = r["ratio_range"]
        lines.append(f"| {r['method']} | {r['batch']} | {1e3 * r['sensie_s'] / r['batch']:.3f} | "
                     f"{1e3 * r['captum_s'] / r['batch']:.3f} | {r['ratio']:.2f} | {low:.2f} to {high:.2f} |")
    missed = [f"{r['method']} at batch {r['batch']} ({r['ratio']:.2f})" for r in rows if r["ratio"] > TARGET]
    lines += ["", f"Target: sensie / Captum at most {TARGET} for each method. "
              + (f"Not met: {', '.join(missed)}." if missed else "Met by every method at both batch sizes."), ""]
    lines += [
        f"Memory, MiB, batch {MEMORY_BATCH}: each method in a fresh process of its own, on each side; what the method adds is the",
        "resident peak while it runs (VmHWM, reset with /proc/self/clear_refs once the model, digits and targets are",
        "loaded) minus the resident size then; the process peak includes the runtime (ONNX Runtime; Python, PyTorch).",
        "",
        "| method | sensie adds | Captum adds | sensie process peak | Captum process peak | sensie / Captum (process) |",
        "|---|---|---|---|---|---|",
    ]
    for r in memory:
        ours, theirs = r["sensie"], r["captum"]
        lines.append(f"| {r['method']} | {ours['added_peak_mib']:.1f} | {theirs['added_peak_mib']:.1f} | "
                     f"{ours['process_peak_mib']:.0f} | {theirs['process_peak_mib']:.0f} | "
                     f"{ours['process_peak_mib'] / theirs['process_peak_mib']:.2f} |")
    lines.append("")
    Path(args.out).write_text("\n".join(lines))


if __name__ == "__main__":
    main()

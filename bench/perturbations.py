"""Every built-in perturbation's sweep against the forward-only loop, on the MNIST CNN and the lens
finder, and the latency of probing one image.

For each model and each perturbation `sensie perturbations` lists:

- sensie: `sensie probe --perturb SPEC --batch-size 256` with default flags otherwise (threads
  chosen by sensie, 2000 bootstrap replicates), the whole process timed: start-up, loading, the
  sweep, the statistics, results.json and report.html;
- the forward-only loop: onnxruntime's Python API (a default InferenceSession) running the same
  forward passes (the unperturbed pass, then every level that is not the perturbation's identity)
  in the same batches, and scoring them (softmax, correct-class probability), on images perturbed
  beforehand by sensie's own perturbations (the `perturbed` bench binary, not timed): the limit
  for any tool that drives ONNX Runtime, since its images cost nothing to make.

Every sweep has one identity level and the same number of other levels (flip and band-drop repeat
their values), so every row runs the same forward passes. The two run alternately, ROUNDS rounds;
the medians are compared. Speed is the loop's seconds over sensie's: 1 means sensie runs at the
forward passes' own speed. The check that the same work is measured: the loop's mean
correct-class probability per level equals sensie's results.json within TOLERANCE.

Then the latency of one image: `probe::run` (the probe bench binary) on a single image, batch 1, a
19-level rotation with its statistics, model already loaded, against the loop's 19 batch-1
forward passes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from common import ROOT, WORK, load_average, run, run_json

BATCH = 256
ROUNDS = 5
TOLERANCE = 1e-4
POINTWISE = {"gaussian-noise", "poisson-noise", "brightness", "magnitude", "contrast", "gamma", "saturation",
             "band-scale", "band-drop"}


def repeated(identity, others, n):
    """The identity, then `others` cycled to n - 1 more values."""
    return ",".join([str(identity)] + [str(others[i % len(others)]) for i in range(n - 1)])


def specs(levels, bands, seeing):
    """One sweep per built-in: `levels` values, exactly one of them the identity (poisson-noise: none,
    so one fewer value), ranges that suit images of `bands` bands and the data's seeing."""
    n = levels
    return {
        "rotate": f"rotate=0:180:{n}",
        "flip": f"flip={repeated(0, [1], n)}",
        "translate": f"translate=0:9:{n}",
        "zoom": f"zoom={repeated(1, np.round(np.linspace(0.55, 1.45, n - 1), 3).tolist(), n)}",
        "blur": f"blur=0:3:{n}",
        "psf": f"psf=0:4:{n}",
        "seeing": f"seeing(current={seeing})={seeing}:{seeing + 3}:{n}",
        "gaussian-noise": f"gaussian-noise=0:0.5:{n}",
        "poisson-noise": f"poisson-noise=10:1000:{n - 1}",
        "brightness": f"brightness={repeated(1, np.round(np.linspace(0.1, 1.9, n - 1), 3).tolist(), n)}",
        "magnitude": f"magnitude=0:3:{n}",
        "contrast": f"contrast={repeated(1, np.round(np.linspace(0.1, 1.9, n - 1), 3).tolist(), n)}",
        "gamma": f"gamma={repeated(1, np.round(np.linspace(0.3, 2.1, n - 1), 3).tolist(), n)}",
        "saturation": f"saturation=1:0:{n}",
        "band-scale": f"band-scale={repeated(1, np.round(np.linspace(0.1, 1.9, n - 1), 3).tolist(), n)}",
        "band-drop": f"band-drop={repeated(-1, list(range(bands)), n)}",
        "occlude": f"occlude=0:18:{n}",
    }


MODELS = [
    # name, model, data, labels (None: in the npz), images, levels, bands, seeing FWHM (pixels)
    ("MNIST CNN", "examples/mnist/mnist_cnn.onnx", "examples/mnist/data/test_x.npy", "examples/mnist/data/test_y.npy", 19, 1, 1.0),
    ("lens finder", "examples/lens/lens_finder.onnx", "examples/lens/data/test.npz", None, 5, 3, 5.7),
]


def builtins(sensie):
    """The names `sensie perturbations` lists (each entry's first line starts at column 0)."""
    out = subprocess.run([sensie, "perturbations"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line and not line[0].isspace() and not line.startswith("Use:")]


def labels_of(data, labels):
    return np.load(ROOT / labels) if labels else np.load(ROOT / data)["y"]


def images_of(data):
    return np.load(ROOT / data) if data.endswith(".npy") else np.load(ROOT / data)["x"]


def forward_loop(session, stacks, y, batch=BATCH):
    """The forward passes and correct-class scores of every stack of images (N x C x H x W each), in
    batches; the mean score per stack."""
    name = session.get_inputs()[0].name
    rows = np.arange(len(y))
    means = []
    for x in stacks:
        scores = np.empty(len(y))
        for s in range(0, len(y), batch):
            z = session.run(None, {name: x[s:s + batch]})[0].astype(np.float64)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            scores[s:s + batch] = p[rows[:len(p)], y[s:s + batch]]
        means.append(scores.mean())
    return means


def sensie_run_size(x):
    """How many images sensie's engine gives ONNX Runtime per call out of a batch of BATCH
    (`forward_run` in crates/sensie/src/engine.rs): the largest power of two whose input fits
    256 KiB, at least 8."""
    fits = max((256 * 1024) // (x[0].size * 4), 8)
    return min(1 << (fits.bit_length() - 1), BATCH)


def loop_in_runs(args, session, stacks, y):
    """The forward-only loop in batches of BATCH and in sensie's run size, alternately: how much of
    sensie's speed is its smaller ONNX Runtime calls."""
    run = sensie_run_size(stacks[0])
    times = {BATCH: [], run: []}
    for _ in range(args.rounds):
        for batch in times:
            start = time.perf_counter()
            forward_loop(session, stacks, y, batch)
            times[batch].append(time.perf_counter() - start)
    return {"run": run, "batch": statistics.median(times[BATCH]), "in_runs": statistics.median(times[run])}


def sensie_sweep(sensie, model, data, labels, spec, out):
    cmd = [sensie, "probe", "--model", ROOT / model, "--data", ROOT / data, "--perturb", spec, "--batch-size", BATCH,
           "--out", out, "--force", "--quiet"]
    if labels:
        cmd[6:6] = ["--labels", ROOT / labels]
    _, seconds = run(cmd)
    levels = json.loads((out / "results.json").read_text())["tests"][0]["levels"]
    return seconds, [(level["value"], level["mean_score"]) for level in levels]


def perturbation_rows(args, only):
    rows, runs = [], {}
    out = WORK / "perturbations-probe"
    names = builtins(args.sensie)
    for label, model, data, labels, levels, bands, seeing in MODELS:
        table = specs(levels, bands, seeing)
        missing = [n for n in names if n not in table]
        if missing:
            sys.exit(f"bench: no sweep for built-in perturbation(s) {', '.join(missing)}: add them to specs() in {__file__}")
        y = labels_of(data, labels)
        x = images_of(data)
        session = ort.InferenceSession(str(ROOT / model), providers=["CPUExecutionProvider"])
        # The fixed cost of a sensie process on this model and data: a sweep whose levels are all the identity
        # runs only the unperturbed pass, with the same start-up, loading, statistics and report.
        fixed = statistics.median(sensie_sweep(args.sensie, model, data, labels, "brightness=1,1", out)[0]
                                  for _ in range(args.rounds))
        for name in names:
            if only and name not in only:
                continue
            spec = table[name]
            stack = WORK / "perturbed.npy"
            made = run_json([args.perturbed_bench, ROOT / data, spec, 0, stack])
            stacks = [x] + list(np.load(stack))
            times = {"sensie": [], "loop": []}
            for _ in range(args.rounds):
                seconds, sensie_levels = sensie_sweep(args.sensie, model, data, labels, spec, out)
                times["sensie"].append(seconds)
                start = time.perf_counter()
                loop_means = forward_loop(session, stacks, y)
                times["loop"].append(time.perf_counter() - start)
            # The loop's means per level value: the unperturbed pass for identity values. Matched by value,
            # as sensie puts a list that goes up and down in increasing order.
            written = iter(loop_means[1:])
            by_value = {v: loop_means[0] if v not in made["written"] else next(written) for v in made["values"]}
            worst = max(abs(by_value[value] - mean) for value, mean in sensie_levels)
            if worst > TOLERANCE:
                sys.exit(f"bench: {label} {spec}: the forward-only loop and sensie differ by {worst:.2g} in a level's mean "
                         f"score (tolerance {TOLERANCE}): they did not do the same work")
            s, l = statistics.median(times["sensie"]), statistics.median(times["loop"])
            # What the perturbed levels add: sensie's time over its identity-only run's, against the loop's
            # passes other than the unperturbed one.
            perturbed = l * (len(stacks) - 1) / len(stacks)
            row = {"model": label, "perturbation": name, "spec": spec, "images": len(y), "passes": len(stacks),
                   "sensie": s, "loop": l, "speed": l / s, "worst": worst, "fixed": fixed,
                   "sweep_speed": perturbed / max(s - fixed, 1e-9),
                   "speeds": [b / a for a, b in zip(times["sensie"], times["loop"])]}
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
        runs[label] = loop_in_runs(args, session, stacks, y)
        del session
    return rows, runs


def latency(args):
    """One image, batch 1, a 19-level rotation: probe::run (model loaded) and 19 batch-1 forward passes."""
    x = images_of(MODELS[0][2])[:1]
    y = labels_of(MODELS[0][2], MODELS[0][3])[:1]
    session = ort.InferenceSession(str(ROOT / MODELS[0][1]), providers=["CPUExecutionProvider"])
    stacks = [x] * 19
    times = []
    for _ in range(200):
        start = time.perf_counter()
        forward_loop(session, stacks, y)
        times.append(time.perf_counter() - start)
    library = run_json([args.probe_bench, ROOT / MODELS[0][1], ROOT / MODELS[0][2], ROOT / MODELS[0][3], 1, "rotate=0:180:19", 1, 200])
    return {"sensie": library["seconds"], "loop": statistics.median(times), "replicates": 2000}


def write(rows, runs, single, rounds, load, load_after, out: Path):
    lines = [
        "## Every perturbation against the forward passes",
        "",
        f"Each built-in perturbation's sweep, batch {BATCH}: sensie's `sensie probe --perturb SPEC --batch-size {BATCH}` with",
        "default flags (sensie picks its threads), the whole process timed (start-up, loading, the sweep, the statistics with",
        "2000 bootstrap replicates, results.json and report.html), against the forward-only loop: onnxruntime's Python API",
        "(a default session) running the same forward passes in the same batches and scoring them, on images perturbed",
        "beforehand by sensie's own perturbations (not timed). Every sweep has one identity level (which reuses the",
        "unperturbed pass) and the same number of others, so each model's rows run the same forward passes. Speed is the",
        "loop's seconds over sensie's (1: sensie runs at the speed of its forward passes alone); its range is over the",
        f"rounds. Medians of {rounds} rounds, sensie and the loop run alternately. Load average before: {load}; after: {load_after}.",
        "Target: speed at least 0.9 for pointwise perturbations, at least 0.8 for resampling and",
        "convolution.",
        "",
        "Sensie's fixed cost is the same process with every level at the identity (`brightness=1,1`: start-up, loading, the",
        "unperturbed pass, statistics, report; the loop's equivalent is its unperturbed pass alone). Sweep speed is what the",
        "perturbed levels cost each: the loop's perturbed passes over sensie's seconds beyond its fixed cost (1: the levels",
        "cost sensie exactly their forward passes).",
        "",
        "| model | perturbation | sweep | forward passes | sensie s | forward-only loop s | speed | range | target | sensie fixed s | sweep speed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        target = 0.9 if r["perturbation"] in POINTWISE else 0.8
        lo, hi = min(r["speeds"]), max(r["speeds"])
        mark = "met" if r["speed"] >= target else "**not met**"
        lines.append(f"| {r['model']} | {r['perturbation']} | `{r['spec']}` | {r['passes']} x {r['images']} | {r['sensie']:.3f} | "
                     f"{r['loop']:.3f} | {r['speed']:.2f} | {lo:.2f} to {hi:.2f} | {target} {mark} | {r['fixed']:.3f} | "
                     f"{r['sweep_speed']:.2f} |")
    worst = max(r["worst"] for r in rows)
    in_runs = "; ".join(f"{label}: calls of {r['run']}, {r['in_runs']:.3f} s against {r['batch']:.3f} s in batches of {BATCH}"
                        for label, r in runs.items())
    lines += [
        "",
        f"Same work: the loop's mean correct-class probability per level equals sensie's within {TOLERANCE} in every row "
        f"(largest difference {worst:.1g}).",
        "",
        f"Part of sensie's speed is that its engine gives ONNX Runtime a batch of {BATCH} in calls of a few images (the",
        "largest power of two whose input fits 256 KiB, at least 8), whose activations stay in cache, instead of in one",
        "call. The forward-only loop above runs whole batches, as the targets define it; the same loop, on the last",
        f"row's images, in sensie's call sizes (medians of {rounds} rounds, alternately): {in_runs}.",
        "",
        "Latency of probing one image (what a notebook sees): `probe::run` on one MNIST digit, batch 1, a 19-level rotation",
        f"and its statistics ({single['replicates']} bootstrap replicates), the model already loaded: "
        f"{1e3 * single['sensie']:.2f} ms; the loop's 19 batch-1 forward passes and scores: {1e3 * single['loop']:.2f} ms "
        "(medians of 200 calls).",
        "",
    ]
    out.write_text("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensie", required=True, help="the sensie CLI binary")
    ap.add_argument("--perturbed-bench", required=True, help="the perturbed bench binary")
    ap.add_argument("--probe-bench", required=True, help="the probe bench binary")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--only", nargs="*", help="only these perturbations (for a quick look; BENCHMARKS.md takes all)")
    ap.add_argument("--out", required=True, help="the markdown section to write")
    args = ap.parse_args()
    for path in (args.sensie, args.perturbed_bench, args.probe_bench):
        if not os.access(path, os.X_OK):
            ap.error(f"not an executable: {path}")
    load = load_average()
    rows, runs = perturbation_rows(args, set(args.only or []))
    single = latency(args)
    load_after = load_average()
    print(json.dumps({"rows": rows, "runs": runs, "single": single}), flush=True)
    write(rows, runs, single, args.rounds, load, load_after, Path(args.out))


if __name__ == "__main__":
    main()

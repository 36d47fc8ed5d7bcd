"""Sweep benchmark: one rotation sweep of the MNIST CNN over its 1000 held-out digits (19 angles,
0 to 180 degrees by 10, batch 256, the same ONNX file), run by

- sensie's CLI, `sensie probe --config` (the whole run, as a user runs it: loading, the sweep, the
  statistics with 2000 bootstrap replicates, results.json and report.html with its charts);
- sensie's library, `probe::run` (the sweep and its statistics, loading excluded: the probe bench
  binary);
- the original Sensie (Python, coljac/sensie, from a checkout given by --sensie-original):
  `Probe.predict_and_measure_perturbed` with a predict function that calls onnxruntime and
  returns softmax probabilities, and its MNIST notebook's perturber (scipy.ndimage.rotate,
  cubic spline, then the middle 28 x 28 cut out);
- a plain Python loop over onnxruntime: the same forward passes and correct-class scores on
  digits rotated the way sensie rotates them (bilinear, zero outside), twice: on digits rotated
  beforehand (not timed; the limit for any tool driving onnxruntime from Python), and rotating
  each angle with scipy as it goes (what a user would write by hand).

They run alternately for ROUNDS rounds and the medians are compared. The check that the same work
is measured: sensie and the plain loop give the same mean correct-class probability at every
angle (within TOLERANCE), and the original Sensie agrees at the exact quarter turns (0, 90 and
180 degrees), where cubic and bilinear rotation move whole pixels alike. (How time and memory grow
with the digits is bench/shard.py's scale table.)
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import scipy.ndimage

from common import ROOT, WORK, load_average, run, run_json

MODEL = ROOT / "examples/mnist/mnist_cnn.onnx"
X = ROOT / "examples/mnist/data/test_x.npy"
Y = ROOT / "examples/mnist/data/test_y.npy"
SWEEP = "rotate=0:180:19"
ANGLES = np.linspace(0, 180, 19)
BATCH = 256
ROUNDS = 3
TOLERANCE = 1e-4


def probabilities(session, x):
    """Softmax of the model's logits, as sensie scores them (in float64)."""
    z = session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def rotate_like_sensie(x, angle):
    """sensie's `rotate`: bilinear, about the centre, pixels from outside the image count as 0."""
    return scipy.ndimage.rotate(x, angle, axes=(2, 3), reshape=False, order=1, mode="grid-constant", cval=0.0)


def rotate_like_notebook(x, angle):
    """The perturber of the original Sensie's MNIST notebook, for N x 1 x 28 x 28 digits."""
    rotated = scipy.ndimage.rotate(x, angle, axes=(2, 3))
    w = rotated.shape[2] // 2
    return rotated[:, :, w - 14:w + 14, w - 14:w + 14]


def plain_loop(session, level, y):
    """Forward passes of every level (`level(i)`: the digits at angle i) in batches, and the mean
    correct-class probability per level."""
    means = []
    for i in range(len(ANGLES)):
        x = level(i)
        scores = np.empty(len(y))
        for s in range(0, len(y), BATCH):
            p = probabilities(session, x[s:s + BATCH])
            scores[s:s + BATCH] = p[np.arange(len(p)), y[s:s + BATCH]]
        means.append(scores.mean())
    return means


def original_sensie(checkout: Path):
    """The original Sensie's sweep, as a function of the data, and its means per level."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Loaded from its file under another name: this package's `sensie` is installed beside it.
    spec = importlib.util.spec_from_file_location("sensie_original", checkout / "sensie" / "sensie.py")
    original = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(original)

    def sweep(session, x, y):
        probe = original.Probe(session, predict_function=probabilities)
        with contextlib.redirect_stdout(io.StringIO()):  # its progress bar
            result = probe.predict_and_measure_perturbed(x, y, rotate_like_notebook, p_values=ANGLES, label="rotation",
                                                         plot=False, batch_size=BATCH)
        return list(result.tests["rotation"].means)

    return sweep


def cli_run(sensie: Path):
    """`sensie probe` on a probe.toml of this sweep: wall seconds and the means from results.json."""
    out = WORK / "sweep-probe"
    config = WORK / "sweep.toml"
    config.write_text(f'model = "{MODEL}"\nout = "{out}"\nforce = true\nbatch_size = {BATCH}\n\n'
                      f'[data]\npath = "{X}"\nlabels = "{Y}"\n\n'
                      f'[[perturb]]\nname = "rotate"\nvalues = "0:180:19"\n')
    _, seconds = run([sensie, "probe", "--config", config, "--quiet"])
    levels = json.loads((out / "results.json").read_text())["tests"][0]["levels"]
    return seconds, [level["mean_score"] for level in levels]


def check(name, means, reference, at=None):
    """Fails the bench when `means` and sensie's differ by more than TOLERANCE (at the angles `at`)."""
    angles = range(len(ANGLES)) if at is None else [int(np.argmin(abs(ANGLES - a))) for a in at]
    worst = max(abs(means[i] - reference[i]) for i in angles)
    if worst > TOLERANCE:
        sys.exit(f"bench: {name} and sensie differ by {worst:.2g} in mean correct-class probability (tolerance "
                 f"{TOLERANCE}): they did not do the same work")
    return worst


def sweep_rows(args, x, y):
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    rotated = [rotate_like_sensie(x, a) for a in ANGLES]
    original = original_sensie(Path(args.sensie_original)) if args.sensie_original else None
    times = {"cli": [], "library": [], "original": [], "plain": [], "rotating": []}
    for _ in range(ROUNDS):
        seconds, cli_means = cli_run(Path(args.sensie))
        times["cli"].append(seconds)
        library = run_json([args.probe_bench, MODEL, X, Y, len(y), SWEEP, BATCH, 1])
        times["library"].append(library["seconds"])
        if original:
            with Timer(times["original"]):
                original_means = original(session, x, y)
        with Timer(times["plain"]):
            plain_means = plain_loop(session, rotated.__getitem__, y)
        with Timer(times["rotating"]):
            rotating_means = plain_loop(session, lambda i: rotate_like_sensie(x, ANGLES[i]), y)
    checks = {"library": check("sensie's library", library["mean_scores"], cli_means),
              "plain": check("the plain onnxruntime loop", plain_means, cli_means),
              "rotating": check("the plain loop rotating as it goes", rotating_means, cli_means)}
    if original:
        checks["original"] = check("the original Sensie", original_means, cli_means, at=(0, 90, 180))
        checks["original_elsewhere"] = max(abs(a - b) for a, b in zip(original_means, cli_means))
    return {k: statistics.median(v) for k, v in times.items() if v}, checks


class Timer:
    """Appends the seconds its block took to a list."""

    def __init__(self, into: list):
        self.into = into

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *_):
        self.into.append(time.perf_counter() - self.start)


def write(args, n, times, checks, load, load_after, out: Path):
    images = n * len(ANGLES)
    tools = [
        ("sensie CLI", "cli", "`sensie probe --config`: load, sweep, statistics (2000 bootstrap replicates), results and report.html"),
        ("sensie library", "library", "`probe::run`: the sweep and its statistics, model and data already loaded"),
        ("original Sensie", "original", "`predict_and_measure_perturbed`, onnxruntime predict function, scipy cubic rotation (notebook's)"),
        ("plain onnxruntime loop", "plain", "forward passes and scores only, the digits rotated beforehand (not timed)"),
        ("plain loop, rotating", "rotating", "the same, rotating each angle's digits with scipy as it goes"),
    ]
    lines = [
        "## Sensitivity sweep",
        "",
        f"MNIST CNN, the {n} held-out digits, rotation at {len(ANGLES)} angles (0 to 180 degrees by 10), batch {BATCH},",
        f"the same ONNX file; {images} digit-angles scored per run; medians of {ROUNDS} rounds, the tools run alternately.",
        f"Load average before: {load}; after: {load_after}. Ratios are sensie's time over the other's: below 1, sensie is faster.",
        "",
        "| tool | what is timed | seconds | digit-angles/s | sensie CLI / tool | sensie library / tool |",
        "|---|---|---|---|---|---|",
    ]
    for name, key, what in tools:
        if key not in times:
            lines.append(f"| {name} | skipped: no checkout given (`bench/run.sh --sensie-original PATH`) | | | | |")
            continue
        s = times[key]
        lines.append(f"| {name} | {what} | {s:.3f} | {images / s:.0f} | {times['cli'] / s:.2f} | {times['library'] / s:.2f} |")
    lines += [
        "",
        "Same work: the mean correct-class probability per angle of sensie's CLI and library and of the plain loop "
        f"(which rotates with `scipy.ndimage.rotate(order=1, mode='grid-constant', reshape=False)`, sensie's bilinear rotation) "
        f"agree within {TOLERANCE} (largest difference: library {checks['library']:.1g}, plain loop {checks['plain']:.1g}).",
        "Beyond the forward passes, sensie's sweep rotates every digit at every angle (bilinear, each worker rotating",
        "the batches it runs), which the first plain loop does not time and the second does.",
    ]
    if "original" in checks:
        lines += [
            f"The original Sensie agrees within {TOLERANCE} at 0, 90 and 180 degrees (largest difference {checks['original']:.1g});",
            "at the other angles its notebook's rotation (`scipy.ndimage.rotate`, cubic spline, the image enlarged and its middle",
            f"cut out) interpolates differently from sensie's bilinear one, and the means differ by up to {checks['original_elsewhere']:.2f}.",
        ]
    lines.append("")
    out.write_text("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensie", required=True, help="the sensie CLI binary")
    ap.add_argument("--probe-bench", required=True, help="the probe bench binary")
    ap.add_argument("--sensie-original", help="a checkout of github.com/coljac/sensie (its row is skipped without one)")
    ap.add_argument("--out", required=True, help="the markdown section to write")
    args = ap.parse_args()
    for path in (args.sensie, args.probe_bench):
        if not os.access(path, os.X_OK):
            ap.error(f"not an executable: {path}")
    if args.sensie_original and not (Path(args.sensie_original) / "sensie/sensie.py").is_file():
        ap.error(f"--sensie-original {args.sensie_original}: no sensie/sensie.py there (a checkout of coljac/sensie?)")
    x, y = np.load(X), np.load(Y)
    load = load_average()
    times, checks = sweep_rows(args, x, y)
    load_after = load_average()
    print(json.dumps({"times": times, "checks": checks}), flush=True)
    write(args, len(y), times, checks, load, load_after, Path(args.out))


if __name__ == "__main__":
    main()

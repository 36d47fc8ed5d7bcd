"""Python package benchmark: sensie driven from Python (crates/sensie-py) against the CLI and the
original Sensie, on the sweep of bench/sweep.py (the MNIST CNN, its 1000 held-out digits, rotation
at 19 angles from 0 to 180 degrees, batch 256, the same ONNX file):

- built-in rotation: `sensie.Probe.run` on the probe config that `sensie probe --config` runs,
  results and report.html written by both, against the CLI;
- a Python perturber: `Probe.predict_and_measure_perturbed` with the original Sensie's MNIST
  notebook perturber (scipy.ndimage.rotate, cubic spline, the middle 28 x 28 cut out), against
  the original Sensie running the same perturber with an onnxruntime predict function.

The tools run alternately for ROUNDS rounds and the medians are compared. Same work: the Python
package's results.json equals the CLI's, and its per-angle means with the notebook's perturber
equal the original Sensie's within TOLERANCE.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import sensie
from common import WORK, load_average, run
from sweep import ANGLES, BATCH, MODEL, TOLERANCE, X, Y, original_sensie, probabilities, rotate_like_notebook

ROUNDS = 3


def config(out: Path) -> dict:
    return {"model": str(MODEL), "out": str(out), "force": True, "batch_size": BATCH,
            "data": {"path": str(X), "labels": str(Y)}, "perturb": [{"name": "rotate", "values": "0:180:19"}]}


def toml(c: dict) -> str:
    return (f'model = "{c["model"]}"\nout = "{c["out"]}"\nforce = true\nbatch_size = {BATCH}\n\n'
            f'[data]\npath = "{X}"\nlabels = "{Y}"\n\n[[perturb]]\nname = "rotate"\nvalues = "0:180:19"\n')


def timed(f):
    start = time.perf_counter()
    value = f()
    return time.perf_counter() - start, value


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensie", required=True, help="the sensie CLI binary (release)")
    ap.add_argument("--sensie-original", help="a checkout of github.com/coljac/sensie (its row is skipped without one)")
    ap.add_argument("--out", required=True, help="the markdown section to write")
    args = ap.parse_args()
    x, y = np.load(X), np.load(Y)
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    original = original_sensie(Path(args.sensie_original)) if args.sensie_original else None
    WORK.mkdir(parents=True, exist_ok=True)
    cli_config = WORK / "python-cli.toml"
    cli_config.write_text(toml(config(WORK / "python-cli")))
    probe = sensie.Probe(sensie.Model(str(MODEL)), batch_size=BATCH, quiet=True)
    times = {"cli": [], "python": [], "perturber": [], "original": []}
    load = load_average()
    for _ in range(ROUNDS):
        times["cli"].append(run([args.sensie, "probe", "--config", cli_config, "--quiet"])[1])
        seconds, results = timed(lambda: probe.run(config(WORK / "python-api")))
        times["python"].append(seconds)
        seconds, mine = timed(lambda: probe.predict_and_measure_perturbed(x, y, rotate_like_notebook, p_values=ANGLES))
        times["perturber"].append(seconds)
        if original:
            seconds, theirs = timed(lambda: original(session, x, y))
            times["original"].append(seconds)
    load_after = load_average()
    cli_json = json.loads((WORK / "python-cli" / "results.json").read_text())
    ours = json.loads(results.to_json())
    for d in (cli_json, ours):
        d["model"].pop("path"), d["data"].pop("path")
    if ours != cli_json:
        raise SystemExit("bench: the Python package's results differ from the CLI's: they did not do the same work")
    means = [level["mean_score"] for level in mine.levels]
    worst = max(abs(a - b) for a, b in zip(means, theirs)) if original else None
    if worst is not None and worst > TOLERANCE:
        raise SystemExit(f"bench: sensie with the notebook's perturber and the original Sensie differ by {worst:.2g}")
    med = {k: statistics.median(v) for k, v in times.items() if v}
    images = len(y) * len(ANGLES)
    rows = [
        ("sensie CLI", "cli", "`sensie probe --config`, built-in rotate: sweep, statistics, results and report.html"),
        ("sensie from Python", "python", "`sensie.Probe.run` on the same config: the same work, the same results.json"),
        ("sensie from Python, Python perturber", "perturber", "`predict_and_measure_perturbed` with the notebook's scipy perturber"),
        ("original Sensie", "original", "`predict_and_measure_perturbed`, the same perturber, onnxruntime predict function"),
    ]
    lines = ["## Python package", "",
             f"The sweep above ({len(y)} digits, {len(ANGLES)} angles, batch {BATCH}) driven from Python; medians of {ROUNDS} "
             f"rounds, the tools run alternately. Load average before: {load}; after: {load_after}.", "",
             "| tool | what is timed | seconds | digit-angles/s |", "|---|---|---|---|"]
    for name, key, what in rows:
        if key in med:
            lines.append(f"| {name} | {what} | {med[key]:.3f} | {images / med[key]:.0f} |")
        else:
            lines.append(f"| {name} | skipped: no checkout given (`--sensie-original PATH`) | | |")
    lines += ["", f"Built-in perturbation: sensie from Python runs at {med['cli'] / med['python']:.2f} x the CLI's throughput "
              "(its results.json equals the CLI's but for the model and data paths)."]
    if "original" in med:
        lines.append(f"Python perturber: sensie runs at {med['original'] / med['perturber']:.2f} x the original Sensie's throughput "
                     f"with the same perturber and ONNX model (per-angle means agree within {worst:.1g}).")
    lines.append("")
    Path(args.out).write_text("\n".join(lines))
    print(json.dumps({"times": med, "worst": worst}))


if __name__ == "__main__":
    main()

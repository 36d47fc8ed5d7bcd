"""Scale and shard benchmark: the MNIST rotation sweep (19 angles, 0 to 180 degrees by 10, batch
256) at 1x, 10x and 100x the 1000 held-out digits (tiled), and a run cut into 100 shards and merged.

- Scale: the probe bench binary (`probe::run_plan`, the library sweep and its statistics with 2000
  bootstrap replicates), one process per size: seconds, microseconds per digit-angle and resident
  memory (before the sweep and at its peak).
- Shards: `sensie probe --shard K/100` for every K (one process each, one after the other, as 100
  nodes would run them side by side), then `sensie merge` of the 100 parts, timed with its peak
  memory, and checked against one unsharded `sensie probe` of the same run: results.json equal byte
  for byte.
- The projection for 10 million digits on 100 nodes, computed from these measurements (stated as
  such in the section).

bench/run.sh --smoke runs the shards and merge at a tiny size without this script (CI has no NumPy
at that point).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np

from common import ROOT, WORK, load_average, run, run_json

MODEL = ROOT / "examples/mnist/mnist_cnn.onnx"
X = ROOT / "examples/mnist/data/test_x.npy"
Y = ROOT / "examples/mnist/data/test_y.npy"
SWEEP = "rotate=0:180:19"
LEVELS = 19
BATCH = 256
DIGITS = 1000


def timed(cmd) -> tuple[float, float]:
    """Runs `cmd` under /usr/bin/time: its wall-clock seconds and peak resident MiB."""
    done, seconds = run(["/usr/bin/time", "-f", "%M", *cmd])
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024


def tiled(n: int, folder: Path) -> tuple[Path, Path]:
    """The first n digits of the held-out set, repeated as needed, as npy files in `folder`."""
    x, y = np.load(X), np.load(Y)
    pick = np.arange(n) % len(y)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "x.npy", x[pick])
    np.save(folder / "y.npy", y[pick])
    return folder / "x.npy", folder / "y.npy"


def scale_rows(args, sizes):
    return [run_json([args.probe_bench, MODEL, X, Y, n, SWEEP, BATCH, 1]) for n in sizes]


def shard_rows(args, n, shards):
    """Shards of a run on n digits, their merge, and the unsharded run, each in its own process."""
    work = WORK / "shard"
    shutil.rmtree(work, ignore_errors=True)
    x, y = tiled(n, work / "data")
    flags = ["--model", MODEL, "--data", x, "--labels", y, "--perturb", SWEEP, "--batch-size", BATCH, "--quiet"]
    single_seconds, single_peak = timed([args.sensie, "probe", *flags, "--out", work / "single"])
    shard_seconds, shard_peaks = [], []
    for k in range(shards):
        seconds, peak = timed([args.sensie, "probe", *flags, "--shard", f"{k}/{shards}", "--out", work / f"part-{k}"])
        shard_seconds.append(seconds)
        shard_peaks.append(peak)
    parts = [work / f"part-{k}" for k in range(shards)]
    merge_seconds, merge_peak = timed([args.sensie, "merge", *parts, "--out", work / "merged"])
    same = (work / "single/results.json").read_bytes() == (work / "merged/results.json").read_bytes()
    if not same:
        raise SystemExit("bench: the merged results.json differs from the unsharded run's")
    scores_mib = sum(f.stat().st_size for f in (work / "merged/scores").glob("*.npy")) / 2**20
    row = {
        "digits": n, "shards": shards, "single_seconds": single_seconds, "single_peak_mib": single_peak,
        "shard_seconds_max": max(shard_seconds), "shard_seconds_median": sorted(shard_seconds)[shards // 2],
        "shard_peak_mib": max(shard_peaks), "merge_seconds": merge_seconds, "merge_peak_mib": merge_peak,
        "scores_mib": scores_mib, "data_mib": x.stat().st_size / 2**20,
    }
    shutil.rmtree(work, ignore_errors=True)
    return row


def write(scale, shard, load, load_after, out: Path):
    lines = [
        "## Beyond one machine: scale, shards and merge",
        "",
        f"MNIST CNN, rotation at {LEVELS} angles (0 to 180 degrees by 10), batch {BATCH}, the held-out digits tiled.",
        f"Load average before: {load}; after: {load_after}.",
        "",
        "The library sweep with its statistics (2000 bootstrap replicates), one process per size. Memory in MiB:",
        "the data set, the resident size before the sweep (data, model, ONNX Runtime) and its peak.",
        "",
        "| digits | seconds | microseconds per digit-angle | data | resident before | peak | peak - before |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in scale:
        per = 1e6 * r["seconds"] / (r["images"] * r["levels"])
        lines.append(f"| {r['images']} | {r['seconds']:.2f} | {per:.2f} | {r['data_mib']:.1f} | {r['rss_before_mib']:.1f} | "
                     f"{r['peak_rss_mib']:.1f} | {r['peak_rss_mib'] - r['rss_before_mib']:.1f} |")
    first, last = scale[0], scale[-1]
    grown = (last["peak_rss_mib"] - last["rss_before_mib"]) - (first["peak_rss_mib"] - first["rss_before_mib"])
    cells = (last["images"] - first["images"]) * last["levels"]
    lines += [
        "",
        f"From {first['images']} to {last['images']} digits the sweep's working memory grows by {grown:.1f} MiB for {cells} more",
        f"digit-angles ({2**20 * grown / cells:.1f} bytes each): the per-example scores (9 bytes per digit-angle for a",
        "classifier) and the bootstrap's blocks of draw counts; images are never held per level.",
        "",
        f"A run on {shard['digits']} digits cut into {shard['shards']} shards (`sensie probe --shard K/{shard['shards']}`, one process",
        "each, run one after the other here) and merged (`sensie merge`), against the same run in one process; the merged",
        "results.json equals the unsharded one byte for byte. Wall-clock seconds and peak resident MiB (`/usr/bin/time`).",
        "",
        "| run | seconds | peak MiB |",
        "|---|---|---|",
        f"| one process, {shard['digits']} digits | {shard['single_seconds']:.2f} | {shard['single_peak_mib']:.0f} |",
        f"| one shard (slowest; median {shard['shard_seconds_median']:.2f} s) | {shard['shard_seconds_max']:.2f} | {shard['shard_peak_mib']:.0f} |",
        f"| merge of {shard['shards']} parts | {shard['merge_seconds']:.2f} | {shard['merge_peak_mib']:.0f} |",
        "",
    ]
    lines += projection(last, shard)
    out.write_text("\n".join(lines) + "\n")


def projection(last, shard) -> list[str]:
    """10 million digits on 100 nodes like this machine, from the measurements above."""
    total, nodes = 10_000_000, 100
    per_node = total // nodes
    per_cell = last["seconds"] / (last["images"] * last["levels"])
    node_seconds = per_cell * per_node * LEVELS
    data_gib = total * shard["data_mib"] / shard["digits"] / 1024
    scores_gib = total * shard["scores_mib"] / shard["digits"] / 1024
    merge_seconds = shard["merge_seconds"] * total / shard["digits"]
    return [
        f"Projection, computed from these measurements (not measured): {total:,} digits x {LEVELS} angles on {nodes} nodes",
        f"like this one. Each node's shard holds {per_node:,} digits: at {1e6 * per_cell:.2f} microseconds per digit-angle",
        f"(the {last['images']}-digit row) its sweep takes about {duration(node_seconds)}, with {per_node * LEVELS * 9 / 2**20:.0f} MiB",
        f"of scores. Every shard and the merge read the whole data set ({data_gib:.0f} GiB of 28 x 28 digits as float32), which",
        f"sets each node's memory; the merged scores take {scores_gib:.1f} GiB. The merge, scaled linearly from the",
        f"{shard['digits']}-digit one ({shard['merge_seconds']:.2f} s: reading the parts, the data set and its fingerprint, the",
        f"statistics), would take about {duration(merge_seconds)}.",
    ]


def duration(seconds: float) -> str:
    """Seconds below two minutes, whole minutes above (a sub-minute sweep is not "0 minutes")."""
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensie", required=True, help="the sensie CLI binary")
    ap.add_argument("--probe-bench", required=True, help="the probe bench binary")
    ap.add_argument("--out", required=True, help="the markdown section to write")
    args = ap.parse_args()
    for path in (args.sensie, args.probe_bench):
        if not os.access(path, os.X_OK):
            ap.error(f"not an executable: {path}")
    sizes, shard_digits, shards = [DIGITS, 10 * DIGITS, 100 * DIGITS], 100 * DIGITS, 100
    load = load_average()
    scale = scale_rows(args, sizes)
    shard = shard_rows(args, shard_digits, shards)
    load_after = load_average()
    print(json.dumps({"scale": scale, "shard": shard}), flush=True)
    write(scale, shard, load, load_after, Path(args.out))


if __name__ == "__main__":
    main()

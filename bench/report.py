"""Puts BENCHMARKS.md together from the sections the bench scripts wrote (bench/work/*.md): a
header with the machine, the versions and the load average, the sections in order, and the exact
commands that ran (bench/work/commands.txt)."""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from common import COMMANDS, ROOT


def output(*cmd, cwd=ROOT) -> str:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.machine())
    kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{model}, {len(os.sched_getaffinity(0))} cores available to the run, {kib / 2**20:.1f} GiB memory"


def sensie_commit() -> str:
    commit = output("git", "rev-parse", "--short", "HEAD")
    dirty = output("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md")
    return commit + (" with uncommitted changes" if dirty else "")


def sensie_onnxruntime() -> str:
    """The ONNX Runtime library sensie loads (scripts/setup.sh puts it in .sensie/lib)."""
    libs = sorted((ROOT / ".sensie/lib").glob("libonnxruntime.so.*"))
    return f"ONNX Runtime {libs[0].name.removeprefix('libonnxruntime.so.')}" if libs else "ONNX Runtime from the system"


def original_commit(checkout: str | None) -> str:
    if not checkout:
        return "not given (its row is skipped)"
    return f"{output('git', 'rev-parse', '--short', 'HEAD', cwd=checkout)} (github.com/coljac/sensie)"


def commands(top: str) -> list[str]:
    """The commands in the order they first ran, with how often each ran."""
    counts = Counter(COMMANDS.read_text().splitlines())
    return [top] + [f"{c}   # x{counts[c]}" if counts[c] > 1 else c for c in counts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", nargs="+", required=True, help="the section files, in order")
    ap.add_argument("--load-before", required=True)
    ap.add_argument("--load-after", required=True)
    ap.add_argument("--command", required=True, help="the bench/run.sh command line")
    ap.add_argument("--sensie-original", help="the original Sensie's checkout, if given")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    packages = ", ".join(f"{p} {version(p)}" for p in ("onnxruntime", "torch", "captum", "numpy", "scipy", "pandas"))
    lines = [
        "# Benchmarks",
        "",
        "Written whole by `bench/run.sh` in one sitting; every figure below is from that run. Each section says what is",
        "timed and how; ratios are sensie's time (or memory) over the peer's: below 1, sensie is ahead.",
        "",
        f"- Machine: {machine()}.",
        f"- sensie {sensie_commit()}; {output('rustc', '--version')}; {sensie_onnxruntime()}.",
        f"- Python {platform.python_version()}: {packages}.",
        f"- Original Sensie: {original_commit(args.sensie_original)}.",
        f"- Load average (1, 5, 15 min) before the run: {args.load_before}; after: {args.load_after}. The machine is "
        "shared: the load beyond the run's own is other work.",
        "",
    ]
    for section in args.sections:
        lines.append(Path(section).read_text().rstrip() + "\n")
    lines += ["## Commands", "", "```"] + commands(args.command) + ["```", ""]
    Path(args.out).write_text("\n".join(lines))


if __name__ == "__main__":
    main()

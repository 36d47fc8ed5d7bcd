"""What the bench scripts share: running a sensie bench binary (and noting its exact command line
for BENCHMARKS.md), and reading a process's memory the way the bench binaries do."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench/work"
# bench/run.sh collects every command the scripts run here, for BENCHMARKS.md.
COMMANDS = WORK / "commands.txt"


def shown(cmd) -> str:
    """A command line as BENCHMARKS.md shows it: paths inside the repository made relative."""
    return " ".join(str(a).replace(f"{ROOT}/", "") for a in cmd)


def note_command(cmd) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    with COMMANDS.open("a") as f:
        f.write(shown(cmd) + "\n")


def run(cmd, **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    """Runs `cmd` and returns it with its wall-clock seconds; a failure stops the bench with its stderr."""
    note_command(cmd)
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in cmd], capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench: `{shown(cmd)}` failed with status {done.returncode}:\n{done.stderr.strip()}")
    return done, seconds


def run_json(cmd) -> dict:
    """Runs a bench binary (or script) and parses the JSON object on the last line it prints."""
    done, _ = run(cmd)
    return json.loads(done.stdout.strip().splitlines()[-1])


def status_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (resident peak) of this process in MiB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Sets VmHWM back to the current resident size, as the bench binaries do before a method."""
    Path("/proc/self/clear_refs").write_text("5")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


#!/usr/bin/env bash
# Installs the `sensie` Python package (crates/sensie-py, built by maturin)
# into a virtual environment, .sensie/venv by default ($SENSIE_VENV to
# choose another), with pandas, matplotlib and tqdm for notebooks.
# With --test it also installs what the Python tests need (pytest, nbclient,
# onnx, and torch for Model.from_torch; torch from PyPI is large, about 4 GB
# with its CUDA libraries, and is kept in the venv, so only the first run pays).
# Safe to run again: pip rebuilds the package only when its sources changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SENSIE_VENV:-$root/.sensie/venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || {
        apt-get update -qq && apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
    }
fi
# No pip cache: what is installed stays in the venv, and a cached copy of
# torch's wheels would take another 3 GB of disk.
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir)
extras=notebook
if [ "${1:-}" = "--test" ]; then
    extras=test
    # The version python/requirements.txt pins for the fixture scripts.
    "${pip[@]}" "torch==$(sed -n 's/^torch==//p' "$root/python/requirements.txt")"
fi
"${pip[@]}" "$root/crates/sensie-py[$extras,notebook]"
echo "setup: the sensie Python package is in $venv (activate: source $venv/bin/activate)" >&2

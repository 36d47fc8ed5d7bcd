#!/usr/bin/env bash
# Builds the lens example's data and model in one command:
#   1. python/setup.sh            (the pinned Python environment, python/.venv)
#   2. python/lens/simulate.py    -> python/.cache/lens/, examples/lens/data/
#   3. python/lens/train.py       -> examples/lens/lens_finder.onnx, model-card.json
#   4. python/lens/train_radius.py -> examples/lens/einstein_radius.onnx, einstein-radius-card.json
#   5. python/lens/make_cutouts.py -> examples/lens/data/cutouts/, cutouts-catalogue.csv
# A step whose outputs exist is skipped; --force reruns every step.
# Deterministic: a rerun with --force reproduces the simulated images bit for bit, and
# the model too with the same torch version and thread count (train.py uses 2).
#
# Usage: python/lens/make.sh [--force] [--workers N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$root/python/.venv/bin/python"
force=0
workers=2
while [ $# -gt 0 ]; do
    case "$1" in
        --force) force=1 ;;
        --workers) shift; workers="$1" ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "make.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

"$root/python/setup.sh"

data="$root/examples/lens/data"
if [ "$force" = 1 ] || [ ! -f "$root/python/.cache/lens/sim.npz" ] \
    || [ ! -f "$root/python/.cache/lens/metadata.csv" ] || [ ! -f "$data/test.npz" ] \
    || [ ! -f "$data/metadata.csv" ] || [ ! -d "$data/fits" ] || [ ! -d "$data/fits-bands" ]; then
    echo "== simulate"
    "$py" "$here/simulate.py" --workers "$workers"
    force=1   # new data: the model must be retrained
else
    echo "== simulate: outputs exist, skipped (--force to rerun)"
fi

if [ "$force" = 1 ] || [ ! -f "$root/examples/lens/lens_finder.onnx" ] \
    || [ ! -f "$root/examples/lens/model-card.json" ]; then
    echo "== train"
    "$py" "$here/train.py"
else
    echo "== train: outputs exist, skipped (--force to rerun)"
fi

if [ "$force" = 1 ] || [ ! -f "$root/examples/lens/einstein_radius.onnx" ] \
    || [ ! -f "$root/examples/lens/einstein-radius-card.json" ]; then
    echo "== train the Einstein-radius regressor"
    "$py" "$here/train_radius.py"
else
    echo "== train the Einstein-radius regressor: outputs exist, skipped (--force to rerun)"
fi

if [ "$force" = 1 ] || [ ! -d "$data/cutouts" ] || [ ! -f "$data/cutouts-catalogue.csv" ]; then
    echo "== survey-style cutouts and their catalogue"
    "$py" "$here/make_cutouts.py"
else
    echo "== survey-style cutouts: outputs exist, skipped (--force to rerun)"
fi

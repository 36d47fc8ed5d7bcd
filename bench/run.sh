#!/usr/bin/env bash
# Benchmarks sensie against its peers on this machine, in one sitting, and
# writes BENCHMARKS.md. The peers' Python packages go into bench/.venv.
#   bench/run.sh            the full run (about 5 minutes on 2 cores)
#   bench/run.sh --smoke    a one-minute run of the sensie side only (CI)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh --no-build
cargo build --release --quiet -p sensie --benches
bin="$(ls -t target/release/deps/engine-* | grep -v '\.d$' | head -n 1)"
explain_bin="$(ls -t target/release/deps/explain-* | grep -v '\.d$' | head -n 1)"
if [ "${1:-}" = "--smoke" ]; then
    "$bin" "$root/examples/mnist/mnist_cnn.onnx" 32 1
    "$explain_bin" "$root/examples/mnist/mnist_cnn.onnx" "$root/examples/mnist/data/test_x.npy" 32 1
    exit 0
fi
if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
mkdir -p bench/work
bench/.venv/bin/python bench/engine.py --sensie-bench "$bin" --out BENCHMARKS.md
bench/.venv/bin/python bench/explain.py --sensie-bench "$explain_bin" --out BENCHMARKS.md

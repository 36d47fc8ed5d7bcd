#!/usr/bin/env bash
# Runs sensie's tests on a fresh machine: installs ONNX Runtime's library if
# it is missing, runs every test of the workspace, then the benchmarks' smoke
# run (each bench binary at a tiny size, on the debug build just made). The
# Rust tests need no Python: the references they compare against are
# committed fixtures. Then the Python package (crates/sensie-py) is installed
# into .sensie/venv and its tests and example notebooks run with pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" --no-build
# The browser test (crates/sensie-cli/tests/browser.rs) loads a report in
# headless Chromium.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium
fi
cd "$root"
# One formatting (rustfmt.toml) and no lint warnings, in every Rust workspace
# of the repository: the library and CLI, the Python package, the fuzz targets.
cargo fmt --all --check
cargo fmt --all --check --manifest-path crates/sensie-py/Cargo.toml
cargo fmt --all --check --manifest-path fuzz/Cargo.toml
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --quiet 2>&1
# examples/slurm/ on a one-node Slurm cluster started here (about 15 s).
SENSIE="$root/target/debug/sensie" scripts/test-slurm.sh
bench/run.sh --smoke
scripts/setup-python.sh --test
SENSIE_CLI="$root/target/debug/sensie" "${SENSIE_VENV:-$root/.sensie/venv}/bin/python" -m pytest -q crates/sensie-py/tests

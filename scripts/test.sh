#!/usr/bin/env bash
# Runs sensie's tests on a fresh machine: installs ONNX Runtime's library if
# it is missing, then runs every test of the workspace. No Python is needed:
# the references the tests compare against are committed fixtures.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" --no-build
cd "$root"
cargo test --workspace --quiet 2>&1

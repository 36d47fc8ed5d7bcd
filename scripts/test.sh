#!/usr/bin/env bash
# Runs sensie's tests on a fresh machine: installs ONNX Runtime's library if
# it is missing, runs every test of the workspace, then the benchmarks' smoke
# run (each bench binary at a tiny size, on the debug build just made). No
# Python is needed: the references the tests compare against are committed
# fixtures.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh" --no-build
# The browser test (crates/sensie-cli/tests/browser.rs) loads a report in
# headless Chromium.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium
fi
cd "$root"
cargo test --workspace --quiet 2>&1
bench/run.sh --smoke

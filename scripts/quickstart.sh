#!/usr/bin/env bash
# Sets sensie up on a fresh machine, then probes the bundled MNIST model on its
# 1000 held-out digits (rotation 0-180 degrees, blur, occlusion, classes) and
# writes out/mnist/report.html.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
target/release/sensie probe --config examples/mnist/probe.toml
echo "open $root/out/mnist/report.html"

#!/usr/bin/env bash
# Sets sensie up on a fresh machine and runs it on the bundled MNIST model and
# held-out digits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
sensie="$root/target/release/sensie"
out="$root/out/mnist"
mkdir -p "$out"
"$sensie" inspect --model "$root/examples/mnist/mnist_cnn.onnx"
"$sensie" predict --model "$root/examples/mnist/mnist_cnn.onnx" --data "$root/examples/mnist/data/test_x.npy" --out "$out/predictions.npy"

#!/usr/bin/env bash
# Regenerates every fixture that the Rust tests compare against. Deterministic; runs
# offline once python/.venv exists (setup.sh installs it from PyPI).
#
#   1. python/setup.sh                     the pinned Python environment
#   2. python/train_mnist.py               only if examples/mnist/ outputs are missing
#   3. python/make_engine_fixtures.py      crates/sensie/tests/data/engine/<case>/
#      python/make_engine_op_fixtures.py   crates/sensie/tests/data/engine_ops/ (single ops:
#                                          float64 Cast, Where, strided Slice, reflect/edge/wrap Pad)
#   4. python/make_explain_fixtures.py     crates/sensie/tests/data/explain/ (Captum references;
#                                          reads the engine fixture nhwc_tf2onnx)
#   5. python/make_lrp_fixtures.py         crates/sensie/tests/data/explain/lrp.npz, resnet_bn.onnx
#                                          (zennit LRP, scipy blur-perturbation saliency)
#   6. python/make_nhwc_bias_fixture.py    crates/sensie/tests/data/explain/nhwc_bias.* (Grad-CAM
#                                          at a channels-last Relu behind a bias Add, PyTorch)
#   7. python/copy_onnx_backend_data.py    crates/sensie/tests/data/onnx-backend/
#   8. python/make_survey_fixtures.py      crates/sensie/tests/data/survey/ (astropy-written
#                                          survey cutouts and astropy's reading of them)
#   9. python/make_compressed_fixtures.py  crates/sensie/tests/data/compressed/ (one image
#                                          tile-compressed by each of cfitsio's coders)
#
# Usage: python/make-fixtures.sh [engine case ...]   (no arguments: every case)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
"$here/setup.sh"
py="$here/.venv/bin/python"
mnist="$root/examples/mnist"
if [ ! -f "$mnist/mnist_cnn.onnx" ] || [ ! -f "$mnist/data/test_x.npy" ] \
    || [ ! -f "$mnist/data/test_y.npy" ] || [ ! -f "$mnist/model-card.json" ]; then
    "$py" "$here/train_mnist.py"
fi
"$py" "$here/make_engine_fixtures.py" "$@"
"$py" "$here/make_engine_op_fixtures.py"
"$py" "$here/make_explain_fixtures.py"
"$py" "$here/make_lrp_fixtures.py"
"$py" "$here/make_nhwc_bias_fixture.py"
"$py" "$here/copy_onnx_backend_data.py"
"$py" "$here/make_survey_fixtures.py"
"$py" "$here/make_compressed_fixtures.py"

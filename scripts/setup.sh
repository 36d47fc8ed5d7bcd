#!/usr/bin/env bash
# Sets up what sensie needs on a fresh machine and builds it:
#   - ONNX Runtime's shared library, taken from the onnxruntime wheel on PyPI
#     into .sensie/lib/ (sensie finds it there without environment variables);
#   - DejaVu fonts (Debian's fonts-dejavu-core) for PNG charts, when apt-get
#     can install them; without them charts are still written as SVG;
#   - the release build of the `sensie` binary (target/release/sensie);
#   - the `sensie` Python package in .sensie/venv (scripts/setup-python.sh).
# Safe to run again: what is already there is kept.
# With --no-build nothing is built (scripts/test.sh uses this).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ort_version=1.32.0
libdir="$root/.sensie/lib"

if [ ! -f "$libdir/libonnxruntime.so" ]; then
    command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-pip; }
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    echo "setup: fetching the onnxruntime $ort_version wheel for its shared library" >&2
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        "onnxruntime==$ort_version" -d "$tmp"
    mkdir -p "$libdir"
    python3 - "$tmp" "$libdir" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, libdir = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "onnxruntime-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    libs = [n for n in z.namelist() if os.path.basename(n).startswith("libonnxruntime") and ".so" in n]
    for name in libs:
        with z.open(name) as src, open(os.path.join(libdir, os.path.basename(name)), "wb") as dst:
            shutil.copyfileobj(src, dst)
main = [n for n in libs if os.path.basename(n).startswith("libonnxruntime.so")][0]
shutil.copyfile(os.path.join(libdir, os.path.basename(main)), os.path.join(libdir, "libonnxruntime.so"))
PY
fi

if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq fonts-dejavu-core
    else
        echo "setup: no DejaVu fonts and no root apt-get: PNG charts need a font (SVG charts do not)" >&2
    fi
fi

if [ "${1:-}" = "--no-build" ]; then
    exit 0
fi
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p sensie-cli
"$root/scripts/setup-python.sh"
echo "setup: ready: $root/target/release/sensie (ONNX Runtime in $libdir)" >&2

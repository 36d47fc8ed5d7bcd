#!/usr/bin/env bash
# Fuzzes sensie's readers and parsers with cargo fuzz (libFuzzer), each target
# for a set time, one after another; not part of CI. Needs the nightly
# toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   scripts/fuzz.sh [SECONDS per target, default 180] [TARGET...]
#
# Seeds come from the repository's own models, arrays, FITS files, tables and
# configs; corpora and crashes stay under fuzz/corpus and fuzz/artifacts. Each
# target's last libFuzzer line (executions, corpus) is printed at the end.
# Every crash found belongs in crates/sensie-cli/tests/hostile.rs or a unit
# test as a regression test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-180}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx npy fits csv config spec)
cd "$root/fuzz"
export SENSIE_ORT_LIB="${SENSIE_ORT_LIB:-$root/.sensie/lib/libonnxruntime.so}"

seed() { # seed TARGET NAME FILE [PREFIX-BYTE]
    mkdir -p "corpus/$1"
    if [ -n "${4:-}" ]; then { printf "$4"; cat "$3"; } > "corpus/$1/$2"; else cp "$3" "corpus/$1/$2"; fi
}
seed onnx mnist "$root/examples/mnist/mnist_cnn.onnx"
for m in ops_zoo_a ops_zoo_b ops_zoo_c nhwc_tf2onnx; do seed onnx "$m" "$root/crates/sensie/tests/data/engine/$m/model.onnx"; done
seed npy labels "$root/examples/mnist/data/test_y.npy" '\x00'
# A small .npz (the labels as both x and y), made with Python's zipfile.
python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED); d = open(sys.argv[1], 'rb').read(); z.writestr('x.npy', d); z.writestr('y.npy', d)" \
    "$root/examples/mnist/data/test_y.npy" corpus.npz.tmp
seed npy npz corpus.npz.tmp '\x01' && rm corpus.npz.tmp
for f in arange m13 m13_rice; do seed fits "$f" "$root/crates/sensie/tests/data/probe/fits/$f.fits"; done
head -c 3000 "$root/examples/lens/data/metadata.csv" > corpus.csv.tmp && mkdir -p corpus/csv && mv corpus.csv.tmp corpus/csv/lens
seed config mnist "$root/examples/mnist/probe.toml"
seed config lens "$root/examples/lens/probe.toml"
mkdir -p corpus/spec
printf 'rotate=0:180:7' > corpus/spec/rotate
printf 'psf(profile=moffat,beta=2.5)=0,1,2' > corpus/spec/psf
printf 'seeing(current=1.5,pixel-scale=0.263)=1.5:3:4' > corpus/spec/seeing
printf 'magnitude=q10' > corpus/spec/bins

cargo +nightly fuzz build
summary=()
for t in "${targets[@]}"; do
    log="artifacts/$t.log"
    mkdir -p artifacts
    start=$(date +%s)
    status=0
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=1048576 -timeout=30 > "$log" 2>&1 || status=$?
    took=$(( $(date +%s) - start ))
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    crashes=$(ls "artifacts/$t" 2>/dev/null | grep -c -E '^(crash|oom|timeout|leak)-' || true)
    summary+=("$t: ${took}s, exit $status, crashes $crashes, last: $last")
done
printf '%s\n' "${summary[@]}"

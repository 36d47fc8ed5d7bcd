#!/usr/bin/env bash
# Benchmarks sensie against its peers on this machine, in one sitting, and
# writes BENCHMARKS.md whole. The peers' Python packages go into bench/.venv.
#   bench/run.sh [--sensie-original PATH]   the full run (about 20 minutes on 2 cores)
#   bench/run.sh --smoke                    a short run of the sensie side only (CI)
# PATH (or $SENSIE_ORIGINAL) is a checkout of github.com/coljac/sensie, the
# original Sensie, which is not on PyPI; without one its row is skipped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
usage="usage: bench/run.sh [--smoke] [--sensie-original PATH]"
smoke=false
original="${SENSIE_ORIGINAL:-}"
command_line="${SENSIE_ORIGINAL:+SENSIE_ORIGINAL=$SENSIE_ORIGINAL }bench/run.sh $*"
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=true ;;
        --sensie-original)
            [ $# -ge 2 ] || { echo "bench/run.sh: --sensie-original needs a PATH" >&2; echo "$usage" >&2; exit 2; }
            original="$2"
            shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        *) echo "bench/run.sh: unknown argument '$1'" >&2; echo "$usage" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$original" ]; then
    [ -f "$original/sensie/sensie.py" ] || { echo "bench/run.sh: $original is not a checkout of coljac/sensie (no sensie/sensie.py)" >&2; exit 2; }
    original="$(cd "$original" && pwd)"
fi

scripts/setup.sh --no-build
# The smoke run takes the debug build that `cargo test` (scripts/test.sh)
# has just made, instead of a second, release build of the whole crate.
profile=(--release)
if $smoke; then profile=(); fi

# Builds and prints the paths of the executables cargo made, one a line.
build() {
    cargo build "${profile[@]}" --quiet --message-format=json "$@" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'
}
benches="$(build -p sensie --benches)"
bench() {
    grep "/$1-[0-9a-f]*$" <<<"$benches" || { echo "bench/run.sh: cargo built no '$1' bench binary" >&2; exit 1; }
}
engine="$(bench engine)"
explain="$(bench explain)"
probe="$(bench probe)"
perturbed="$(bench perturbed)"
sensie="$(build -p sensie-cli --bin sensie)"
mnist="$root/examples/mnist"

# Runs a bench binary; fails unless it succeeds and ends with a JSON object.
json_result() {
    echo "+ ${*//$root\//}" >&2
    "$@" | tail -n 1 | grep -q '^{.*}$' || { echo "bench/run.sh: no JSON result from: $*" >&2; exit 1; }
}

if $smoke; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    # Every bench binary at a tiny size, the probe one at two sizes as the
    # scale table runs it, and the CLI's sweep as the sweep table runs it.
    json_result "$engine" "$mnist/mnist_cnn.onnx" 32 0.2
    json_result "$explain" "$mnist/mnist_cnn.onnx" "$mnist/data/test_x.npy" 8 0.1 all
    json_result "$perturbed" "$mnist/data/test_x.npy" rotate=0:180:3 0 "$out/perturbed.npy"
    for n in 64 256; do
        json_result "$probe" "$mnist/mnist_cnn.onnx" "$mnist/data/test_x.npy" "$mnist/data/test_y.npy" $n rotate=0:180:3 32 1
    done
    "$sensie" probe --model "$mnist/mnist_cnn.onnx" --data "$mnist/data/test_x.npy" --labels "$mnist/data/test_y.npy" \
        --perturb rotate=0:180:3 --replicates 100 --quiet --out "$out/probe" >/dev/null
    # The same run as two shards and their merge (bench/shard.py's table at a tiny size).
    for k in 0 1; do
        "$sensie" probe --model "$mnist/mnist_cnn.onnx" --data "$mnist/data/test_x.npy" --labels "$mnist/data/test_y.npy" \
            --perturb rotate=0:180:3 --replicates 100 --quiet --shard "$k/2" --out "$out/part-$k" >/dev/null
    done
    "$sensie" merge "$out/part-0" "$out/part-1" --out "$out/merged" >/dev/null
    cmp "$out/probe/results.json" "$out/merged/results.json" || { echo "bench/run.sh: merged shards differ from one run" >&2; exit 1; }
    echo "bench/run.sh: smoke run passed" >&2
    exit 0
fi

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt ./crates/sensie-py
mkdir -p bench/work
rm -f bench/work/commands.txt
py=bench/.venv/bin/python
if awk '{ exit !($1 >= 1) }' /proc/loadavg; then
    echo "bench/run.sh: the machine is busy (load average $(cut -d' ' -f1-3 /proc/loadavg)): ratios will be noisy" >&2
fi
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
$py bench/engine.py --sensie-bench "$engine" --out bench/work/engine.md
$py bench/sweep.py --sensie "$sensie" --probe-bench "$probe" ${original:+--sensie-original "$original"} \
    --out bench/work/sweep.md
$py bench/perturbations.py --sensie "$sensie" --perturbed-bench "$perturbed" --probe-bench "$probe" \
    --out bench/work/perturbations.md
$py bench/explain.py --sensie-bench "$explain" --out bench/work/explain.md
$py bench/python_api.py --sensie "$sensie" ${original:+--sensie-original "$original"} --out bench/work/python.md
$py bench/shard.py --sensie "$sensie" --probe-bench "$probe" --out bench/work/shard.md
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
$py bench/report.py --sections bench/work/{engine,sweep,perturbations,explain,python,shard}.md --load-before "$load_before" \
    --load-after "$load_after" --command "$command_line" ${original:+--sensie-original "$original"} --out BENCHMARKS.md
echo "bench/run.sh: wrote BENCHMARKS.md" >&2

#!/bin/bash
# Submits a sensie probe run to Slurm as N shards and a merge:
#   examples/slurm/submit.sh CONFIG WORK N [sbatch options...]
# e.g. examples/slurm/submit.sh examples/mnist/probe.toml /scratch/$USER/mnist 8 --partition=short
# The job array (one shard per task) writes WORK/part-0 ... WORK/part-N-1,
# the merge job WORK/results; logs go to WORK/logs. Set SENSIE to the sensie
# binary if it is not on the PATH of the compute nodes. Prints the two job ids.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG WORK N [sbatch options...]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
config="$(realpath "$1")"
work="$(realpath -m "$2")"
shards="$3"
shift 3
mkdir -p "$work/logs"
array=$(sbatch --parsable "$@" --array="0-$((shards - 1))" \
    --output="$work/logs/shard-%a.out" \
    "$here/probe-shard.sbatch" "$config" "$work")
array="${array%%;*}"
merge=$(sbatch --parsable "$@" --dependency="afterok:$array" \
    --output="$work/logs/merge.out" \
    "$here/merge.sbatch" "$work" "$shards")
echo "$array ${merge%%;*}"

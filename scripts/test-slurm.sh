#!/usr/bin/env bash
# Runs examples/slurm/ for real on a one-node Slurm cluster started on this
# machine (slurmctld and slurmd on localhost, munge for authentication): the
# MNIST example's probe as a job array of 3 shards and a dependent merge job,
# whose results.json and results.csv must equal one process's byte for byte.
# Installs Debian's slurm-wlm and munge when missing (needs root). If the
# cluster cannot start or a job fails, the test fails and prints the logs.
#   scripts/test-slurm.sh            (SENSIE: the binary, default target/debug/sensie)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sensie="$(realpath "${SENSIE:-$root/target/debug/sensie}")"
[ -x "$sensie" ] || { echo "test-slurm: no sensie binary at $sensie (cargo build first)" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "test-slurm: slurm-wlm and munge are missing and only root can install them" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

work="$(mktemp -d)"
pids=()
munged_pid=""
logs() {
    for log in "$work"/*.log "$work"/run/logs/*.out /var/log/munge/munged.log; do
        [ -f "$log" ] && { echo "---- $log" >&2; tail -n 40 "$log" >&2; }
    done
    return 0
}
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$munged_pid" ]; then kill "$munged_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap stop EXIT
fail() { echo "test-slurm: $*" >&2; logs; exit 1; }

# munge: one daemon per machine; a running one is used as it is.
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /etc/munge /var/run/munge /var/log/munge /var/lib/munge
    if [ ! -s /etc/munge/munge.key ]; then
        head -c 1024 /dev/urandom >/etc/munge/munge.key
    fi
    chown -R munge:munge /etc/munge /var/run/munge /var/log/munge /var/lib/munge
    chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
    munged_pid="$(cat /var/run/munge/munged.pid)"
    munge -n </dev/null | unmunge >/dev/null || fail "munge does not authenticate"
fi

host="$(hostname -s)"
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=sensie-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
setsid slurmctld -D -i -f "$SLURM_CONF" >>"$work/slurmctld.log" 2>&1 &
pids+=($!)
setsid slurmd -D -f "$SLURM_CONF" >>"$work/slurmd.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
    sinfo -h -o %t 2>/dev/null | grep -q '^idle' && break
    sleep 0.5
done
sinfo -h -o %t 2>/dev/null | grep -q '^idle' || fail "the one-node cluster did not come up (sinfo: $(sinfo 2>&1 | tr '\n' ' '))"

# The same run in one process and as 3 shards on the cluster.
config="$root/examples/mnist/probe.toml"
"$sensie" probe --config "$config" --out "$work/single" --quiet >/dev/null
read -r array merge < <(SENSIE="$sensie" "$root/examples/slurm/submit.sh" "$config" "$work/run" 3)
for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] || fail "jobs $array and $merge did not finish in 5 minutes"
for file in results.json results.csv; do
    [ -f "$work/run/results/$file" ] || fail "the merge job wrote no $file"
    cmp "$work/single/$file" "$work/run/results/$file" || fail "$file of the Slurm run differs from one process's"
done
echo "test-slurm: 3 shards and a merge on Slurm gave one process's results.json and results.csv"

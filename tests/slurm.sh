#!/usr/bin/env bash
# The README's Slurm array recipe, run for real on a single-node Slurm on
# this machine: a generated corpus of incidents (healthy, blackholed, one
# truncated capture, one file that is no capture), the array job, and the
# check that its shards, concatenated and sorted by id, equal one plain
# `wgtrace batch` run over the same corpus.
#
#   bash tests/slurm.sh [WGTRACE_BINARY] [GEN_PAIR_BINARY]
#
# Skips (exit 0, saying so) where Slurm is not installed; CI does not
# install it. Where the Slurm commands exist but no cluster answers and the
# script runs as root, it starts a private one (munged, slurmctld, slurmd on
# localhost, from a minimal slurm.conf in a temporary directory) and stops it
# afterwards. On Debian: apt-get install -y slurm-wlm munge.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
wgtrace=${1:-$target/release/wgtrace}
gen_pair=${2:-$target/release/examples/gen_pair}

for cmd in sbatch sinfo slurmctld slurmd; do
    if ! command -v "$cmd" > /dev/null; then
        echo "slurm.sh: skipped: Slurm is not installed ($cmd not found)"
        exit 0
    fi
done
[[ -x $wgtrace && -x $gen_pair ]] || {
    echo "slurm.sh: build first: cargo build --release --bin wgtrace --example gen_pair" >&2
    exit 2
}
wgtrace=$(realpath "$wgtrace")
gen_pair=$(realpath "$gen_pair")

work=$(mktemp -d /tmp/wgtrace-slurm.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
}
trap cleanup EXIT

# A private single-node cluster, unless one already answers.
if ! sinfo > /dev/null 2>&1; then
    if [[ $(id -u) != 0 ]]; then
        echo "slurm.sh: skipped: no Slurm cluster answers and starting one needs root"
        exit 0
    fi
    mkdir -p "$work/slurm/state" "$work/slurm/spool" /run/munge
    chown munge:munge /run/munge
    if ! pgrep -u munge -x munged > /dev/null; then
        runuser -u munge -- /usr/sbin/munged
    fi
    cpus=$(nproc)
    cat > "$work/slurm/slurm.conf" <<CONF
ClusterName=wgtrace
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/slurm/state
SlurmdSpoolDir=$work/slurm/spool
SlurmctldPidFile=$work/slurm/slurmctld.pid
SlurmdPidFile=$work/slurm/slurmd.pid
SlurmctldLogFile=$work/slurm/slurmctld.log
SlurmdLogFile=$work/slurm/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$work/slurm/slurm.conf
    slurmctld -D -f "$SLURM_CONF" > "$work/slurm/slurmctld.out" 2>&1 &
    pids+=($!)
    slurmd -D -N localhost -f "$SLURM_CONF" > "$work/slurm/slurmd.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 60); do
        sinfo -h -o %T 2> /dev/null | grep -qx idle && break
        sleep 1
    done
    sinfo -h -o %T | grep -qx idle || {
        echo "slurm.sh: the private cluster did not come up; logs in $work/slurm" >&2
        exit 2
    }
fi
sinfo

# The corpus: 11 incidents.
inc=$work/incidents
mkdir -p "$inc" "$work/out"
for i in $(seq 1 8); do
    # Every third incident healthy (no blackhole, no loss), the others blackholed.
    if (( i % 3 == 0 )); then threshold=0 loss=0; else threshold=$(( 1280 + 16 * i )) loss=0.001; fi
    "$gen_pair" "$inc/gen-$(printf %02d "$i")" --packets 4000 --seed "$i" \
        --threshold "$threshold" --loss "$loss" --offset-ms $(( i * 100 )) > /dev/null
    rm -f "$inc/gen-$(printf %02d "$i")/truth.json"
done
mkdir -p "$inc/recorded-mtu-blackhole" "$inc/broken-cut" "$inc/broken-not-a-capture"
cp testdata/mtu-blackhole/vps.pcap testdata/mtu-blackhole/laptop.pcap "$inc/recorded-mtu-blackhole/"
head -c 30000 "$inc/gen-03/vps.pcap" > "$inc/broken-cut/vps.pcap"
cp "$inc/gen-03/laptop.pcap" "$inc/broken-cut/"
head -c 4096 /dev/urandom > "$inc/broken-not-a-capture/vps.pcap"
cp "$inc/gen-03/laptop.pcap" "$inc/broken-not-a-capture/"
echo "incidents: $(find "$inc" -mindepth 1 -maxdepth 1 -type d | wc -l)"

# The README's array job, three shards.
cat > "$work/wgtrace.sbatch" <<JOB
#!/bin/sh
#SBATCH --array=0-2
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/out/slurm-%A_%a.log
wgtrace batch $inc -o $work/out/part-\$SLURM_ARRAY_TASK_ID.jsonl --resume
JOB
export PATH=$(dirname "$wgtrace"):$PATH
echo "+ sbatch --wait $work/wgtrace.sbatch"
sbatch --wait "$work/wgtrace.sbatch" || true  # exit 2: the broken incidents
for f in "$work"/out/slurm-*.log; do echo "== $(basename "$f")"; cat "$f"; done

echo "shard sizes: $(for i in 0 1 2; do wc -l < "$work/out/part-$i.jsonl"; done | tr '\n' ' ')"
cat "$work"/out/part-*.jsonl | jq -c -s 'sort_by(.id)[]' > "$work/merged.jsonl"
"$wgtrace" batch "$inc" -o "$work/plain.jsonl" 2> /dev/null || true
jq -c . "$work/plain.jsonl" > "$work/plain.norm.jsonl"
jq -r '[.id, .verdict, (.kinds | join(","))] | @tsv' "$work/merged.jsonl"
if cmp -s "$work/merged.jsonl" "$work/plain.norm.jsonl"; then
    echo "slurm.sh: OK: the merged shards equal the plain run ($(wc -l < "$work/merged.jsonl") incidents)"
else
    echo "slurm.sh: FAIL: the merged shards differ from the plain run" >&2
    diff <(jq -r .id "$work/merged.jsonl") <(jq -r .id "$work/plain.norm.jsonl") >&2 || true
    exit 1
fi
rm -rf "$work"

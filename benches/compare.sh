#!/usr/bin/env bash
# Times wgtrace against the floor (cat) and against what users do by hand
# (tshark), on generated capture pairs of three sizes, with hyperfine.
#
#   bash benches/compare.sh [WORKDIR]        (default /tmp/wgtrace-bench)
#
# Needs hyperfine (apt-get install hyperfine); tshark is timed when installed.
# Sizes: SIZES="300000 600000 1200000" transport messages (the largest gives a
# ~1 GiB vps.pcap). Cold-cache runs need root (they drop the page cache).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/wgtrace-bench}
sizes=${SIZES:-"300000 600000 1200000"}
mkdir -p "$work"
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet --bin wgtrace --example gen_pair --example alloc_peak
bin=$PWD/target/release/wgtrace

for n in $sizes; do
    dir="$work/pair-$n"
    [[ -f $dir/vps.pcap ]] || ./target/release/examples/gen_pair "$dir" --packets "$n" --seed 11 >/dev/null
    a=$dir/vps.pcap b=$dir/laptop.pcap
    cat "$a" "$b" >/dev/null # warm the page cache
    hyperfine -N -i --warmup 2 --min-runs 5 --export-json "$dir/warm.json" \
        -n cat "cat $a $b" \
        -n wgtrace "$bin analyze $a $b -f json" \
        -n wgtrace-1-thread "$bin --threads 1 analyze $a $b -f json" >/dev/null
    ./target/release/examples/alloc_peak "$a" "$b" > "$dir/alloc.txt"
done

largest=$(echo $sizes | tr ' ' '\n' | tail -1)
dir="$work/pair-$largest"
a=$dir/vps.pcap b=$dir/laptop.pcap
if command -v tshark >/dev/null; then
    hyperfine -N --runs 2 --export-json "$dir/tshark.json" \
        -n tshark "sh -c 'tshark -r $a -T fields -e wg.receiver -e wg.counter >/dev/null; tshark -r $b -T fields -e wg.receiver -e wg.counter >/dev/null'" >/dev/null
fi
if [[ -w /proc/sys/vm/drop_caches ]]; then
    hyperfine -i --runs 3 --prepare 'sync; echo 3 > /proc/sys/vm/drop_caches' --export-json "$dir/cold.json" \
        -n cat-cold "cat $a $b" \
        -n wgtrace-cold "$bin analyze $a $b -f json" >/dev/null
fi

python3 - "$work" $sizes <<'PY'
import json, os, sys
work, sizes = sys.argv[1], sys.argv[2:]
def mean(path, name):
    if not os.path.exists(path): return None
    for r in json.load(open(path))["results"]:
        if r["command"] == name: return r["mean"]
print("| transport msgs | bytes (both files) | packets | cat | wgtrace | 1 thread | wgtrace / cat | 1 thread / 2 | heap bytes/packet |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sizes:
    d = f"{work}/pair-{n}"
    size = os.path.getsize(f"{d}/vps.pcap") + os.path.getsize(f"{d}/laptop.pcap")
    c, w, w1 = (mean(f"{d}/warm.json", k) for k in ("cat", "wgtrace", "wgtrace-1-thread"))
    alloc = open(f"{d}/alloc.txt").read().split()
    packets, per = alloc[1], alloc[-2]
    print(f"| {n} | {size/2**20:.0f} MiB | {packets} | {c:.3f} s | {w:.3f} s | {w1:.3f} s | {w/c:.1f}x | {w1/w:.2f}x | {per} |")
d = f"{work}/pair-{sizes[-1]}"
w = mean(f"{d}/warm.json", "wgtrace")
t = mean(f"{d}/tshark.json", "tshark")
if t: print(f"\ntshark route on the largest pair: {t:.1f} s = {t/w:.0f}x wgtrace")
cc, wc = mean(f"{d}/cold.json", "cat-cold"), mean(f"{d}/cold.json", "wgtrace-cold")
if cc: print(f"cold cache: cat {cc:.2f} s, wgtrace {wc:.2f} s = {wc/cc:.2f}x cat")
PY

#!/usr/bin/env bash
# Builds a directory of incidents for `wgtrace batch`: one sub-directory per
# incident, from the recorded pairs in testdata/ and from the synthetic
# generator (examples/gen_pair.rs) with varied seeds, thresholds and loss,
# plus one incident whose capture is damaged.
#
#   bash benches/batch_corpus.sh OUT_DIR [GENERATED=48] [PACKETS=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: batch_corpus.sh OUT_DIR [GENERATED] [PACKETS]}
generated=${2:-48}
packets=${3:-20000}
mkdir -p "$out"
cargo build --release --quiet --example gen_pair

for dir in testdata/*/; do
    name=$(basename "$dir")
    ends=()
    for f in "$dir"vps.pcap* "$dir"laptop.pcap* "$dir"phone.pcap "$dir"pi.pcap; do
        [[ -f $f && $f != *.gz && $f != *.tsv ]] && ends+=("$f")
    done
    [[ ${#ends[@]} -ge 1 ]] || continue
    mkdir -p "$out/recorded-$name"
    for f in "${ends[@]}"; do cp "$f" "$out/recorded-$name/"; done
done

for i in $(seq 1 "$generated"); do
    # Every third incident healthy, the others a blackhole at a size from the grid.
    if (( i % 3 == 0 )); then threshold=0; else threshold=$(( 1280 + 16 * (i % 11) )); fi
    loss=$(printf '0.00%d' $(( i % 5 )))
    ./target/release/examples/gen_pair "$out/generated-$(printf %03d "$i")" \
        --packets "$packets" --seed "$i" --threshold "$threshold" --loss "$loss" \
        --offset-ms $(( (i * 137) % 5000 - 2500 ))
done

mkdir -p "$out/damaged-cut"
head -c 30000 testdata/healthy/vps.pcap > "$out/damaged-cut/vps.pcap"
cp testdata/healthy/laptop.pcap "$out/damaged-cut/"
echo "incidents: $(find "$out" -mindepth 1 -maxdepth 1 -type d | wc -l) in $out"

#!/usr/bin/env bash
# Regenerates the broken-file corpus from two recorded captures (reproducible:
# same inputs, same bytes out). Each file is named for its damage; the test for
# each is in tests/broken_files.rs, which also states the expected message.
#
#   testdata/broken/make.sh [classic.pcap] [capture.pcapng]
#
# Defaults: ../healthy/vps.pcap (little-endian classic pcap, Ethernet, snaplen
# 262144) and ../pmtud-working/vps.pcapng (little-endian pcapng: SHB, IDB, EPBs).
#
# Decided: a valid pcap header with no packets (header-only.pcap) is an empty
# capture, not damage: tcpdump writes exactly that when it saw no traffic, so
# `inspect` reports it with 0 packets and exit code 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pcap=${1:-$here/../healthy/vps.pcap}
pcapng=${2:-$here/../pmtud-working/vps.pcapng}
cd "$here"

# Little-endian 32-bit read/write at a byte offset.
le32() { od -An -tu1 -j "$2" -N4 "$1" | awk '{print $1 + 256*$2 + 65536*$3 + 16777216*$4}'; }
put32() {
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# Offset of classic pcap record number $2 (0-based) of file $1.
pcap_rec() { local off=24 i; for ((i = 0; i < $2; i++)); do off=$((off + 16 + $(le32 "$1" $((off + 8))))); done; echo $off; }
# Offset of pcapng block number $2 (0-based; block 0 is the section header).
ng_block() { local off=0 i; for ((i = 0; i < $2; i++)); do off=$((off + $(le32 "$1" $((off + 4))))); done; echo $off; }

# Not a capture at all.
: > empty.pcap
printf 'tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n' > text.pcap
{ printf '\x7fELF\x02\x01\x01\x00'; head -c 56 /dev/zero; } > elf.pcap
{ printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR'; head -c 17 /dev/zero; } > png.pcap

# Classic pcap.
head -c 24 "$pcap" > header-only.pcap
head -c 20 "$pcap" > header-cut.pcap
r20=$(pcap_rec "$pcap" 20)
head -c $((r20 + 16 + 30)) "$pcap" > cut-mid-record.pcap              # 20 packets, then 30 bytes of the 21st
head -c $((r20 + 16 + 60)) "$pcap" > caplen-over-snaplen.pcap
put32 caplen-over-snaplen.pcap $((r20 + 8)) $((1 << 20))              # 1 MiB > snaplen 262144
head -c $((r20 + 16 + 60)) "$pcap" > caplen-over-file.pcap
put32 caplen-over-file.pcap $((r20 + 8)) 60000                         # within snaplen, past the end

# pcapng: blocks 0 (SHB), 1 (IDB), then packets. Damage block 12.
b12=$(ng_block "$pcapng" 12)
b13=$(ng_block "$pcapng" 13)
for f in block-too-small block-too-big block-unaligned bad-interface-id; do
    head -c "$b13" "$pcapng" > $f.pcapng
done
put32 block-too-small.pcapng $((b12 + 4)) 8
put32 block-too-big.pcapng $((b12 + 4)) $((32 << 20))                  # > the 16 MiB limit
put32 block-unaligned.pcapng $((b12 + 4)) $((b13 - b12 + 2))
put32 bad-interface-id.pcapng $((b12 + 8)) 7                           # EPB interface id; only 0 exists

# gzip: the first 60000 bytes of the compressed capture (gzip -n: no name, no time).
gzip -9 -n -c "$pcap" > truncated.tmp.gz
head -c 60000 truncated.tmp.gz > truncated.pcap.gz
rm truncated.tmp.gz
# A gzip stream whose capture claims a 16 MiB record and ends 100 bytes later:
# the reader must not allocate for the claim (memory test).
{
    printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00'
    printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01'
    head -c 100 /dev/zero
} | gzip -9 -n -c > claims-16mib.pcap.gz

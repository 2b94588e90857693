#!/usr/bin/env bash
# record-kernel.sh - record captures with the Linux KERNEL's WireGuard module, in a VM.
#
# WHY
#   record.sh normally runs wireguard-go (userspace). With WG_IMPL=kernel it uses the
#   kernel's own module (ip link add wg0 type wireguard) instead, which the recording
#   host's kernel does not have. This script boots Debian 12's kernel (linux-image-amd64,
#   6.1, with wireguard.ko) in qemu on a debootstrap root file system, runs
#     WG_IMPL=kernel bash testdata/record.sh <scenarios>
#   there (namespaces, veths, tcpdump, tshark all inside the VM), powers off, and copies
#   the scenario folders back into testdata/. Then it checks the copies with the host's
#   tshark (outer DF=0 on every WireGuard packet, the .tshark.tsv files equal to what
#   the host's tshark makes of them) and regenerates testdata/README.md.
#
# WHAT IT NEEDS
#   root on a Debian 12 host with Debian's package archive reachable. It tries KVM
#   first (/dev/kvm) and falls back to qemu's TCG emulation when KVM is missing or the
#   guest shows no kernel output within 20 s (ACCEL=kvm|tcg forces one). On the host
#   these captures were made on, /dev/kvm exists but is a nested KVM that reports no
#   CPUID features ("host doesn't support requested feature: CPUID.01H:ECX.pni") and
#   hangs every guest before its first message ("-cpu host"/"max" abort on MSR 0x10a),
#   so they were recorded under TCG.
#   Host packages, installed with apt when missing: qemu-system-x86 debootstrap e2fsprogs
#   (the image is built with "mkfs.ext4 -d" and read back with debugfs: no loop device,
#   no mount, no qemu-nbd).
#   VM root (debootstrap --variant=minbase bookworm, about 1 GB): linux-image-amd64
#   wireguard-tools iproute2 iptables nftables tcpdump tshark iputils-ping curl python3
#   ethtool kmod procps util-linux initramfs-tools.
#   Build artefacts live in $KVM_DIR (default /var/tmp/wgtrace-kvm), never in the repo;
#   the root directory is reused by later runs (delete $KVM_DIR to rebuild it).
#
# HOW TO RUN (from anywhere)
#   sudo bash testdata/record-kernel.sh                        # kernel-frag-blackhole kernel-rx-mtu
#   sudo bash testdata/record-kernel.sh kernel-frag-blackhole  # just one
#
# HOW LONG
#   Measured on the 2-core recording host: debootstrap 1.5 minutes (first run only; later
#   runs reuse $KVM_DIR/root), each image build ~6 s, the KVM probe 10-20 s, then under TCG
#   boot ~40 s + kernel-frag-blackhole ~75 s + kernel-rx-mtu ~60 s: about 4 minutes for both
#   scenarios (a working KVM would make the boot a few seconds).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then echo "record-kernel.sh: must run as root" >&2; exit 1; fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KVM_DIR=${KVM_DIR:-/var/tmp/wgtrace-kvm}
SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
VM_TIMEOUT=${VM_TIMEOUT:-900}
if [[ $# -gt 0 ]]; then SCEN=("$@"); else SCEN=(kernel-frag-blackhole kernel-rx-mtu); fi
export LC_ALL=C

log() { printf '[record-kernel %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
T0=$SECONDS

# ---------------------------------------------------------------- host tools
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v debootstrap >/dev/null \
   || ! command -v mkfs.ext4 >/dev/null || ! command -v debugfs >/dev/null; then
  log "installing host packages"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-x86 debootstrap e2fsprogs
fi
command -v tshark >/dev/null || die "the host needs tshark (to check the captures): apt-get install tshark"

# ---------------------------------------------------------------- VM root
ROOT=$KVM_DIR/root
mkdir -p "$KVM_DIR"
if [[ ! -e $KVM_DIR/root.done ]]; then
  log "debootstrap $SUITE into $ROOT"
  rm -rf "$ROOT"
  debootstrap --variant=minbase \
    --include=linux-image-amd64,wireguard-tools,iproute2,iptables,nftables,tcpdump,tshark,iputils-ping,curl,python3,ethtool,kmod,procps,util-linux,initramfs-tools \
    "$SUITE" "$ROOT" "$MIRROR" >"$KVM_DIR/debootstrap.log" 2>&1 || { tail -20 "$KVM_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
  touch "$KVM_DIR/root.done"
fi
VMLINUZ=$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -1)
[[ -f $VMLINUZ && -f $INITRD ]] || die "no kernel/initrd in $ROOT/boot"

# ---------------------------------------------------------------- payload + init
rm -rf "$ROOT/wgt"
mkdir -p "$ROOT/wgt/testdata/record" "$ROOT/wgt/out"
cp "$HERE/record.sh" "$ROOT/wgt/testdata/record.sh"
cp "$HERE/record/finish.py" "$ROOT/wgt/testdata/record/finish.py"
printf '%s\n' "${SCEN[@]}" >"$ROOT/wgt/scenarios"
# no resolver: debootstrap copies the host's resolv.conf, and python3 -m http.server looks up
# its bind address (getfqdn) at start; with no nameserver glibc asks 127.0.0.1 in the namespace
printf '# empty on purpose (record-kernel.sh): no DNS in the recording VM\n' >"$ROOT/etc/resolv.conf"
cat >"$ROOT/wgt/init" <<'EOF'
#!/bin/bash
# PID 1 of the recording VM: mount what initramfs-tools did not move over, record, power off
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
mountpoint -q /run || mount -t tmpfs tmpfs /run
mountpoint -q /tmp || mount -t tmpfs tmpfs /tmp
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug || true
mount -o remount,rw / || true
hostname wgt-vm
# nft "log" inside namespaces (off by default); global, but this kernel is the VM's own
sysctl -qw net.netfilter.nf_log_all_netns=1 2>/dev/null || modprobe nf_log_syslog && sysctl -qw net.netfilter.nf_log_all_netns=1 || true
ip link set lo up
O=/wgt/out
{ uname -a; echo "wireguard module: $(modinfo -F version wireguard)"; tshark --version | head -1; tcpdump --version 2>&1 | head -1
  wg --version; nproc; } >$O/versions.txt 2>&1
echo "=== recording: $(tr '\n' ' ' </wgt/scenarios)"
cd /wgt && WG_IMPL=kernel bash testdata/record.sh $(cat /wgt/scenarios) >$O/record.log 2>&1
echo $? >$O/rc
cat $O/record.log
dmesg >$O/dmesg.txt
echo "=== record.sh exit $(cat $O/rc)"
sync; mount -o remount,ro / || true; sync
echo o >/proc/sysrq-trigger
sleep 10
EOF
chmod +x "$ROOT/wgt/init"

# ---------------------------------------------------------------- image + boot
IMG=$KVM_DIR/root.img
make_image() {
  log "building $IMG"
  rm -f "$IMG"
  mkfs.ext4 -q -F -L wgtroot -d "$ROOT" "$IMG" 3G
}
# boot_vm kvm|tcg: 0 when the VM ran and powered off, 2 when KVM showed no kernel output
# within KVM_PROBE seconds (some nested KVMs, like this recording host's, report no CPUID
# features and hang the guest before its first message, whatever -cpu says)
boot_vm() {
  local accel=$1 pid t rc=0
  local a=(-accel tcg); [[ $accel == kvm ]] && a=(-enable-kvm)   # not "-cpu host": a nested KVM may refuse its MSRs
  log "booting $(basename "$VMLINUZ") with $accel (console: $KVM_DIR/console.log)"
  timeout "$VM_TIMEOUT" qemu-system-x86_64 "${a[@]}" -m 2G -smp 2 -nographic -no-reboot \
    -kernel "$VMLINUZ" -initrd "$INITRD" \
    -drive file="$IMG",format=raw,if=virtio \
    -nic none \
    -append "root=/dev/vda rw console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 init=/wgt/init" \
    </dev/null >"$KVM_DIR/console.log" 2>&1 &
  pid=$!
  if [[ $accel == kvm ]]; then
    for ((t = 0; t < ${KVM_PROBE:-20}; t++)); do
      grep -aq 'Linux version' "$KVM_DIR/console.log" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if ! grep -aq 'Linux version' "$KVM_DIR/console.log"; then
      log "KVM: no kernel output after ${KVM_PROBE:-20} s, stopping it"
      kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
      return 2
    fi
  fi
  wait "$pid" || rc=$?
  [[ $rc == 0 ]] || log "qemu exited with $rc (see $KVM_DIR/console.log)"
  return 0
}
T1=$SECONDS
make_image
ACCEL=${ACCEL:-auto}
[[ $ACCEL == auto && ! -w /dev/kvm ]] && ACCEL=tcg
if [[ $ACCEL == auto ]]; then
  if ! boot_vm kvm; then
    log "warning: falling back to TCG emulation (slower)"; ACCEL=tcg; make_image; boot_vm tcg
  else ACCEL=kvm; fi
else
  boot_vm "$ACCEL"
fi
log "VM ($ACCEL) ran $((SECONDS - T1)) s"

# ---------------------------------------------------------------- read results back
OUTV=$KVM_DIR/out
rm -rf "$OUTV"; mkdir -p "$OUTV"
debugfs -R "rdump /wgt $OUTV" "$IMG" >/dev/null 2>&1 || die "debugfs could not read /wgt from $IMG"
cat "$OUTV/wgt/out/versions.txt" >&2 || true
rc=$(cat "$OUTV/wgt/out/rc" 2>/dev/null || echo missing)
[[ $rc == 0 ]] || { tail -40 "$OUTV/wgt/out/record.log" >&2 || true; die "record.sh in the VM: exit $rc"; }
for s in "${SCEN[@]}"; do
  [[ -f $OUTV/wgt/testdata/$s/truth.json ]] || die "no $s/truth.json from the VM"
  rm -rf "${HERE:?}/$s"; cp -r "$OUTV/wgt/testdata/$s" "$HERE/$s"
  # the host's tshark (the one every other .tshark.tsv came from) must agree with the VM's
  for f in "$HERE/$s"/*.pcap "$HERE/$s"/*.pcapng; do
    [[ -e $f ]] || continue
    dargs=(); for p in 51820 51821; do dargs+=(-d "udp.port==$p,wg"); done
    tshark -r "$f" "${dargs[@]}" -T fields -E header=y -E separator=/t -E occurrence=a \
      -e frame.number -e frame.len -e frame.cap_len -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
      -e ip.flags.df -e ip.ttl -e ip.frag_offset -e udp.srcport -e udp.dstport -e udp.length \
      -e icmp.type -e icmp.code -e icmp.mtu -e icmpv6.type -e icmpv6.mtu \
      -e wg.type -e wg.sender -e wg.receiver -e wg.counter 2>/dev/null | cmp -s - "$f.tshark.tsv" \
      || die "$f.tshark.tsv differs from the host tshark's dissection"
    n=$(tshark -r "$f" -Y 'udp && ip.flags.df==1' 2>/dev/null | wc -l)
    [[ $n == 0 ]] || die "$f: $n WireGuard packets with DF=1"
    log "$s/$(basename "$f"): $(tshark -r "$f" 2>/dev/null | wc -l) packets, $(stat -c %s "$f") bytes, host tshark agrees, DF=0"
  done
done
cp "$OUTV/wgt/out/record.log" "$KVM_DIR/record.log"
python3 "$HERE/record/finish.py" readme "$HERE"
log "done in $((SECONDS - T0)) s: ${SCEN[*]}"

#!/usr/bin/env bash
# record.sh - record the real packet captures that wgtrace's tests run on.
#
# WHAT IT DOES
#   Builds small networks out of Linux network namespaces (all named "wgt-*")
#   and veth pairs, runs userspace WireGuard (wireguard-go) between two of them,
#   drives traffic (ping, HTTP with python3 -m http.server + curl), captures at
#   both ends of the tunnel with tcpdump/dumpcap, and counts the ground truth
#   (iptables counters, nstat, wg show, dmesg) on the routers and hosts.
#   No packet ever leaves the namespaces: only documentation/private addresses
#   (198.51.100.0/24, 203.0.113.0/24, 192.0.2.0/24, 192.168.x, 10.x, 2001:db8::/32)
#   are used, and the host's own interfaces, routes and firewall are not touched.
#
# WHAT IT NEEDS
#   root; a Linux kernel with netns, veth, tun (/dev/net/tun) and nftables-backed
#   iptables. It installs (apt, once, skipped when all tools are present):
#     wireguard-go wireguard-tools tcpdump tshark iproute2 iptables nftables ethtool
#     iputils-ping curl python3 conntrack
#   Recorded with wireguard-go 0.0.20220316, tshark 4.0.17, tcpdump 4.99.3 (Debian 12).
#   netem (sch_netem) is used for random-loss when the kernel has it; otherwise
#   the same 5% random loss is made with iptables' "statistic" match (truth.json says which).
#
# HOW TO RUN (from the repository root)
#   sudo bash testdata/record.sh              # every scenario
#   sudo bash testdata/record.sh mtu-blackhole   # just one (several names allowed)
#   Scenarios: healthy mtu-blackhole pmtud-working hairpin-nat wrong-key
#              ipv6-underlay random-loss nat-rewrite frag-blackhole frag-delivered
#              two-peers two-tunnels rekey-rebind any-both any-blackhole path-blackhole
#              local-drop inner-pmtud
#   With WG_IMPL=kernel only (see below): kernel-frag-blackhole kernel-rx-mtu
#   A full run takes about 8 minutes (plus the install); rekey-rebind alone runs
#   3 minutes (it waits for wireguard-go's 120 s rekey).
#
# KERNEL WIREGUARD (WG_IMPL=kernel)
#   WG_IMPL=kernel bash testdata/record.sh kernel-frag-blackhole kernel-rx-mtu
#   uses the Linux kernel's own WireGuard module instead of wireguard-go: wg0 is
#   "ip link add wg0 type wireguard" inside each peer's namespace and "wg" runs with
#   "ip netns exec" (no wireguard-go process, no wireguard-go log; the kernel's
#   dynamic-debug messages of the module go to <scenario>/wireguard.dmesg.txt when
#   debugfs allows it). The module sends its outer IPv4 packets without DF, so no
#   ip_no_pmtu_disc sysctl is needed. The kernel-* scenarios exist only under
#   WG_IMPL=kernel (and default to all of them when no scenario is named), and only
#   they run under it: the others' truth.json and checks assume wireguard-go (its log,
#   the ip_no_pmtu_disc method, "recorded_with"). A kernel without wireguard.ko (such as
#   the recording host's) cannot run it: testdata/record-kernel.sh boots Debian 12's
#   kernel in qemu/KVM and runs this script there.
#
# WHAT IT PRODUCES
#   testdata/<scenario>/<host>.pcap|.pcapng  the captures (each < 1 MB)
#   testdata/<scenario>/<file>.tshark.tsv    tshark's independent dissection of each capture
#   testdata/<scenario>/truth.json           what was configured and counted (never from wgtrace)
#   testdata/<scenario>/<host>.wireguard-go.log   wireguard-go's debug log
#   testdata/healthy/vps.pcap.gz             gzip -9 copy of healthy/vps.pcap
#   testdata/README.md                       regenerated table of every capture file
#   Capture contents differ from run to run (keys, indexes, timing); the tests
#   must rely on truth.json and the .tshark.tsv files, not on fixed values.
#
# OFFLOADS
#   Every veth gets "ethtool -K IF gro off gso off tso off tx off rx off": with
#   GSO/TSO/GRO on, a capture shows super-frames bigger than the MTU that never
#   existed on a wire, and with tx checksum offload it shows packets with
#   unfinished checksums. With them off, captured sizes are the wire sizes.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then echo "record.sh: must run as root" >&2; exit 1; fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
PFX=wgt-
ALL_SCENARIOS=(healthy mtu-blackhole pmtud-working hairpin-nat wrong-key ipv6-underlay random-loss nat-rewrite
               frag-blackhole frag-delivered two-peers two-tunnels rekey-rebind any-both any-blackhole
               path-blackhole local-drop inner-pmtud)
KERNEL_SCENARIOS=(kernel-frag-blackhole kernel-rx-mtu)
WG_IMPL=${WG_IMPL:-go}
[[ $WG_IMPL == go || $WG_IMPL == kernel ]] || { echo "record.sh: WG_IMPL must be go or kernel" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY || true
export LC_ALL=C

log() { printf '[record %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- install
need_tools=(wg tcpdump tshark dumpcap capinfos ip iptables ip6tables nft ethtool ping curl python3 nsenter nstat conntrack)
[[ $WG_IMPL == go ]] && need_tools+=(wireguard-go)
missing=0
for t in "${need_tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing=1; done
if [[ $missing -eq 1 ]]; then
  log "installing packages"
  apt-get update
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # --no-install-recommends: wireguard-tools recommends a kernel image otherwise.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    wireguard-go wireguard-tools tcpdump tshark iproute2 iptables nftables ethtool iputils-ping curl python3 conntrack
fi
if [[ $WG_IMPL == kernel ]]; then
  modprobe wireguard 2>/dev/null || true
  [[ -d /sys/module/wireguard ]] || { echo "record.sh: WG_IMPL=kernel but the kernel has no wireguard module" >&2; exit 1; }
  WG_KMOD_VERSION=$(cat /sys/module/wireguard/version 2>/dev/null || modinfo -F version wireguard 2>/dev/null || echo unknown)
  KERNEL_RELEASE=$(uname -r)
  # the module's own debug messages (handshakes, keepalives, invalid packets) into dmesg
  if [[ ! -e /sys/kernel/debug/dynamic_debug/control ]]; then mount -t debugfs none /sys/kernel/debug 2>/dev/null || true; fi
  WG_DYNDBG=0
  if echo 'module wireguard +p' >/sys/kernel/debug/dynamic_debug/control 2>/dev/null; then WG_DYNDBG=1; fi
else
  [[ -c /dev/net/tun ]] || { modprobe tun 2>/dev/null || true; }
  if [[ ! -c /dev/net/tun ]]; then mkdir -p /dev/net; mknod /dev/net/tun c 10 200; chmod 600 /dev/net/tun; fi
fi
PY=/usr/bin/python3; [[ -x $PY ]] || PY=$(command -v python3)
mkdir -p /run/wireguard

# ---------------------------------------------------------------- state + cleanup
WORK=$(mktemp -d /tmp/wgt-record.XXXXXX)
BGPIDS=()          # wireguard-go, http servers, captures
CAPS=()            # "pid|stderr|file|tool"
declare -A WGPID=()
declare -A CAPDROP=()
NSLIST=()

teardown() {
  local p n
  for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BGPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BGPIDS=(); CAPS=(); WGPID=()
  for n in "${NSLIST[@]}"; do ip netns del "$PFX$n" 2>/dev/null || true; done
  NSLIST=()
}
final_cleanup() {
  local rc=$?
  teardown
  # namespaces of ours left by an aborted earlier step
  local n; for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX" || true); do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
  [[ $rc -eq 0 ]] || log "failed (exit $rc); namespaces and processes cleaned up"
}
trap final_cleanup EXIT
trap 'exit 130' INT TERM

# leftovers of an aborted earlier run (only our own prefix)
for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX" || true); do ip netns del "$n" || true; done

# ---------------------------------------------------------------- helpers
nsx() { local n=$1; shift; ip netns exec "$PFX$n" "$@"; }
# (background jobs call "ip netns exec" directly, never through nsx: "$!" must be the
#  pid of the process itself, which ip netns exec becomes, not of a bash subshell)
jstr() { "$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

wait_until() { # seconds cmd...
  local t=$1 i; shift
  for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "timeout waiting for: $*"
}

ns_new() { # kind(host|router) names...
  local kind=$1 n; shift
  for n in "$@"; do
    ip netns add "$PFX$n"; NSLIST+=("$n")
    nsx "$n" ip link set lo up
    # explicit, so the host's settings do not leak in (IPv4 devconf is inherited from init_net)
    nsx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
      net.ipv4.conf.all.accept_local=0 net.ipv4.conf.default.accept_local=0 \
      net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    if [[ $kind == router ]]; then
      nsx "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    else
      nsx "$n" sysctl -qw net.ipv4.ip_forward=0
    fi
  done
}

link() { # nsA:ifA nsB:ifB [mtu]
  local a=${1%%:*} ia=${1#*:} b=${2%%:*} ib=${2#*:} mtu=${3:-1500} x n i
  ip link add "$ia" netns "$PFX$a" mtu "$mtu" type veth peer name "$ib" netns "$PFX$b" mtu "$mtu"
  for x in "$a:$ia" "$b:$ib"; do
    n=${x%%:*}; i=${x#*:}
    # offloads off: captured sizes == wire sizes, real checksums (see header)
    nsx "$n" ethtool -K "$i" gro off gso off tso off tx off rx off >/dev/null 2>&1 \
      || log "warning: ethtool -K $i (in $n) did not accept every feature"
    nsx "$n" ip link set "$i" up
  done
}

ipt_cnt() { # ns table chain comment [iptables|ip6tables] -> packet count of the rule tagged with comment
  local n=$1 t=$2 c=$3 tag=$4 cmd=${5:-iptables} v
  v=$(nsx "$n" "$cmd" -t "$t" -L "$c" -v -x -n | awk -v tag="/* $tag */" 'index($0, tag) {print $1; exit}')
  [[ -n $v ]] || die "no rule tagged $tag in $n $t $c"
  echo "$v"
}
nstat_get() { # ns counter
  nsx "$1" nstat -saz "$2" | awk -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}'
}

keypair() { # name -> $WORK/name.key, $WORK/name.pub
  (umask 077; wg genkey >"$WORK/$1.key")
  wg pubkey <"$WORK/$1.key" >"$WORK/$1.pub"
}
pub() { cat "$WORK/$1.pub"; }

# wireguard-go's UAPI socket lives in /run/wireguard/<ifname>.sock, which is not
# per network namespace. Every wireguard-go therefore runs with a private tmpfs
# on /run/wireguard inside the mount namespace that "ip netns exec" creates, and
# "wg" is run inside that same mount+net namespace with nsenter.
# A host may run several wireguard-go processes, one per interface: the first (wg0) is
# known by the host's name, any other by "host/ifname" (e.g. "vps/wg1"); wgc, wg_peer,
# wg_handshake_json and wg_save_logs take that key, wg_iface/wg_peer an optional ifname.
# Under WG_IMPL=kernel wg0 is a kernel wireguard link in the host's namespace and wg
# runs there with ip netns exec (one interface per host).
wg_key() { [[ ${2:-wg0} == wg0 ]] && echo "$1" || echo "$1/$2"; }   # host [ifname]
wg_start() { # host [ifname=wg0]
  local h=$1 ifc=${2:-wg0} pid key; key=$(wg_key "$1" "${2:-wg0}")
  if [[ $WG_IMPL == kernel ]]; then nsx "$h" ip link add "$ifc" type wireguard; return; fi
  ip netns exec "$PFX$h" sh -c "mount -t tmpfs wgt-uapi /run/wireguard && LOG_LEVEL=debug WG_PROCESS_FOREGROUND=1 exec wireguard-go $ifc" \
    >"$WORK/${key/\//.}.wireguard-go.log" 2>&1 &
  pid=$!; BGPIDS+=("$pid"); WGPID[$key]=$pid
  wait_until 10 nsenter -t "$pid" -m -n test -S "/run/wireguard/$ifc.sock"
}
wgc() {
  local h=$1; shift
  if [[ $WG_IMPL == kernel ]]; then nsx "${h%%/*}" wg "$@"; else nsenter -t "${WGPID[$h]}" -m -n wg "$@"; fi
}
wg_iface() { # host keyname port addr [mtu] [ifname]
  local h=$1 k=$2 port=$3 addr=$4 mtu=${5:-1420} ifc=${6:-wg0}
  wgc "$(wg_key "$h" "$ifc")" set "$ifc" private-key "$WORK/$k.key" listen-port "$port"
  nsx "$h" ip addr add "$addr" dev "$ifc"
  nsx "$h" ip link set "$ifc" mtu "$mtu" up
}
wg_peer() { # host pubkey endpoint|- allowed-ips [keepalive] [ifname]
  local h=$1 pk=$2 ep=$3 aips=$4 ka=${5:-0} ifc=${6:-wg0} args=()
  [[ $ep != - ]] && args+=(endpoint "$ep")
  [[ $ka != 0 ]] && args+=(persistent-keepalive "$ka")
  wgc "$(wg_key "$h" "$ifc")" set "$ifc" peer "$pk" allowed-ips "$aips" "${args[@]}"
}
wg_save_logs() { # dir hosts... (a host key "vps/wg1" is saved as vps.wg1.wireguard-go.log)
  local d=$1 h; shift
  if [[ $WG_IMPL == kernel ]]; then
    # one kernel, one log for both peers (each line names its interface, wg0 in both namespaces)
    if [[ $WG_DYNDBG == 1 ]]; then dmesg | tail -n +"$((DM0 + 1))" | grep 'wireguard' >"$d/wireguard.dmesg.txt" || true; fi
    return
  fi
  for h in "$@"; do cp "$WORK/${h/\//.}.wireguard-go.log" "$d/${h/\//.}.wireguard-go.log"; done
}

cap_start() { # host iface file tool(tcpdump|dumpcap) [extra args...]
  local h=$1 ifc=$2 f=$3 tool=$4 err pid; shift 4
  err="$WORK/cap.$(basename "$f").err"
  if [[ $tool == dumpcap ]]; then
    ip netns exec "$PFX$h" dumpcap -i "$ifc" -w "$f" "$@" 2>"$err" &
    pid=$!; wait_until 10 grep -q "Capturing on" "$err"
  else
    ip netns exec "$PFX$h" tcpdump -i "$ifc" -U -Z root -w "$f" "$@" 2>"$err" &
    pid=$!; wait_until 10 grep -q "listening on" "$err"
  fi
  BGPIDS+=("$pid"); CAPS+=("$pid|$err|$f|$tool")
}
cap_stop_all() {
  local c pid err f tool d
  sleep 0.5
  for c in "${CAPS[@]}"; do kill -INT "${c%%|*}" 2>/dev/null || true; done
  for c in "${CAPS[@]}"; do
    IFS='|' read -r pid err f tool <<<"$c"
    wait "$pid" 2>/dev/null || true
    if [[ $tool == dumpcap ]]; then
      d=$(sed -n "s/.*Packets received\/dropped on interface.*: [0-9]*\/\([0-9]*\).*/\1/p" "$err" | head -1)
    else
      d=$(awk '/packets dropped by kernel/ {print $1}' "$err")
    fi
    CAPDROP[$f]=${d:-0}
    [[ -s $f ]] || die "capture $f is empty"
  done
  CAPS=()
}

cap_json() { # key host file iface link_type format snaplen port tunaddr shows  (port/tunaddr may be JSON lists)
  local key=$1 host=$2 file=$3 ifc=$4 lt=$5 fmt=$6 snap=$7 port=$8 tun=$9 shows=${10}
  local tunj=null; [[ -n $tun ]] && tunj="\"$tun\""
  [[ $tun == \[* ]] && tunj=$tun   # several (a JSON list): port is a list then too
  printf '"%s": {"host": "%s", "file": "%s", "interface": "%s", "link_type": "%s", "format": "%s", "snaplen": %s, "wg_listen_port": %s, "tunnel_address": %s, "capture_dropped": %s, "shows": %s}' \
    "$key" "$host" "$file" "$ifc" "$lt" "$fmt" "$snap" "$port" "$tunj" "${CAPDROP[$D/$file]:-0}" "$(jstr "$shows")"
}

http_serve() { # host port
  ip netns exec "$PFX$1" "$PY" -m http.server "$2" --bind 0.0.0.0 --directory "$WORK/www" >"$WORK/http.$1.log" 2>&1 &
  BGPIDS+=("$!")
  wait_until 10 nsx "$1" sh -c "ss -ltn | grep -q ':$2 '"
}
# curl_get host url maxtime -> "rc http_code size time"
curl_get() {
  local out rc=0
  out=$(nsx "$1" curl --noproxy '*' -sS -o /dev/null --max-time "$3" -w '%{http_code} %{size_download} %{time_total}' "$2" 2>/dev/null) || rc=$?
  echo "$rc $out"
}
curl_json() { # "rc code size time" -> json object
  local rc code size t; read -r rc code size t <<<"$1"
  printf '{"exit_code": %s, "http_code": %s, "bytes": %s, "seconds": %s, "ok": %s}' \
    "$rc" "$((10#${code:-0}))" "${size:-0}" "${t:-0}" "$([[ $rc == 0 && $code == 200 ]] && echo true || echo false)"
}
# ping_run host dst size count -> "received/transmitted"
ping_run() {
  local out
  out=$(nsx "$1" ping -n -q -c "$4" -i 0.2 -W 2 -s "$3" "$2" 2>&1 || true)
  echo "$out" | awk '/packets transmitted/ {print $4 "/" $1}'
}

make_www() {
  mkdir -p "$WORK/www"
  printf 'wgtrace-test 1.4.2\n' >"$WORK/www/version"
  printf 'User-agent: *\nDisallow: /login\n' >"$WORK/www/robots.txt"
  { echo '<!doctype html><html><head><title>login</title></head><body><pre>'
    head -c 36000 /dev/urandom | base64 -w 76
    echo '</pre></body></html>'; } >"$WORK/www/login.html"
  head -c 102400 /dev/urandom >"$WORK/www/100k.bin"
  head -c 204800 /dev/urandom >"$WORK/www/200k.bin"
  head -c 307200 /dev/urandom >"$WORK/www/300k.bin"
}

tsv_all() { # dir port...
  local d=$1 f p dargs=(); shift
  for p in "$@"; do dargs+=(-d "udp.port==$p,wg"); done
  for f in "$d"/*.pcap "$d"/*.pcapng; do
    [[ -e $f ]] || continue
    tshark -r "$f" "${dargs[@]}" -T fields -E header=y -E separator=/t -E occurrence=a \
      -e frame.number -e frame.len -e frame.cap_len -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
      -e ip.flags.df -e ip.ttl -e ip.frag_offset -e udp.srcport -e udp.dstport -e udp.length \
      -e icmp.type -e icmp.code -e icmp.mtu -e icmpv6.type -e icmpv6.mtu \
      -e wg.type -e wg.sender -e wg.receiver -e wg.counter >"$f.tshark.tsv" 2>"$WORK/tshark.err" \
      || { cat "$WORK/tshark.err" >&2; die "tshark failed on $f"; }
  done
}

# write truth.json: $1 = dir, stdin = JSON draft; finish.py validates it and adds file facts
write_truth() { cat >"$1/truth.draft.json"; "$PY" "$HERE/record/finish.py" truth "$1"; }

# --------------------------------------------------------------- topologies
# one router:  vps eth0 198.51.100.2 -- eth-vps 198.51.100.1 [router] 203.0.113.1 eth-laptop -- eth0 203.0.113.2 laptop
topo_one_router() {
  ns_new host vps laptop; ns_new router router
  link vps:eth0 router:eth-vps; link laptop:eth0 router:eth-laptop
  nsx vps ip addr add 198.51.100.2/24 dev eth0;          nsx vps ip route add default via 198.51.100.1
  nsx router ip addr add 198.51.100.1/24 dev eth-vps;    nsx router ip addr add 203.0.113.1/24 dev eth-laptop
  nsx laptop ip addr add 203.0.113.2/24 dev eth0;        nsx laptop ip route add default via 203.0.113.1
  # per-direction counters of forwarded WireGuard (UDP) packets
  nsx router iptables -A FORWARD -i eth-vps -o eth-laptop -p udp -m comment --comment fwd_v2l
  nsx router iptables -A FORWARD -i eth-laptop -o eth-vps -p udp -m comment --comment fwd_l2v
}
# two routers, middle link with MTU $1:
#  vps 198.51.100.2 -- .1 [router1] 192.0.2.1 ==MTU== 192.0.2.2 [router2] 203.0.113.1 -- 203.0.113.2 laptop
topo_two_routers() {
  local mid=$1
  ns_new host vps laptop; ns_new router router1 router2
  link vps:eth0 router1:eth-vps; link router1:eth-r2 router2:eth-r1 "$mid"; link laptop:eth0 router2:eth-laptop
  nsx vps ip addr add 198.51.100.2/24 dev eth0;        nsx vps ip route add default via 198.51.100.1
  nsx router1 ip addr add 198.51.100.1/24 dev eth-vps; nsx router1 ip addr add 192.0.2.1/30 dev eth-r2
  nsx router2 ip addr add 192.0.2.2/30 dev eth-r1;     nsx router2 ip addr add 203.0.113.1/24 dev eth-laptop
  nsx router1 ip route add 203.0.113.0/24 via 192.0.2.2
  nsx router2 ip route add 198.51.100.0/24 via 192.0.2.1
  nsx laptop ip addr add 203.0.113.2/24 dev eth0;      nsx laptop ip route add default via 203.0.113.1
}
# a standard vps(server)/laptop(client) tunnel; laptop initiates
tunnel_vps_laptop() { # vps_port laptop_port vps_endpoint_for_laptop keepalive_on_laptop [vps_mtu laptop_mtu]
  local vp=$1 lp=$2 ep=$3 ka=$4
  keypair vps; keypair laptop
  wg_start vps; wg_start laptop
  wg_iface vps vps "$vp" 10.0.0.1/24; wg_iface laptop laptop "$lp" 10.0.0.2/24
  wg_peer vps "$(pub laptop)" - 10.0.0.2/32
  wg_peer laptop "$(pub vps)" "$ep" 10.0.0.0/24 "$ka"
}
wg_handshake_json() { # host [ifname] [peer pubkey] -> {"latest_handshake": bool, "rx": n, "tx": n, "endpoint": ".."}
  local h=$1 ifc=${2:-wg0} pk=${3:-} key hs tr ep; key=$(wg_key "$1" "${2:-wg0}")
  # without a pubkey: the first (only) peer
  hs=$(wgc "$key" show "$ifc" latest-handshakes | awk -v k="$pk" 'k == "" || $1 == k {print $2; exit}')
  tr=$(wgc "$key" show "$ifc" transfer | awk -v k="$pk" 'k == "" || $1 == k {print $2, $3; exit}')
  ep=$(wgc "$key" show "$ifc" endpoints | awk -v k="$pk" 'k == "" || $1 == k {print $2; exit}')
  printf '{"handshake_completed": %s, "rx_bytes": %s, "tx_bytes": %s, "peer_endpoint": %s}' \
    "$([[ ${hs:-0} != 0 ]] && echo true || echo false)" "${tr%% *}" "${tr##* }" "$(jstr "${ep:-}")"
}
ping_sweep() { # host dst sizes... -> json object {"size": "rx/tx"}
  local h=$1 dst=$2 s first=1; shift 2
  printf '{'
  for s in "$@"; do
    [[ $first == 1 ]] || printf ', '; first=0
    printf '"%s": "%s"' "$s" "$(ping_run "$h" "$dst" "$s" 3)"
  done
  printf '}'
}

# ================================================================ scenarios
sc_healthy() {
  topo_one_router
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 5
  local pings dl
  pings=$(ping_sweep laptop 10.0.0.1 56 500 1000 1372 1392)
  dl=$(curl_get laptop http://10.0.0.1:8000/200k.bin 20)
  sleep 13   # idle: persistent keepalive (5 s) from laptop, passive keepalive from vps
  cap_stop_all
  local wgv wgl; wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  local f1 f2; f1=$(ipt_cnt router filter FORWARD fwd_v2l); f2=$(ipt_cnt router filter FORWARD fwd_l2v)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "healthy",
  "description": "Two wireguard-go peers over one router, MTU 1500 everywhere, tunnel MTU 1420, no NAT, no loss: pings of 56..1392 bytes, a 200 KB HTTP download vps->laptop, then 13 s idle with persistent keepalive 5 s on the laptop.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "server side: handshake, pings 56..1392 (UDP payloads up to 1452), 200 KB download, keepalives"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "client side of the same traffic")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop (one hop each way; TTL 64 at sender, 63 at receiver)",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "persistent_keepalive": {"laptop": 5, "vps": 0},
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"}, "ping_sizes": [56, 500, 1000, 1372, 1392] },
  "counted": { "ping_results_laptop_to_vps": $pings, "curl_200k": $(curl_json "$dl"),
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["healthy"]
}
EOF
  tsv_all "$D" 51820 51821
  gzip -9 -c "$D/vps.pcap" >"$D/vps.pcap.gz"
}

# the 1454 link's counters (and, with block=1, the ICMP frag-needed drop) on router1/router2
# of topo_two_routers; shared by mtu-blackhole, pmtud-working and any-blackhole
mtu_router_rules() { # block_icmp(0|1)
  local block=$1 r in
  for r in router1 router2; do
    in=eth-vps; [[ $r == router2 ]] && in=eth-laptop
    # counts the DF packets too big for the 1454 link, per direction (raw PREROUTING: the MTU
    # check in ip_forward() runs before the FORWARD hook, so FORWARD never sees them)
    nsx "$r" iptables -t raw -A PREROUTING -i "$in" -p udp -m length --length 1455:65535 -m u32 --u32 "4&0x4000=0x4000" \
      -m comment --comment too_big_df
    if [[ $block == 1 ]]; then
      nsx "$r" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_out -j DROP
      nsx "$r" iptables -A FORWARD -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_fwd -j DROP
    else
      nsx "$r" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_out -j ACCEPT
      nsx "$r" iptables -A FORWARD -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_fwd -j ACCEPT
    fi
  done
}

# shared by mtu-blackhole and pmtud-working
mtu_common() { # block_icmp(0|1) capture_style(blackhole|pmtud)
  local block=$1 style=$2
  topo_two_routers 1454
  mtu_router_rules "$block"
  http_serve vps 8000
  if [[ $style == blackhole ]]; then
    cap_start vps eth0 "$D/vps.pcap" tcpdump --time-stamp-precision=nano
    cap_start laptop any "$D/laptop.pcap" tcpdump
  else
    cap_start vps eth0 "$D/vps.pcapng" dumpcap
    cap_start laptop eth0 "$D/laptop.pcapng" dumpcap
  fi
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  C_VERSION=$(curl_get laptop http://10.0.0.1:8000/version 10)
  C_ROBOTS=$(curl_get laptop http://10.0.0.1:8000/robots.txt 10)
  # 1364 -> inner 1392 -> UDP payload 1424 -> outer 1452 (fits 1454); 1372 -> UDP 1440 -> outer 1468 (does not)
  if [[ $style == blackhole ]]; then
    C_PINGS=$(ping_sweep laptop 10.0.0.1 56 500 1000 1364 1372)
    C_BIG=$(curl_get laptop http://10.0.0.1:8000/login.html 15)
    sleep 2
  else
    # big download first, so that its TCP segments are what triggers the ICMP
    C_BIG=$(curl_get laptop http://10.0.0.1:8000/login.html 15)
    C_PINGS=$(ping_sweep laptop 10.0.0.1 56 500 1000 1364 1372)
    sleep 5
  fi
  cap_stop_all
  C_TB1=$(ipt_cnt router1 raw PREROUTING too_big_df); C_TB2=$(ipt_cnt router2 raw PREROUTING too_big_df)
  C_FF1=$(nstat_get router1 IpFragFails); C_FF2=$(nstat_get router2 IpFragFails)
  C_IC1=$(ipt_cnt router1 filter OUTPUT icmp_fn_out); C_IC2=$(ipt_cnt router2 filter OUTPUT icmp_fn_out)
  C_VPS_FRAG=$(nstat_get vps IpFragCreates); C_LAP_FRAG=$(nstat_get laptop IpFragCreates)
  C_VPS_PMTU=$(nsx vps ip route get 203.0.113.2 | grep -o 'mtu [0-9]*' || echo "none")
  C_LAP_PMTU=$(nsx laptop ip route get 198.51.100.2 | grep -o 'mtu [0-9]*' || echo "none")
  C_WGV=$(wg_handshake_json vps); C_WGL=$(wg_handshake_json laptop)
  wg_save_logs "$D" vps laptop
}

sc_mtu_blackhole() {
  mtu_common 1 blackhole
  write_truth "$D" <<EOF
{ "scenario": "mtu-blackhole",
  "description": "vps and laptop over two routers joined by a 1454-MTU link whose routers drop the ICMP fragmentation-needed they generate: small HTTP responses arrive, 1452-byte WireGuard payloads (outer 1480, DF set) from vps vanish and the inner TCP retransmits them with growing gaps until curl gives up after 15 s.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-nsec 262144 51820 10.0.0.1/24 "sender of the big packets: 1452-byte payloads leave and are retransmitted with growing gaps; no ICMP comes back"),
    $(cap_json laptop laptop laptop.pcap any LINUX_SLL2 pcap-usec 262144 51821 10.0.0.2/24 "-i any: eth0 (outer) and wg0 (inner) copies; small packets arrive, 1452-byte ones from vps never do")
  },
  "topology": "vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1454)= router2 -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1454, "icmp_frag_needed_blocked": true, "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "largest_wg_udp_payload_fitting_path": 1424, "recommended_tunnel_mtu_max": 1394,
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"}, "ping_sizes": [56, 500, 1000, 1364, 1372],
    "http": {"small": ["/version", "/robots.txt"], "big": "/login.html (~49 KB)", "curl_max_time": 15} },
  "counted": {
    "router_dropped_too_big": {"vps->laptop": $C_TB1, "laptop->vps": $C_TB2},
    "router_ip_frag_fails": {"router1": $C_FF1, "router2": $C_FF2},
    "icmp_dropped": $((C_IC1 + C_IC2)), "icmp_dropped_per_router": {"router1": $C_IC1, "router2": $C_IC2},
    "curl_small_ok": $( [[ ${C_VERSION%% *} == 0 && ${C_ROBOTS%% *} == 0 ]] && echo true || echo false),
    "curl_version": $(curl_json "$C_VERSION"), "curl_robots": $(curl_json "$C_ROBOTS"),
    "curl_big_ok": $( [[ ${C_BIG%% *} == 0 ]] && echo true || echo false), "curl_big": $(curl_json "$C_BIG"),
    "ping_results_laptop_to_vps": $C_PINGS,
    "ip_frag_creates": {"vps": $C_VPS_FRAG, "laptop": $C_LAP_FRAG},
    "route_pmtu_after": {"vps_to_laptop": "$C_VPS_PMTU", "laptop_to_vps": "$C_LAP_PMTU"},
    "wg_show": {"vps": $C_WGV, "laptop": $C_WGL} },
  "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent"]
}
EOF
  tsv_all "$D" 51820 51821
}

sc_pmtud_working() {
  mtu_common 0 pmtud
  write_truth "$D" <<EOF
{ "scenario": "pmtud-working",
  "description": "Same topology as mtu-blackhole (1454-MTU link between two routers) but ICMP fragmentation-needed is allowed: the first 1480-byte outer packets are dropped with an ICMP (next-hop MTU 1454) that reaches the sender, whose kernel then fragments later ones (1452 + 48 bytes); the big HTTP download succeeds.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcapng eth0 EN10MB pcapng 262144 51820 10.0.0.1/24 "ICMP frag-needed (mtu 1454) arrives; later 1452-byte WireGuard payloads leave as two IPv4 fragments"),
    $(cap_json laptop laptop laptop.pcapng eth0 EN10MB pcapng 262144 51821 10.0.0.2/24 "fragments arrive; ICMP frag-needed for the laptop's own 1372-byte ping")
  },
  "topology": "vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1454)= router2 -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1454, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": false,
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"}, "ping_sizes": [56, 500, 1000, 1364, 1372] },
  "counted": {
    "router_dropped_too_big": {"vps->laptop": $C_TB1, "laptop->vps": $C_TB2},
    "router_ip_frag_fails": {"router1": $C_FF1, "router2": $C_FF2},
    "icmp_frag_needed_sent": {"router1_to_vps": $C_IC1, "router2_to_laptop": $C_IC2}, "icmp_dropped": 0,
    "curl_version": $(curl_json "$C_VERSION"), "curl_robots": $(curl_json "$C_ROBOTS"),
    "curl_big_ok": $( [[ ${C_BIG%% *} == 0 ]] && echo true || echo false), "curl_big": $(curl_json "$C_BIG"),
    "ping_results_laptop_to_vps": $C_PINGS,
    "ip_frag_creates": {"vps": $C_VPS_FRAG, "laptop": $C_LAP_FRAG},
    "route_pmtu_after": {"vps_to_laptop": "$C_VPS_PMTU", "laptop_to_vps": "$C_LAP_PMTU"},
    "wg_show": {"vps": $C_WGV, "laptop": $C_WGL} },
  "expected_findings": ["pmtud_working"]
}
EOF
  tsv_all "$D" 51820 51821
}

# shared by frag-blackhole and frag-delivered: like mtu-blackhole, but both peers send
# their outer IPv4 packets WITHOUT DF (as the Linux kernel WireGuard module does), so the
# routers fragment what does not fit the 1454 link instead of dropping it
frag_common() { # drop_non_first(0|1)
  local drop=$1
  topo_two_routers 1454
  # before wireguard-go opens its sockets: the sockets' default becomes IP_PMTUDISC_DONT (DF=0).
  # The kernel module sends without DF by itself (and its sockets ignore this sysctl).
  if [[ $WG_IMPL == go ]]; then
    nsx vps sysctl -qw net.ipv4.ip_no_pmtu_disc=1
    nsx laptop sysctl -qw net.ipv4.ip_no_pmtu_disc=1
  fi
  # nft counters (and, in frag-blackhole, the drop). prerouting at priority -450 runs before
  # nf_defrag_ipv4 (-400), so it sees the raw fragments even if defrag were loaded.
  #  router1: big (> 1454) WireGuard datagrams from vps, with and without DF; non-first
  #           fragments arriving from router2 (laptop->vps); frag-needed it sends
  #  router2: first / non-first fragments arriving from router1 (vps->laptop), the latter
  #           dropped in frag-blackhole; big datagrams from laptop; frag-needed it sends
  local verdict=accept; [[ $drop == 1 ]] && verdict=drop
  nsx router1 nft -f - <<EOF
table ip wgt_frag {
  counter big_no_df {}
  counter big_df {}
  counter non_first_from_r2 {}
  counter icmp_fn_out {}
  chain pre {
    type filter hook prerouting priority -450; policy accept;
    iifname "eth-vps" ip protocol udp ip length > 1454 ip frag-off & 0x4000 == 0 counter name big_no_df
    iifname "eth-vps" ip protocol udp ip length > 1454 ip frag-off & 0x4000 != 0 counter name big_df
    iifname "eth-r2" ip frag-off & 0x1fff != 0 counter name non_first_from_r2
  }
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name icmp_fn_out
  }
}
EOF
  nsx router2 nft -f - <<EOF
table ip wgt_frag {
  counter first_from_r1 {}
  counter non_first_from_r1 {}
  counter big_no_df {}
  counter big_df {}
  counter icmp_fn_out {}
  chain pre {
    type filter hook prerouting priority -450; policy accept;
    iifname "eth-r1" ip frag-off & 0x3fff == 0x2000 counter name first_from_r1
    iifname "eth-r1" ip frag-off & 0x1fff != 0 counter name non_first_from_r1 $verdict
    iifname "eth-laptop" ip protocol udp ip length > 1454 ip frag-off & 0x4000 == 0 counter name big_no_df
    iifname "eth-laptop" ip protocol udp ip length > 1454 ip frag-off & 0x4000 != 0 counter name big_df
  }
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name icmp_fn_out
  }
}
EOF
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  C_VERSION=$(curl_get laptop http://10.0.0.1:8000/version 10)
  C_ROBOTS=$(curl_get laptop http://10.0.0.1:8000/robots.txt 10)
  # 1364 -> outer 1452 (fits 1454); 1372 -> outer 1468 (fragments 1452 + 36); TCP: outer 1480 (1452 + 48)
  C_PINGS=$(ping_sweep laptop 10.0.0.1 56 500 1000 1364 1372)
  C_BIG=$(curl_get laptop http://10.0.0.1:8000/login.html 12)
  sleep 2
  cap_stop_all
  local r c
  for r in router1 router2; do
    for c in IpFragOKs IpFragCreates IpFragFails; do printf -v "C_${r}_$c" %s "$(nstat_get "$r" "$c")"; done
  done
  for c in IpReasmReqds IpReasmOKs IpReasmFails; do
    printf -v "C_vps_$c" %s "$(nstat_get vps "$c")"; printf -v "C_laptop_$c" %s "$(nstat_get laptop "$c")"
  done
  C_VPS_FRAG=$(nstat_get vps IpFragCreates); C_LAP_FRAG=$(nstat_get laptop IpFragCreates)
  nftc() { nsx "$1" nft list counter ip wgt_frag "$2" | awk '/packets/ {for (i=1;i<=NF;i++) if ($i=="packets") print $(i+1); exit}'; }
  C_R1_BIG=$(nftc router1 big_no_df); C_R1_BIGDF=$(nftc router1 big_df); C_R1_NF=$(nftc router1 non_first_from_r2)
  C_R2_FIRST=$(nftc router2 first_from_r1); C_R2_NF=$(nftc router2 non_first_from_r1)
  C_R2_BIG=$(nftc router2 big_no_df); C_R2_BIGDF=$(nftc router2 big_df)
  C_IC1=$(nftc router1 icmp_fn_out); C_IC2=$(nftc router2 icmp_fn_out)
  C_VPS_PMTU=$(nsx vps ip route get 203.0.113.2 | grep -o 'mtu [0-9]*' || echo "none")
  C_LAP_PMTU=$(nsx laptop ip route get 198.51.100.2 | grep -o 'mtu [0-9]*' || echo "none")
  C_WGV=$(wg_handshake_json vps); C_WGL=$(wg_handshake_json laptop)
  # independent check from the captures (tshark, reassembly off): per sender, the outer IP IDs
  # of its fragmented WireGuard datagrams seen with their first and/or a later fragment
  C_TSHARK=$("$PY" - "$D" <<'EOPY'
import json, subprocess, sys
d = sys.argv[1]
def rows(f):
    out = subprocess.run(["tshark", "-r", f"{d}/{f}", "-o", "ip.defragment:FALSE", "-d", "udp.port==51820,wg",
                          "-d", "udp.port==51821,wg", "-Y", "ip && !icmp", "-T", "fields", "-E", "separator=/t",
                          "-e", "ip.src", "-e", "ip.id", "-e", "ip.flags.df", "-e", "ip.flags.mf",
                          "-e", "ip.frag_offset", "-e", "ip.len", "-e", "udp.srcport"],
                         check=True, capture_output=True, text=True).stdout
    return [l.split("\t") for l in out.splitlines() if l]
def frags(rs, src):
    first, later, whole_big, df1, wg = set(), set(), 0, 0, 0
    for s, ipid, df, mf, off, ln, sport in rs:
        if s != src:
            continue
        if df in ("1", "True"):
            df1 += 1
        if off not in ("", "0"):
            later.add(ipid)
        elif mf in ("1", "True"):
            first.add(ipid)
        elif sport in ("51820", "51821"):
            wg += 1
            if int(ln) > 1454:
                whole_big += 1
    return {"first_fragments": len(first), "datagrams_with_non_first_fragment": len(later),
            "reassembled": len(first & later), "first_fragment_only": len(first - later),
            "non_first_fragment_only": len(later - first),
            "unfragmented_wg_datagrams": wg, "unfragmented_over_1454": whole_big, "packets_with_df_set": df1}
v, l = rows("vps.pcap"), rows("laptop.pcap")
print(json.dumps({"vps->laptop": {"sent_at_vps": frags(v, "198.51.100.2"), "received_at_laptop": frags(l, "198.51.100.2")},
                  "laptop->vps": {"sent_at_laptop": frags(l, "203.0.113.2"), "received_at_vps": frags(v, "203.0.113.2")}}))
EOPY
)
  # the premise of the scenario: no outer packet of either peer carries DF
  local df1
  df1=$(tshark -r "$D/vps.pcap" -Y 'udp.port==51820 && ip.flags.df==1' | wc -l)
  [[ $df1 == 0 ]] || die "vps.pcap: $df1 WireGuard packets with DF=1 ($WG_IMPL: ip_no_pmtu_disc not honoured / kernel module set DF?)"
  df1=$(tshark -r "$D/laptop.pcap" -Y 'udp.port==51821 && ip.flags.df==1' | wc -l)
  [[ $df1 == 0 ]] || die "laptop.pcap: $df1 WireGuard packets with DF=1 ($WG_IMPL: ip_no_pmtu_disc not honoured / kernel module set DF?)"
  wg_save_logs "$D" vps laptop
}

jq_path() { # json keys... -> value
  "$PY" -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2:]: v=v[k]
print(json.dumps(v))' "$@"
}
# which WireGuard made the capture: '' for wireguard-go (the older truth files have no such
# keys), top-level "wireguard"/"kernel"/"recorded_with" keys (with a trailing comma) for the module
wg_impl_json() {
  [[ $WG_IMPL == kernel ]] || return 0
  printf '"wireguard": %s, "kernel": %s, "recorded_with": %s,' "$(jstr "linux kernel module $WG_KMOD_VERSION")" \
    "$(jstr "$KERNEL_RELEASE")" \
    "$(jstr "testdata/record.sh with WG_IMPL=kernel (Linux kernel WireGuard module $WG_KMOD_VERSION, Linux $KERNEL_RELEASE), network namespaces in one VM")"
}
df_method_json() {
  if [[ $WG_IMPL == kernel ]]; then
    jstr "none needed: the Linux kernel WireGuard module sends its outer IPv4 packets without DF (no sysctl set)"
  else
    jstr "sysctl net.ipv4.ip_no_pmtu_disc=1 in the vps and laptop namespaces before wireguard-go starts"
  fi
}
frag_truth() { # scenario description vps_shows laptop_shows findings_json
  local bh=false; [[ $1 == *frag-blackhole ]] && bh=true
  # (built here: bash removes the double quotes inside ${6:+...} in a here-document, which made
  #  the draft invalid JSON: also_acceptable_findings unquoted)
  local also=''; [[ -n ${6:-} ]] && also=$',\n  "also_acceptable_findings": '"$6"
  write_truth "$D" <<EOF
{ "scenario": "$1",
  "description": $(jstr "$2"),
  $(wg_impl_json)
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "$3"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "$4")
  },
  "topology": "vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1454)= router2 -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1454, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "outer_df": {"vps": false, "laptop": false},
    "df_method": $(df_method_json),
    "non_first_fragments_dropped": {"vps->laptop": $bh, "laptop->vps": false},
    "drop_rule": $( [[ $bh == true ]] && jstr "router2: nft prerouting priority -450 (before defrag), iifname eth-r1 ip frag-off & 0x1fff != 0 drop" || echo null),
    "largest_wg_udp_payload_fitting_path": 1424, "fragment_sizes_for_1480_byte_datagram": [1452, 48],
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"}, "ping_sizes": [56, 500, 1000, 1364, 1372],
    "http": {"small": ["/version", "/robots.txt"], "big": "/login.html (~49 KB)", "curl_max_time": 12} },
  "counted": {
    "big_datagrams_offered": {"vps->laptop": $C_R1_BIG, "laptop->vps": $C_R2_BIG},
    "big_datagrams_with_df": {"vps->laptop": $C_R1_BIGDF, "laptop->vps": $C_R2_BIGDF},
    "router_fragmented_datagrams": {"vps->laptop": $C_router1_IpFragOKs, "laptop->vps": $C_router2_IpFragOKs},
    "router_fragments_created": {"vps->laptop": $C_router1_IpFragCreates, "laptop->vps": $C_router2_IpFragCreates},
    "router_ip_frag_fails": {"router1": $C_router1_IpFragFails, "router2": $C_router2_IpFragFails},
    "first_fragments_at_next_router": {"vps->laptop": $C_R2_FIRST},
    "non_first_fragments_at_next_router": {"vps->laptop": $C_R2_NF, "laptop->vps": $C_R1_NF},
    "non_first_fragments_dropped": {"vps->laptop": $( [[ $bh == true ]] && echo "$C_R2_NF" || echo 0), "laptop->vps": 0},
    "reassembly": {"laptop": {"IpReasmReqds": $C_laptop_IpReasmReqds, "IpReasmOKs": $C_laptop_IpReasmOKs, "IpReasmFails": $C_laptop_IpReasmFails},
                   "vps": {"IpReasmReqds": $C_vps_IpReasmReqds, "IpReasmOKs": $C_vps_IpReasmOKs, "IpReasmFails": $C_vps_IpReasmFails}},
    "first_fragment_only_at_receiver": {"vps->laptop": $(jq_path "$C_TSHARK" 'vps->laptop' received_at_laptop first_fragment_only),
                                        "laptop->vps": $(jq_path "$C_TSHARK" 'laptop->vps' received_at_vps first_fragment_only)},
    "reassembled_at_receiver": {"vps->laptop": $(jq_path "$C_TSHARK" 'vps->laptop' received_at_laptop reassembled),
                                "laptop->vps": $(jq_path "$C_TSHARK" 'laptop->vps' received_at_vps reassembled)},
    "from_captures_tshark": $C_TSHARK,
    "icmp_frag_needed_sent": {"router1": $C_IC1, "router2": $C_IC2},
    "curl_small_ok": $( [[ ${C_VERSION%% *} == 0 && ${C_ROBOTS%% *} == 0 ]] && echo true || echo false),
    "curl_version": $(curl_json "$C_VERSION"), "curl_robots": $(curl_json "$C_ROBOTS"),
    "curl_big_ok": $( [[ ${C_BIG%% *} == 0 ]] && echo true || echo false), "curl_big": $(curl_json "$C_BIG"),
    "ping_results_laptop_to_vps": $C_PINGS,
    "ip_frag_creates": {"vps": $C_VPS_FRAG, "laptop": $C_LAP_FRAG},
    "route_pmtu_after": {"vps_to_laptop": "$C_VPS_PMTU", "laptop_to_vps": "$C_LAP_PMTU"},
    "wg_show": {"vps": $C_WGV, "laptop": $C_WGL} },
  "expected_findings": $5$also
}
EOF
  tsv_all "$D" 51820 51821
}

sc_frag_blackhole() {
  frag_common 1
  frag_truth frag-blackhole \
    "Same topology as mtu-blackhole, but both peers send outer IPv4 packets without DF (like the Linux kernel WireGuard module): router1 fragments each datagram from vps over 1454 bytes (1480-byte TCP segments: 1452 + 48; 1468-byte ping replies: 1452 + 36), and router2 drops every non-first fragment towards the laptop. Only first fragments reach the laptop, so the big datagrams from vps are never reassembled: small HTTP responses arrive, the big download stalls and is retransmitted until curl gives up after 12 s; 1372-byte pings get no reply. No ICMP is sent (DF is clear, nothing is too big to forward)." \
    "sender: 1480-byte WireGuard datagrams leave whole with DF=0 and are retransmitted with growing gaps; no ICMP comes back" \
    "receiver: only the first fragment (1452 bytes, MF=1, offset 0) of each big datagram from vps arrives, never the second" \
    '["fragments_dropped", "mtu_blackhole"]' \
    '["fragmented_path"]'
}

sc_kernel_frag_blackhole() {
  frag_common 1
  frag_truth kernel-frag-blackhole \
    "frag-blackhole recorded with the Linux kernel's own WireGuard module (Linux $KERNEL_RELEASE, module $WG_KMOD_VERSION) instead of wireguard-go: the module sends its outer IPv4 packets without DF by itself. vps and laptop over two routers joined by a 1454-MTU link; router1 fragments each datagram from vps over 1454 bytes (1480-byte TCP segments: 1452 + 48; 1468-byte ping replies: 1452 + 36), and router2 drops every non-first fragment towards the laptop. Only first fragments reach the laptop, so the big datagrams from vps are never reassembled: small HTTP responses arrive, the big download stalls and is retransmitted until curl gives up after 12 s; 1372-byte pings get no reply. No ICMP is sent (DF is clear, nothing is too big to forward)." \
    "sender (kernel WireGuard): 1480-byte WireGuard datagrams leave whole with DF=0 and are retransmitted with growing gaps; no ICMP comes back" \
    "receiver (kernel WireGuard): only the first fragment (1452 bytes, MF=1, offset 0) of each big datagram from vps arrives, never the second" \
    '["fragments_dropped", "mtu_blackhole"]' \
    '["fragmented_path"]'
}

# kernel-rx-mtu: an MTU mismatch on one link. The laptop's eth0 has MTU 1500, the router's
# end of that link (eth-laptop) 1454. A veth drops a frame bigger than the receiving end's
# MTU + 14 (Ethernet) + 4 (VLAN slack) bytes, i.e. IPv4 packets over 1458 bytes, counting it
# as rx_dropped on the receiver: the laptop's 1480/1468-byte WireGuard datagrams (sent whole,
# they fit its own 1500) vanish at the router's ingress and no ICMP can come from there. The
# other way the router's egress MTU 1454 applies: it fragments vps's big no-DF datagrams
# (1452 + 48 / 1452 + 36), which the laptop reassembles.
sc_kernel_rx_mtu() {
  topo_one_router
  nsx router ip link set eth-laptop mtu 1454
  nsx laptop nft -f - <<EONFT
table ip wgt_rx {
  counter big_out {}
  counter over_1454_out {}
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "eth0" ip protocol udp udp sport 51821 ip length > 1458 counter name big_out
    oifname "eth0" ip protocol udp udp sport 51821 ip length > 1454 counter name over_1454_out
  }
}
EONFT
  nsx router nft -f - <<EONFT
table ip wgt_rx {
  counter over_1454_from_laptop {}
  counter big_from_vps {}
  counter icmp_fn_out {}
  counter icmp_other_out {}
  chain pre {
    type filter hook prerouting priority -450; policy accept;
    iifname "eth-laptop" ip protocol udp ip length > 1454 counter name over_1454_from_laptop
    iifname "eth-vps" ip protocol udp ip length > 1454 counter name big_from_vps
  }
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name icmp_fn_out
    ip protocol icmp counter name icmp_other_out log prefix "wgt-router-icmp: "
  }
}
EONFT
  # the laptop serves (its big replies are what is lost), the vps fetches; and the other way
  http_serve laptop 8000
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  local rxd0; rxd0=$(nsx router cat /sys/class/net/eth-laptop/statistics/rx_dropped)
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  # the vps learns the laptop's endpoint only from the laptop's first packet: one ping first
  local hsping; hsping=$(ping_run laptop 10.0.0.1 56 1)
  local cv cr cbig cdown pings
  cv=$(curl_get vps http://10.0.0.2:8000/version 10)
  cr=$(curl_get vps http://10.0.0.2:8000/robots.txt 10)
  cbig=$(curl_get vps http://10.0.0.2:8000/login.html 12)
  # 1364 -> outer 1452 (fits); 1372 -> outer 1468: request fragmented by the router, reply dropped
  pings=$(ping_sweep vps 10.0.0.2 56 500 1000 1364 1372)
  # vps -> laptop big data: fragmented by the router and delivered
  cdown=$(curl_get laptop http://10.0.0.1:8000/login.html 12)
  sleep 2
  cap_stop_all
  local rxd1; rxd1=$(nsx router cat /sys/class/net/eth-laptop/statistics/rx_dropped)
  local ltx; ltx=$(nsx laptop cat /sys/class/net/eth0/statistics/tx_dropped)
  nftc() { nsx "$1" nft list counter ip wgt_rx "$2" | awk '/packets/ {for (i=1;i<=NF;i++) if ($i=="packets") print $(i+1); exit}'; }
  local lbig l1454 rbigl rbigv ricmp ricmpo
  lbig=$(nftc laptop big_out); l1454=$(nftc laptop over_1454_out)
  rbigl=$(nftc router over_1454_from_laptop); rbigv=$(nftc router big_from_vps); ricmp=$(nftc router icmp_fn_out); ricmpo=$(nftc router icmp_other_out)
  local rfok rfcr lrok lrreq vrreq
  rfok=$(nstat_get router IpFragOKs); rfcr=$(nstat_get router IpFragCreates)
  lrreq=$(nstat_get laptop IpReasmReqds); lrok=$(nstat_get laptop IpReasmOKs); vrreq=$(nstat_get vps IpReasmReqds)
  local f1 f2; f1=$(ipt_cnt router filter FORWARD fwd_v2l); f2=$(ipt_cnt router filter FORWARD fwd_l2v)
  local wgv wgl; wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  # independent check from the captures (tshark, reassembly off)
  local ts
  ts=$("$PY" - "$D" <<'EOPY'
import json, subprocess, sys
d = sys.argv[1]
def rows(f):
    out = subprocess.run(["tshark", "-r", f"{d}/{f}", "-o", "ip.defragment:FALSE", "-Y", "ip && !icmp", "-T", "fields",
                          "-E", "separator=/t", "-e", "ip.src", "-e", "ip.id", "-e", "ip.flags.df", "-e", "ip.flags.mf",
                          "-e", "ip.frag_offset", "-e", "ip.len"], check=True, capture_output=True, text=True).stdout
    return [l.split("\t") for l in out.splitlines() if l]
def count(rs, src):
    c = {"ip_packets": 0, "over_1458_whole": 0, "over_1454_whole": 0, "first_fragments": 0, "non_first_fragments": 0,
         "packets_with_df_set": 0}
    for s, _id, df, mf, off, ln in rs:
        if s != src:
            continue
        c["ip_packets"] += 1
        c["packets_with_df_set"] += df in ("1", "True")
        if off not in ("", "0"):
            c["non_first_fragments"] += 1
        elif mf in ("1", "True"):
            c["first_fragments"] += 1
        else:
            c["over_1458_whole"] += int(ln) > 1458
            c["over_1454_whole"] += int(ln) > 1454
    return c
v, l = rows("vps.pcap"), rows("laptop.pcap")
print(json.dumps({"laptop->vps": {"sent_at_laptop": count(l, "203.0.113.2"), "received_at_vps": count(v, "203.0.113.2")},
                  "vps->laptop": {"sent_at_vps": count(v, "198.51.100.2"), "received_at_laptop": count(l, "198.51.100.2")}}))
EOPY
)
  local df1
  df1=$(tshark -r "$D/vps.pcap" -Y 'udp.port==51820 && ip.flags.df==1' | wc -l)
  [[ $df1 == 0 ]] || die "vps.pcap: $df1 WireGuard packets with DF=1"
  df1=$(tshark -r "$D/laptop.pcap" -Y 'udp.port==51821 && ip.flags.df==1' | wc -l)
  [[ $df1 == 0 ]] || die "laptop.pcap: $df1 WireGuard packets with DF=1"
  # what the router's ICMP were (logged only where net.netfilter.nf_log_all_netns=1, as in the VM)
  dmesg | tail -n +"$((DM0 + 1))" | grep 'wgt-router-icmp' >"$D/router-icmp.dmesg.txt" || true
  [[ -s $D/router-icmp.dmesg.txt ]] || rm -f "$D/router-icmp.dmesg.txt"
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOJSON
{ "scenario": "kernel-rx-mtu",
  "description": $(jstr "Kernel WireGuard module (Linux $KERNEL_RELEASE, module $WG_KMOD_VERSION) on both peers over one router, with an MTU mismatch on the laptop's link: the laptop's eth0 has MTU 1500 but the router's end of that link receives at most 1454 (a veth drops frames over MTU + 18 bytes, i.e. IPv4 packets over 1458). The laptop sends its big WireGuard datagrams (1480-byte TCP segments of its HTTP replies, 1468-byte ping replies) whole and without DF, since they fit its own MTU, and the router's ingress drops them silently: no ICMP can come from there. vps fetches small files from the laptop (they arrive) and /login.html (~49 KB; curl gives up after 12 s); 1372-byte pings from vps get no reply (the request arrives, fragmented by the router, the reply is dropped). The other way works: the router's egress MTU 1454 fragments vps's big no-DF datagrams (1452 + 48) and the laptop reassembles them, so the laptop's download of /login.html from vps succeeds."),
  $(wg_impl_json)
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "vps (kernel WireGuard): its HTTP requests and pings leave; the laptop's small replies arrive, its big ones (outer over 1458 bytes) never do; no ICMP; its own big datagrams leave whole with DF=0"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "laptop (kernel WireGuard): its 1480/1468-byte datagrams leave whole with DF=0 and are retransmitted (TCP) but never answered; the big datagrams from vps arrive as two fragments (1452 + 48 or + 36) and are reassembled")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop; MTU 1500 everywhere except the router's eth-laptop (1454); the laptop's eth0 stays 1500",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1454, "path_mtu_per_direction": {"vps->laptop": 1454, "laptop->vps": 1458},
    "path_mtu_note": "laptop->vps: the router's eth-laptop (MTU 1454) accepts frames up to 1454 + 14 + 4 bytes (veth checks MTU + Ethernet header + VLAN header), so IPv4 packets up to 1458 bytes pass, bigger ones are dropped on ingress; vps->laptop: the router forwards out of eth-laptop with MTU 1454 and fragments",
    "link_mtu": {"laptop eth0": 1500, "router eth-laptop": 1454, "router eth-vps": 1500, "vps eth0": 1500},
    "icmp_frag_needed_blocked": false, "netem_loss_percent": null, "nat": null, "wrong_key": false,
    "outer_df": {"vps": false, "laptop": false}, "df_method": $(df_method_json),
    "drop": "router eth-laptop receive side: veth drops frames over its MTU + 18 bytes (counted as rx_dropped), no ICMP",
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"},
    "ping_sizes_vps_to_laptop": [56, 500, 1000, 1364, 1372],
    "traffic_order": "one 56-byte ping laptop->vps (so that the vps learns the laptop's endpoint), vps fetches /version /robots.txt /login.html from the laptop, ping sweep vps->laptop, laptop fetches /login.html from vps",
    "http": {"served_by_laptop_fetched_by_vps": {"small": ["/version", "/robots.txt"], "big": "/login.html (~49 KB)"},
             "served_by_vps_fetched_by_laptop": "/login.html (~49 KB)", "curl_max_time": 12} },
  "counted": {
    "big_datagrams_sent": {"laptop->vps": $lbig, "vps->laptop": $rbigv},
    "big_datagrams_sent_note": "laptop->vps: laptop nft output, UDP from port 51821 with IPv4 length > 1458; vps->laptop: router nft prerouting on eth-vps, UDP with IPv4 length > 1454",
    "laptop_sent_over_1454": $l1454,
    "router_ingress_dropped": {"laptop->vps": $((rxd1 - rxd0)), "vps->laptop": 0},
    "router_ingress_dropped_note": "delta of /sys/class/net/eth-laptop/statistics/rx_dropped in the router over the capture",
    "laptop_eth0_tx_dropped": $ltx,
    "router_saw_over_1454_from_laptop": $rbigl,
    "router_fragmented_datagrams": {"vps->laptop": $rfok, "laptop->vps": 0},
    "router_fragments_created": {"vps->laptop": $rfcr},
    "reassembly": {"laptop": {"IpReasmReqds": $lrreq, "IpReasmOKs": $lrok}, "vps": {"IpReasmReqds": $vrreq}},
    "router_icmp_frag_needed_sent": $ricmp, "router_icmp_sent_any": $ricmpo,
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "from_captures_tshark": $ts,
    "curl_small_ok": $( [[ ${cv%% *} == 0 && ${cr%% *} == 0 ]] && echo true || echo false),
    "curl_version_from_laptop": $(curl_json "$cv"), "curl_robots_from_laptop": $(curl_json "$cr"),
    "curl_big_from_laptop": $(curl_json "$cbig"), "curl_big_from_vps": $(curl_json "$cdown"),
    "ping_results_vps_to_laptop": $pings, "first_ping_laptop_to_vps": "$hsping",
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["mtu_blackhole"],
  "also_acceptable_findings": ["fragmented_path", "icmp_frag_needed_absent", "one_way_loss"]
}
EOJSON
  tsv_all "$D" 51820 51821
}

sc_frag_delivered() {
  frag_common 0
  frag_truth frag-delivered \
    "Same topology and no-DF peers as frag-blackhole, but router2 passes fragments: every datagram over 1454 bytes crosses the 1454 link as two IPv4 fragments (1452 + 48 bytes for a 1480-byte one) made by router1 (router2 likewise for the laptop's big pings) and is reassembled by the receiver; the big download and every ping succeed." \
    "sender: 1480-byte WireGuard datagrams leave whole with DF=0; the laptop's big ones arrive as two fragments" \
    "receiver: each big datagram from vps arrives as two fragments (1452 + 48 bytes) and is reassembled" \
    '["fragmented_path"]'
}

sc_hairpin_nat() {
  ns_new host phone isp; ns_new router pi router
  link phone:wlan0 pi:eth1            # new LAN 192.168.2.0/24
  link pi:eth0 router:lan0            # legacy LAN 192.168.1.0/24
  link router:wan0 isp:eth0           # WAN 203.0.113.0/24
  nsx phone ip addr add 192.168.2.10/24 dev wlan0;  nsx phone ip route add default via 192.168.2.1
  nsx pi ip addr add 192.168.2.1/24 dev eth1;       nsx pi ip addr add 192.168.1.2/24 dev eth0
  nsx pi ip route add default via 192.168.1.1
  nsx router ip addr add 192.168.1.1/24 dev lan0;   nsx router ip addr add 203.0.113.1/24 dev wan0
  nsx router ip route add default via 203.0.113.254
  nsx isp ip addr add 203.0.113.254/24 dev eth0
  # the Pi masquerades the new LAN onto the legacy LAN; it keeps accept_local=0 and logs martians
  nsx pi iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
  nsx pi sysctl -qw net.ipv4.conf.all.log_martians=1 net.ipv4.conf.eth0.log_martians=1 net.ipv4.conf.eth0.accept_local=0
  nsx pi iptables -t raw -A PREROUTING -i eth0 -p udp -s 192.168.1.2 -d 192.168.1.2 --dport 51820 -m comment --comment src_eq_dst
  nsx pi iptables -A OUTPUT -p udp --sport 51820 -m comment --comment wg_out
  # the home router port-forwards the public WireGuard port to the Pi, and hairpins (no SNAT back to the LAN)
  nsx router iptables -t nat -A PREROUTING -d 203.0.113.1 -p udp --dport 51820 -j DNAT --to-destination 192.168.1.2:51820
  nsx router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
  nsx router iptables -A FORWARD -i lan0 -o lan0 -p udp -m comment --comment hairpinned
  cap_start phone wlan0 "$D/phone.pcap" tcpdump
  cap_start pi eth0 "$D/pi.pcap" tcpdump
  cap_start router lan0 "$D/router.pcap" tcpdump
  local dm0; dm0=$(dmesg | wc -l)
  sleep 1
  keypair pi; keypair phone
  wg_start pi; wg_start phone
  wg_iface pi pi 51820 10.8.0.1/24; wg_iface phone phone 43712 10.8.0.2/32
  wg_peer pi "$(pub phone)" - 10.8.0.2/32
  wg_peer phone "$(pub pi)" 203.0.113.1:51820 10.8.0.0/24
  nsx phone ip route add 10.8.0.0/24 dev wg0
  local pr; pr=$(ping_run phone 10.8.0.1 56 1)   # queues one packet: starts the handshake
  sleep 21    # initiations are retried every ~5 s
  cap_stop_all
  local sd wo hp wgp
  sd=$(ipt_cnt pi raw PREROUTING src_eq_dst); wo=$(ipt_cnt pi filter OUTPUT wg_out)
  hp=$(ipt_cnt router filter FORWARD hairpinned); wgp=$(wg_handshake_json phone)
  dmesg | tail -n +"$((dm0 + 1))" | grep -E 'martian|ll header' >"$D/pi.dmesg.txt" || true
  local nm; nm=$(grep -c 'martian source' "$D/pi.dmesg.txt" || true)
  local first; first=$(grep -m1 'martian source' "$D/pi.dmesg.txt" | sed 's/^\[[^]]*\] *//' || true)
  [[ -s $D/pi.dmesg.txt ]] || rm -f "$D/pi.dmesg.txt"
  wg_save_logs "$D" pi phone
  write_truth "$D" <<EOF
{ "scenario": "hairpin-nat",
  "description": "Phone on 192.168.2.0/24 behind a Raspberry Pi that masquerades onto 192.168.1.0/24; the phone's endpoint is the public 203.0.113.1:51820, which the home router DNATs back to the Pi (192.168.1.2) out of the same LAN port: the Pi receives handshake initiations with source == destination == 192.168.1.2, drops them as martians, and never answers.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json phone phone phone.pcap wlan0 EN10MB pcap-usec 262144 43712 10.8.0.2/32 "initiations 192.168.2.10:43712 -> 203.0.113.1:51820 every ~5 s, never answered"),
    $(cap_json pi pi pi.pcap eth0 EN10MB pcap-usec 262144 51820 10.8.0.1/24 "legacy-LAN port of the Pi: each initiation twice, out (192.168.1.2 -> 203.0.113.1) and back in with src == dst == 192.168.1.2"),
    $(cap_json router router router.pcap lan0 EN10MB pcap-usec 262144 null "" "home router LAN port: each initiation arrives for 203.0.113.1 and leaves DNATed to 192.168.1.2 with source 192.168.1.2")
  },
  "topology": "phone 192.168.2.10 -- (192.168.2.1) pi [MASQUERADE] (192.168.1.2) -- (192.168.1.1) router [DNAT 203.0.113.1:51820 -> 192.168.1.2:51820] (203.0.113.1) -- isp 203.0.113.254",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": "pi: MASQUERADE 192.168.2.0/24 out eth0 (192.168.1.2); router: DNAT udp 203.0.113.1:51820 -> 192.168.1.2:51820, hairpin out the LAN without SNAT",
    "wrong_key": false, "phone_endpoint": "203.0.113.1:51820", "pi_address": "192.168.1.2", "pi_accept_local": 0, "pi_log_martians": 1,
    "router_send_redirects": 0 },
  "counted": {
    "pi_received_src_eq_dst": $sd, "pi_wireguard_packets_sent": $wo, "router_hairpinned": $hp,
    "dmesg_martian_lines": $nm, "dmesg_first_martian": $(jstr "$first"),
    "phone_ping": "$pr", "wg_show": {"phone": $wgp} },
  "expected_findings": ["martian_same_src_dst", "handshake_unanswered"],
  "also_acceptable_findings": ["nat_rewrite", "martian_source"]
}
EOF
  tsv_all "$D" 51820 43712
}

sc_wrong_key() {
  topo_one_router
  cap_start vps eth0 "$D/vps.pcap" tcpdump -s 96
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump -s 96
  sleep 1
  keypair vps; keypair laptop; keypair stranger
  wg_start vps; wg_start laptop
  wg_iface vps vps 51820 10.0.0.1/24; wg_iface laptop laptop 51821 10.0.0.2/24
  wg_peer vps "$(pub laptop)" - 10.0.0.2/32
  # the laptop has the wrong public key for the vps (someone else's)
  wg_peer laptop "$(pub stranger)" 198.51.100.2:51820 10.0.0.0/24
  local pr; pr=$(ping_run laptop 10.0.0.1 56 1)
  sleep 21
  cap_stop_all
  local f1 f2 wgl; f1=$(ipt_cnt router filter FORWARD fwd_v2l); f2=$(ipt_cnt router filter FORWARD fwd_l2v)
  wgl=$(wg_handshake_json laptop)
  local mac1; mac1=$(grep -c 'invalid mac1' "$WORK/vps.wireguard-go.log" || true)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "wrong-key",
  "description": "The laptop is configured with the wrong public key for the vps: its handshake initiations (148-byte payloads, every ~5 s) reach the vps, fail the mac1 check and are silently dropped; nothing comes back.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 96 51820 10.0.0.1/24 "initiations arrive, no response; truncated to 96 bytes (frame.len keeps the wire size)"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 96 51821 10.0.0.2/24 "initiations leave every ~5 s; truncated to 96 bytes")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": true, "wrong_key_side": "laptop has a wrong public key for vps",
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"} },
  "counted": { "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "vps_log_invalid_mac1": $mac1, "laptop_ping": "$pr", "wg_show": {"laptop": $wgl} },
  "expected_findings": ["handshake_unanswered"]
}
EOF
  tsv_all "$D" 51820 51821
}

sc_ipv6_underlay() {
  ns_new host vps laptop; ns_new router router1 router2
  link vps:eth0 router1:eth-vps; link router1:eth-r2 router2:eth-r1; link laptop:eth0 router2:eth-laptop
  nsx vps ip -6 addr add 2001:db8:1::2/64 dev eth0 nodad;        nsx vps ip -6 route add default via 2001:db8:1::1
  nsx router1 ip -6 addr add 2001:db8:1::1/64 dev eth-vps nodad; nsx router1 ip -6 addr add 2001:db8:ff::1/64 dev eth-r2 nodad
  nsx router2 ip -6 addr add 2001:db8:ff::2/64 dev eth-r1 nodad; nsx router2 ip -6 addr add 2001:db8:2::1/64 dev eth-laptop nodad
  nsx router1 ip -6 route add 2001:db8:2::/64 via 2001:db8:ff::2
  nsx router2 ip -6 route add 2001:db8:1::/64 via 2001:db8:ff::1
  nsx laptop ip -6 addr add 2001:db8:2::2/64 dev eth0 nodad;     nsx laptop ip -6 route add default via 2001:db8:2::1
  local r in
  for r in router1 router2; do
    in=eth-vps; [[ $r == router2 ]] && in=eth-laptop
    nsx "$r" ip6tables -t raw -A PREROUTING -i "$in" -p udp -m length --length 1401:65535 -m comment --comment over1400
    nsx "$r" ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -m comment --comment ptb_out -j ACCEPT
  done
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 "[2001:db8:1::2]:51820" 5
  cap_start vps wg0 "$D/vps-wg0.pcap" tcpdump
  # phase 1: healthy, MTU 1500 everywhere
  local p1 d1; p1=$(ping_sweep laptop 10.0.0.1 56 500 1000 1372 1392)
  d1=$(curl_get laptop http://10.0.0.1:8000/200k.bin 20)
  sleep 6
  local o1a o1b; o1a=$(ipt_cnt router1 raw PREROUTING over1400 ip6tables); o1b=$(ipt_cnt router2 raw PREROUTING over1400 ip6tables)
  nsx router1 ip6tables -t raw -Z PREROUTING; nsx router2 ip6tables -t raw -Z PREROUTING
  # phase 2: the router1-router2 link drops to MTU 1400; ICMPv6 packet-too-big reaches the senders
  local t2; t2=$("$PY" -c 'import time; print(round(time.time(), 6))')
  nsx router1 ip link set eth-r2 mtu 1400; nsx router2 ip link set eth-r1 mtu 1400
  local d2 p2; d2=$(curl_get laptop http://10.0.0.1:8000/100k.bin 20)
  p2=$(ping_sweep laptop 10.0.0.1 1392)
  sleep 6
  cap_stop_all
  local o2a o2b pt1 pt2 fv fl wgv wgl
  o2a=$(ipt_cnt router1 raw PREROUTING over1400 ip6tables); o2b=$(ipt_cnt router2 raw PREROUTING over1400 ip6tables)
  pt1=$(ipt_cnt router1 filter OUTPUT ptb_out ip6tables); pt2=$(ipt_cnt router2 filter OUTPUT ptb_out ip6tables)
  fv=$(nstat_get vps Ip6FragCreates); fl=$(nstat_get laptop Ip6FragCreates)
  wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "ipv6-underlay",
  "description": "WireGuard over IPv6 (2001:db8:1::2 <-> 2001:db8:2::2) through two routers. Phase 1: MTU 1500 everywhere, healthy pings and a 200 KB download (outer packets up to 1500 = 40 + 8 + 1452). Phase 2: the link between the routers drops to MTU 1400; ICMPv6 packet-too-big (mtu 1400) reaches each sender, which then sends IPv6 fragments; the 100 KB download still succeeds.",
  "underlay": "ipv6",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "IPv6 outer packets; phase 2: ICMPv6 packet-too-big mtu 1400 from 2001:db8:1::1, then fragmented 1452-byte payloads"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "client side; phase 2: fragments arrive, PTB for its own 1392-byte pings"),
    $(cap_json vps-wg0 vps vps-wg0.pcap wg0 RAW pcap-usec 262144 51820 10.0.0.1/24 "the vps's tunnel interface: inner IPv4 packets (ping, HTTP) without outer headers; starts after wg0 is up")
  },
  "topology": "vps 2001:db8:1::2 -- router1 =(2001:db8:ff::/64, MTU 1500 then 1400)= router2 -- 2001:db8:2::2 laptop",
  "clock_offset_seconds": 0,
  "phase2_started_unix_time": $t2,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1400, "path_mtu_phase1": 1500, "path_mtu_phase2": 1400,
    "icmp_frag_needed_blocked": false, "icmpv6_packet_too_big_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "persistent_keepalive": {"laptop": 5, "vps": 0},
    "endpoints": {"vps": "[2001:db8:1::2]:51820", "laptop": "[2001:db8:2::2]:51821"} },
  "counted": {
    "phase1": {"ping_results_laptop_to_vps": $p1, "curl_200k": $(curl_json "$d1"),
               "udp_over_1400_forwarded": {"vps->laptop": $o1a, "laptop->vps": $o1b}},
    "phase2": {"curl_100k": $(curl_json "$d2"), "ping_results_laptop_to_vps": $p2,
               "router_dropped_too_big": {"vps->laptop": $o2a, "laptop->vps": $o2b},
               "icmpv6_packet_too_big_sent": {"router1_to_vps": $pt1, "router2_to_laptop": $pt2}},
    "curl_big_ok": $( [[ ${d2%% *} == 0 ]] && echo true || echo false),
    "ip6_frag_creates": {"vps": $fv, "laptop": $fl},
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["pmtud_working"],
  "also_acceptable_findings": ["healthy"]
}
EOF
  tsv_all "$D" 51820 51821
}

sc_random_loss() {
  topo_one_router
  local method
  if nsx router tc qdisc add dev eth-laptop root netem loss 5% 2>/dev/null; then
    method="netem: tc qdisc add dev eth-laptop root netem loss 5% (router egress towards laptop)"
  else
    # this kernel has no sch_netem: the same loss with iptables' statistic match
    method="iptables -A FORWARD -i eth-vps -o eth-laptop -m statistic --mode random --probability 0.05 -j DROP (kernel lacks sch_netem)"
    nsx router iptables -I FORWARD 1 -i eth-vps -o eth-laptop -m statistic --mode random --probability 0.05 \
      -m comment --comment loss_drop -j DROP
    # the fwd_v2l counter (after it) then counts what survived
    nsx router iptables -I FORWARD 1 -i eth-vps -o eth-laptop -p udp -m comment --comment v2l_offered
  fi
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  local pr dl
  dl=$(curl_get laptop http://10.0.0.1:8000/300k.bin 30)
  # then pings of three sizes (replies cross the lossy direction): losses hit every size
  pr=$(printf '{'; for s in 56 1000 1392; do [[ $s == 56 ]] || printf ', '
       printf '"%s": "%s"' "$s" "$(ping_run laptop 10.0.0.1 "$s" 20)"; done; printf '}')
  sleep 2
  cap_stop_all
  local dropped offered passed l2v
  if [[ $method == netem* ]]; then
    dropped=$(nsx router tc -s qdisc show dev eth-laptop | awk '/dropped/ {gsub(",", ""); for (i=1;i<=NF;i++) if ($i=="dropped") print $(i+1); exit}')
    passed=$(ipt_cnt router filter FORWARD fwd_v2l); offered=$((passed + dropped))
  else
    dropped=$(ipt_cnt router filter FORWARD loss_drop); offered=$(ipt_cnt router filter FORWARD v2l_offered)
    passed=$(ipt_cnt router filter FORWARD fwd_v2l)
  fi
  l2v=$(ipt_cnt router filter FORWARD fwd_l2v)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "random-loss",
  "description": "Healthy topology with 5% random loss on the router in the vps->laptop direction only; a 300 KB HTTP download vps->laptop recovers by TCP retransmission, then 20 pings each of 56, 1000 and 1392 bytes. Lost packets are spread over all sizes.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "sender: every packet leaves"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "receiver: about 5% of vps->laptop packets missing, of all sizes")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": 5,
    "loss_direction": "vps->laptop", "loss_method": $(jstr "$method"), "nat": null, "wrong_key": false,
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"} },
  "counted": { "netem_dropped": $dropped, "vps_to_laptop_offered": $offered, "vps_to_laptop_passed": $passed,
    "laptop_to_vps_forwarded_udp": $l2v, "ping_results_laptop_to_vps_20_each": $pr, "curl_300k": $(curl_json "$dl") },
  "expected_findings": ["random_loss"]
}
EOF
  tsv_all "$D" 51820 51821
}

sc_nat_rewrite() {
  ns_new host vps laptop; ns_new router homegw
  link laptop:eth0 homegw:lan0; link homegw:wan0 vps:eth0
  nsx laptop ip addr add 192.168.1.10/24 dev eth0;  nsx laptop ip route add default via 192.168.1.1
  nsx homegw ip addr add 192.168.1.1/24 dev lan0;   nsx homegw ip addr add 203.0.113.1/24 dev wan0
  nsx vps ip addr add 203.0.113.2/24 dev eth0;      nsx vps ip route add default via 203.0.113.1
  nsx homegw iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE --random
  nsx homegw iptables -A FORWARD -i lan0 -o wan0 -p udp -m comment --comment fwd_l2v
  nsx homegw iptables -A FORWARD -i wan0 -o lan0 -p udp -m comment --comment fwd_v2l
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 203.0.113.2:51820 5
  local pings dl
  pings=$(ping_sweep laptop 10.0.0.1 56 1000 1392)
  dl=$(curl_get laptop http://10.0.0.1:8000/200k.bin 20)
  sleep 11
  cap_stop_all
  local wgv wgl f1 f2; wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  f1=$(ipt_cnt homegw filter FORWARD fwd_v2l); f2=$(ipt_cnt homegw filter FORWARD fwd_l2v)
  local seen; seen=$(wgc vps show wg0 endpoints | awk '{print $2; exit}')
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "nat-rewrite",
  "description": "Healthy traffic from a laptop on 192.168.1.10:51821 behind a home gateway that masquerades it (with random source ports) to 203.0.113.1 towards the vps 203.0.113.2:51820: the same packets carry different addresses and ports in the two captures.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "peer seen as the NAT's address 203.0.113.1 and a random port"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "private side: 192.168.1.10:51821 <-> 203.0.113.2:51820")
  },
  "topology": "laptop 192.168.1.10 -- (192.168.1.1) homegw [MASQUERADE --random] (203.0.113.1) -- 203.0.113.2 vps",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": "homegw: MASQUERADE --random out wan0: 192.168.1.10:51821 -> 203.0.113.1:<random>", "wrong_key": false,
    "persistent_keepalive": {"laptop": 5, "vps": 0},
    "endpoints": {"vps": "203.0.113.2:51820", "laptop_private": "192.168.1.10:51821"} },
  "counted": { "vps_sees_laptop_at": "$seen", "ping_results_laptop_to_vps": $pings, "curl_200k": $(curl_json "$dl"),
    "homegw_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["healthy", "nat_rewrite"]
}
EOF
  tsv_all "$D" 51820 51821
}

# UDP payload sizes of the WireGuard packets src -> dst in one capture (tshark): {"size": count}
wg_sizes() { # file display_filter ports...   (e.g. "ip.src==A && ip.dst==B")
  local f=$1 flt=$2 p dargs=(); shift 2
  for p in "$@"; do dargs+=(-d "udp.port==$p,wg"); done
  tshark -r "$f" "${dargs[@]}" -o ip.defragment:FALSE -Y "($flt) && udp && !icmp && ip.frag_offset==0" \
    -T fields -e udp.length | "$PY" -c 'import collections,json,sys
c=collections.Counter(int(l)-8 for l in sys.stdin if l.strip())
print(json.dumps({str(k): c[k] for k in sorted(c)}))'
}
bg_curl() { # outfile host url maxtime   (in the background; wait for it with "wait")
  curl_get "$2" "$3" "$4" >"$1"
}

sc_two_peers() {
  # vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1454)= router2 -- 203.0.113.2 laptop
  #                          \=(192.0.2.4/30, MTU 1500)= router3 -- 203.0.113.130 phone
  ns_new host vps laptop phone; ns_new router router1 router2 router3
  link vps:eth0 router1:eth-vps
  link router1:eth-r2 router2:eth-r1 1454; link laptop:eth0 router2:eth-laptop
  link router1:eth-r3 router3:eth-r1;      link phone:eth0 router3:eth-phone
  nsx vps ip addr add 198.51.100.2/24 dev eth0;          nsx vps ip route add default via 198.51.100.1
  nsx router1 ip addr add 198.51.100.1/24 dev eth-vps
  nsx router1 ip addr add 192.0.2.1/30 dev eth-r2;       nsx router1 ip addr add 192.0.2.5/30 dev eth-r3
  nsx router1 ip route add 203.0.113.0/25 via 192.0.2.2; nsx router1 ip route add 203.0.113.128/25 via 192.0.2.6
  nsx router2 ip addr add 192.0.2.2/30 dev eth-r1;       nsx router2 ip addr add 203.0.113.1/25 dev eth-laptop
  nsx router2 ip route add default via 192.0.2.1
  nsx router3 ip addr add 192.0.2.6/30 dev eth-r1;       nsx router3 ip addr add 203.0.113.129/25 dev eth-phone
  nsx router3 ip route add default via 192.0.2.5
  nsx laptop ip addr add 203.0.113.2/25 dev eth0;        nsx laptop ip route add default via 203.0.113.1
  nsx phone ip addr add 203.0.113.130/25 dev eth0;       nsx phone ip route add default via 203.0.113.129
  # DF packets too big for the 1454 link (raw PREROUTING: dropped before FORWARD), per direction
  nsx router1 iptables -t raw -A PREROUTING -i eth-vps -d 203.0.113.2 -p udp -m length --length 1455:65535 -m u32 --u32 "4&0x4000=0x4000" \
    -m comment --comment too_big_v2l
  nsx router2 iptables -t raw -A PREROUTING -i eth-laptop -p udp -m length --length 1455:65535 -m u32 --u32 "4&0x4000=0x4000" \
    -m comment --comment too_big_l2v
  # forwarded WireGuard (UDP) packets per peer and direction, all on router1 (the vps's only way out)
  nsx router1 iptables -A FORWARD -i eth-vps -o eth-r2 -p udp -m comment --comment fwd_v2l
  nsx router1 iptables -A FORWARD -i eth-r2 -o eth-vps -p udp -m comment --comment fwd_l2v
  nsx router1 iptables -A FORWARD -i eth-vps -o eth-r3 -p udp -m comment --comment fwd_v2p
  nsx router1 iptables -A FORWARD -i eth-r3 -o eth-vps -p udp -m comment --comment fwd_p2v
  nsx router1 iptables -A FORWARD -i eth-vps -o eth-r3 -p udp -m length --length 1455:65535 -m comment --comment big_v2p
  nsx router1 iptables -A FORWARD -i eth-r3 -o eth-vps -p udp -m length --length 1455:65535 -m comment --comment big_p2v
  local r
  for r in router1 router2; do
    nsx "$r" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_out -j DROP
    nsx "$r" iptables -A FORWARD -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_fwd -j DROP
  done
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  cap_start phone eth0 "$D/phone.pcap" tcpdump
  sleep 1
  keypair vps; keypair laptop; keypair phone
  wg_start vps; wg_start laptop; wg_start phone
  wg_iface vps vps 51820 10.0.0.1/24
  wg_iface laptop laptop 51821 10.0.0.2/24
  wg_iface phone phone 51822 10.0.0.3/24
  wg_peer vps "$(pub laptop)" - 10.0.0.2/32
  wg_peer vps "$(pub phone)" - 10.0.0.3/32
  wg_peer laptop "$(pub vps)" 198.51.100.2:51820 10.0.0.0/24
  wg_peer phone "$(pub vps)" 198.51.100.2:51820 10.0.0.0/24
  # both clients at the same time (one wg0 on the vps serving both); 1364 -> outer 1452 fits 1454,
  # 1372 -> outer 1468 and 1392 -> outer 1480 do not (but fit the phone's 1500 path)
  local lv lb lp pv pb pp
  bg_curl "$WORK/lv" laptop http://10.0.0.1:8000/version 10 & local j1=$!
  bg_curl "$WORK/pv" phone http://10.0.0.1:8000/version 10 & local j2=$!
  wait "$j1" "$j2"
  ( ping_sweep laptop 10.0.0.1 56 500 1000 1364 1372 1392 >"$WORK/lp" ) & j1=$!
  ( ping_sweep phone 10.0.0.1 56 500 1000 1364 1372 1392 >"$WORK/pp" ) & j2=$!
  wait "$j1" "$j2"
  bg_curl "$WORK/lb" laptop http://10.0.0.1:8000/login.html 15 & j1=$!
  bg_curl "$WORK/pb" phone http://10.0.0.1:8000/login.html 15 & j2=$!
  wait "$j1" "$j2"
  bg_curl "$WORK/p2" phone http://10.0.0.1:8000/200k.bin 15
  sleep 2
  cap_stop_all
  lv=$(cat "$WORK/lv"); lb=$(cat "$WORK/lb"); lp=$(cat "$WORK/lp")
  pv=$(cat "$WORK/pv"); pb=$(cat "$WORK/pb"); pp=$(cat "$WORK/pp"); local p2; p2=$(cat "$WORK/p2")
  local tb1 tb2 f1 f2 f3 f4 b3 b4 ic1 ic2 ff1 ff2
  tb1=$(ipt_cnt router1 raw PREROUTING too_big_v2l); tb2=$(ipt_cnt router2 raw PREROUTING too_big_l2v)
  f1=$(ipt_cnt router1 filter FORWARD fwd_v2l); f2=$(ipt_cnt router1 filter FORWARD fwd_l2v)
  f3=$(ipt_cnt router1 filter FORWARD fwd_v2p); f4=$(ipt_cnt router1 filter FORWARD fwd_p2v)
  b3=$(ipt_cnt router1 filter FORWARD big_v2p); b4=$(ipt_cnt router1 filter FORWARD big_p2v)
  ic1=$(ipt_cnt router1 filter OUTPUT icmp_fn_out); ic2=$(ipt_cnt router2 filter OUTPUT icmp_fn_out)
  ff1=$(nstat_get router1 IpFragFails); ff2=$(nstat_get router2 IpFragFails)
  local wvl wvp wl wp
  wvl=$(wg_handshake_json vps wg0 "$(pub laptop)"); wvp=$(wg_handshake_json vps wg0 "$(pub phone)")
  wl=$(wg_handshake_json laptop); wp=$(wg_handshake_json phone)
  local P=(51820 51821 51822)
  local sz_v2l_s sz_v2l_r sz_l2v_s sz_l2v_r sz_v2p_s sz_v2p_r sz_p2v_s sz_p2v_r
  sz_v2l_s=$(wg_sizes "$D/vps.pcap" "ip.src==198.51.100.2 && ip.dst==203.0.113.2" "${P[@]}");    sz_v2l_r=$(wg_sizes "$D/laptop.pcap" "ip.src==198.51.100.2 && ip.dst==203.0.113.2" "${P[@]}")
  sz_l2v_s=$(wg_sizes "$D/laptop.pcap" "ip.src==203.0.113.2 && ip.dst==198.51.100.2" "${P[@]}"); sz_l2v_r=$(wg_sizes "$D/vps.pcap" "ip.src==203.0.113.2 && ip.dst==198.51.100.2" "${P[@]}")
  sz_v2p_s=$(wg_sizes "$D/vps.pcap" "ip.src==198.51.100.2 && ip.dst==203.0.113.130" "${P[@]}");  sz_v2p_r=$(wg_sizes "$D/phone.pcap" "ip.src==198.51.100.2 && ip.dst==203.0.113.130" "${P[@]}")
  sz_p2v_s=$(wg_sizes "$D/phone.pcap" "ip.src==203.0.113.130 && ip.dst==198.51.100.2" "${P[@]}"); sz_p2v_r=$(wg_sizes "$D/vps.pcap" "ip.src==203.0.113.130 && ip.dst==198.51.100.2" "${P[@]}")
  wg_save_logs "$D" vps laptop phone
  write_truth "$D" <<EOF
{ "scenario": "two-peers",
  "description": "One vps wg0 (port 51820) serving two peers at once. The laptop (10.0.0.2) sits behind a 1454-MTU link whose routers drop the ICMP fragmentation-needed they generate: its small packets pass, every WireGuard datagram over 1454 bytes (1372/1392-byte pings, full-size TCP segments of /login.html) is silently dropped in both directions, and its big download times out after 15 s. The phone (10.0.0.3) has a 1500-MTU path: the same sizes reach it and its downloads succeed. vps.pcap shows both peers.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "server side of both peers: 1452-byte payloads leave towards both; the phone's arrive and are answered, the laptop's are retransmitted"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "peer 1 behind the 1454-MTU blackhole: no WireGuard payload over 1424 bytes ever arrives"),
    $(cap_json phone phone phone.pcap eth0 EN10MB pcap-usec 262144 51822 10.0.0.3/24 "peer 2 on a 1500-MTU path: healthy, receives 1452-byte payloads")
  },
  "topology": "vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1454)= router2 -- 203.0.113.2 laptop; router1 =(192.0.2.4/30, MTU 1500)= router3 -- 203.0.113.130 phone",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": {"vps<->laptop": 1454, "vps<->phone": 1500},
    "icmp_frag_needed_blocked": true, "icmp_frag_needed_blocked_on": ["router1", "router2"], "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "largest_wg_udp_payload_fitting_path": {"vps<->laptop": 1424, "vps<->phone": 1472},
    "peers_of_vps_wg0": {
      "laptop": {"tunnel_address": "10.0.0.2/32", "endpoint": "203.0.113.2:51821", "path_mtu": 1454},
      "phone": {"tunnel_address": "10.0.0.3/32", "endpoint": "203.0.113.130:51822", "path_mtu": 1500} },
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821", "phone": "203.0.113.130:51822"},
    "ping_sizes": [56, 500, 1000, 1364, 1372, 1392],
    "http": {"small": "/version", "big": ["/login.html (~49 KB, both peers)", "/200k.bin (phone)"], "curl_max_time": 15},
    "traffic": "laptop and phone run the same ping sweep and the same /login.html download at the same time" },
  "counted": {
    "router_dropped_too_big": {"vps->laptop": $tb1, "laptop->vps": $tb2},
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2, "vps->phone": $f3, "phone->vps": $f4},
    "router_forwarded_udp_over_1454": {"vps->phone": $b3, "phone->vps": $b4},
    "router_ip_frag_fails": {"router1": $ff1, "router2": $ff2},
    "icmp_dropped": $((ic1 + ic2)), "icmp_dropped_per_router": {"router1": $ic1, "router2": $ic2},
    "ping_results_laptop_to_vps": $lp, "ping_results_phone_to_vps": $pp,
    "curl_laptop_version": $(curl_json "$lv"), "curl_laptop_login": $(curl_json "$lb"),
    "curl_phone_version": $(curl_json "$pv"), "curl_phone_login": $(curl_json "$pb"), "curl_phone_200k": $(curl_json "$p2"),
    "udp_payload_sizes_from_captures_tshark": {
      "vps->laptop": {"sent_at_vps": $sz_v2l_s, "received_at_laptop": $sz_v2l_r},
      "laptop->vps": {"sent_at_laptop": $sz_l2v_s, "received_at_vps": $sz_l2v_r},
      "vps->phone": {"sent_at_vps": $sz_v2p_s, "received_at_phone": $sz_v2p_r},
      "phone->vps": {"sent_at_phone": $sz_p2v_s, "received_at_vps": $sz_p2v_r} },
    "wg_show": {"vps_peer_laptop": $wvl, "vps_peer_phone": $wvp, "laptop": $wl, "phone": $wp} },
  "pairs": {
    "vps+laptop": {"files": ["vps.pcap", "laptop.pcap"], "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "other_peers"]},
    "vps+phone": {"files": ["vps.pcap", "phone.pcap"], "expected_findings": ["healthy", "other_peers"]} },
  "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "other_peers"],
  "expected_findings_are_for": "the pair (vps.pcap, laptop.pcap); see pairs"
}
EOF
  tsv_all "$D" "${P[@]}"
}

at_t() { # seconds: sleep until $T0 + seconds (T0: unix time taken when the captures started)
  "$PY" -c 'import sys,time; d=float(sys.argv[1])+float(sys.argv[2])-time.time(); time.sleep(max(d,0))' "$T0" "$1"
}
ct_del_laptop() { # delete the laptop's WireGuard flow from homegw's conntrack table -> number deleted
  { nsx homegw conntrack -D -p udp --orig-src 192.168.1.10 --orig-port-src 51821 2>&1 >/dev/null || true; } \
    | sed -n 's/.* \([0-9][0-9]*\) flow entries.*/\1/p'
}
now() { "$PY" -c 'import time; print(f"{time.time():.6f}")'; }

sc_rekey_rebind() {
  # laptop 192.168.1.10:51821 -- (192.168.1.1) homegw [SNAT to 203.0.113.1:40001 / 40002] (203.0.113.1) -- 203.0.113.2 vps
  ns_new host vps laptop; ns_new router homegw
  link laptop:eth0 homegw:lan0; link homegw:wan0 vps:eth0
  nsx laptop ip addr add 192.168.1.10/24 dev eth0;  nsx laptop ip route add default via 192.168.1.1
  nsx homegw ip addr add 192.168.1.1/24 dev lan0;   nsx homegw ip addr add 203.0.113.1/24 dev wan0
  nsx vps ip addr add 203.0.113.2/24 dev eth0;      nsx vps ip route add default via 203.0.113.1
  # a fixed public port per mapping, so that a rebinding is a known change of port
  nsx homegw iptables -t nat -A POSTROUTING -o wan0 -p udp -s 192.168.1.10 --sport 51821 \
    -m comment --comment snat_wg -j SNAT --to-source 203.0.113.1:40001
  nsx homegw iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
  nsx homegw iptables -A FORWARD -i lan0 -o wan0 -p udp -m comment --comment fwd_l2v
  nsx homegw iptables -A FORWARD -i wan0 -o lan0 -p udp -m comment --comment fwd_v2l
  # packets from the vps to a public port without a mapping end at the gateway itself: dropped silently
  nsx homegw iptables -A INPUT -i wan0 -p udp -m comment --comment no_mapping_drop -j DROP
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  T0=$(now)
  sleep 1
  tunnel_vps_laptop 51820 51821 203.0.113.2:51820 25
  # steady traffic: a ping every 0.25 s for 176 s (the first one starts the handshake)
  ip netns exec "${PFX}laptop" ping -n -q -i 0.25 -w 176 -W 1 10.0.0.1 >"$WORK/ping.out" 2>&1 &
  local pingpid=$!
  local c1 c2 c3 c4 c5 r1a r1b r2a r2b d1 d2
  at_t 10;  c1=$(curl_get laptop http://10.0.0.1:8000/login.html 10)
  # rebinding 1: the gateway forgets the mapping and gives the laptop a new public port
  at_t 60;  r1a=$(now)
  nsx homegw iptables -t nat -R POSTROUTING 1 -o wan0 -p udp -s 192.168.1.10 --sport 51821 \
    -m comment --comment snat_wg -j SNAT --to-source 203.0.113.1:40002
  d1=$(ct_del_laptop)
  r1b=$(now)
  at_t 64;  c2=$(curl_get laptop http://10.0.0.1:8000/login.html 10)
  at_t 100; c3=$(curl_get laptop http://10.0.0.1:8000/login.html 10)
  # (wireguard-go's rekey: the laptop, as initiator, starts a new handshake at the first
  #  packet it sends after 120 s of session age, ~ t = 122 s)
  # rebinding 2: back to the first public port (roam X -> Y -> X)
  at_t 140; r2a=$(now)
  nsx homegw iptables -t nat -R POSTROUTING 1 -o wan0 -p udp -s 192.168.1.10 --sport 51821 \
    -m comment --comment snat_wg -j SNAT --to-source 203.0.113.1:40001
  d2=$(ct_del_laptop)
  r2b=$(now)
  at_t 144; c4=$(curl_get laptop http://10.0.0.1:8000/login.html 10)
  at_t 170; c5=$(curl_get laptop http://10.0.0.1:8000/login.html 10)
  wait "$pingpid" || true
  local pr; pr=$(awk '/packets transmitted/ {print $4 "/" $1}' "$WORK/ping.out")
  sleep 1
  cap_stop_all
  local f1 f2 nm wgv wgl seen
  f1=$(ipt_cnt homegw filter FORWARD fwd_v2l); f2=$(ipt_cnt homegw filter FORWARD fwd_l2v)
  nm=$(ipt_cnt homegw filter INPUT no_mapping_drop)
  wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  seen=$(wgc vps show wg0 endpoints | awk '{print $2; exit}')
  # handshakes, sessions and the endpoints the vps saw, from the captures (tshark)
  local TS
  TS=$("$PY" - "$D" "$r1a" "$r1b" "$r2a" "$r2b" <<'EOPY'
import json, subprocess, sys
d = sys.argv[1]
events = {"rebinding_1": (float(sys.argv[2]), float(sys.argv[3])), "rebinding_2": (float(sys.argv[4]), float(sys.argv[5]))}
def rows(f):
    out = subprocess.run(["tshark", "-r", f"{d}/{f}", "-d", "udp.port==51820,wg", "-d", "udp.port==51821,wg",
                          "-Y", "wg", "-T", "fields", "-E", "separator=/t",
                          "-e", "frame.number", "-e", "frame.time_relative", "-e", "frame.time_epoch",
                          "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport",
                          "-e", "wg.type", "-e", "wg.sender", "-e", "wg.receiver"],
                         check=True, capture_output=True, text=True).stdout
    r = []
    for l in out.splitlines():
        n, rel, ep, s, sp, dd, dp, ty, snd, rcv = (l.split("\t") + [""] * 10)[:10]
        r.append(dict(frame=int(n), t=round(float(rel), 6), epoch=float(ep), src=f"{s}:{sp}", dst=f"{dd}:{dp}",
                      type=int(ty), sender=snd, receiver=rcv))
    return r
def first_epoch(f):
    out = subprocess.run(["tshark", "-r", f"{d}/{f}", "-c", "1", "-T", "fields", "-e", "frame.time_epoch"],
                         check=True, capture_output=True, text=True).stdout
    return float(out.split()[0])
res = {}
for f, host in (("vps.pcap", "vps"), ("laptop.pcap", "laptop")):
    rs = rows(f)
    t0 = first_epoch(f)
    hs = [{"frame": r["frame"], "t": r["t"], "type": {1: "initiation", 2: "response"}[r["type"]],
           "src": r["src"], "dst": r["dst"], "sender_index": r["sender"],
           **({"receiver_index": r["receiver"]} if r["type"] == 2 else {})}
          for r in rs if r["type"] in (1, 2)]
    # transport data per receiver index: first/last frame
    sess = {}
    for r in rs:
        if r["type"] == 4:
            s = sess.setdefault(r["receiver"], {"receiver_index": r["receiver"], "first_frame": r["frame"], "first_t": r["t"], "packets": 0})
            s["last_frame"], s["last_t"] = r["frame"], r["t"]
            s["packets"] += 1
    # runs of (peer address) per direction: where the peer was seen, frame ranges
    def runs(key, sel):
        out = []
        for r in rs:
            if not sel(r):
                continue
            k = r[key]
            if out and out[-1]["endpoint"] == k:
                o = out[-1]; o["last_frame"], o["last_t"] = r["frame"], r["t"]; o["packets"] += 1
            else:
                out.append({"endpoint": k, "first_frame": r["frame"], "first_t": r["t"], "last_frame": r["frame"], "last_t": r["t"], "packets": 1})
        return out
    me = {"vps": "203.0.113.2:51820", "laptop": "192.168.1.10:51821"}[host]
    res[host] = {"first_frame_unix_time": round(t0, 6),
                 "handshake_messages": hs,
                 "data_by_receiver_index": list(sess.values()),
                 "peer_as_source": runs("src", lambda r: r["dst"] == me),
                 "peer_as_destination": runs("dst", lambda r: r["src"] == me),
                 "events_capture_relative": {k: [round(a - t0, 6), round(b - t0, 6)] for k, (a, b) in events.items()}}
# sessions: an initiation and its response (seen at the vps)
v = res["vps"]["handshake_messages"]
ses = []
for m in v:
    if m["type"] == "response":
        ini = [i for i in v if i["type"] == "initiation" and i["sender_index"] == m["receiver_index"]]
        ses.append({"initiator": "laptop", "initiator_index": m["receiver_index"], "responder_index": m["sender_index"],
                    "initiation_frame_vps": ini[-1]["frame"] if ini else None, "response_frame_vps": m["frame"],
                    "response_t_vps": m["t"]})
for s in ses:
    l = res["laptop"]["handshake_messages"]
    s["initiation_frame_laptop"] = next((m["frame"] for m in l if m["type"] == "initiation" and m["sender_index"] == s["initiator_index"]), None)
    s["response_frame_laptop"] = next((m["frame"] for m in l if m["type"] == "response" and m["sender_index"] == s["responder_index"]), None)
res["sessions"] = ses
print(json.dumps(res))
EOPY
)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "rekey-rebind",
  "description": "A laptop behind a home gateway (SNAT to a fixed public port) pings the vps every 0.25 s for 176 s and fetches /login.html five times. At t ~ 60 s the gateway rebinds: its SNAT rule changes to port 40002 and the laptop's conntrack entry is deleted, so the vps sees the same peer arrive from 203.0.113.1:40002 instead of :40001 and answers there; at t ~ 140 s it rebinds back to 40001. At t ~ 122 s wireguard-go rekeys (REKEY_AFTER_TIME 120 s): a second handshake, new sender/receiver indexes.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "peer seen as 203.0.113.1:40001, then :40002 (t ~ 60 s), then :40001 again (t ~ 140 s); two handshakes (t ~ 1.5 s and ~ 122 s)"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "private side: always 192.168.1.10:51821 <-> 203.0.113.2:51820; the same two handshakes")
  },
  "topology": "laptop 192.168.1.10 -- (192.168.1.1) homegw [SNAT 192.168.1.10:51821 -> 203.0.113.1:40001 | :40002] (203.0.113.1) -- 203.0.113.2 vps",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": "homegw: SNAT udp 192.168.1.10:51821 -> 203.0.113.1:40001; at rebinding 1 -> :40002, at rebinding 2 -> :40001 (iptables -R + conntrack -D of the flow); packets to a port without mapping are dropped (INPUT)",
    "wrong_key": false, "persistent_keepalive": {"laptop": 25, "vps": 0},
    "endpoints": {"vps": "203.0.113.2:51820", "laptop_private": "192.168.1.10:51821",
                  "laptop_public": ["203.0.113.1:40001", "203.0.113.1:40002", "203.0.113.1:40001"]},
    "rebindings_unix_time": {"rebinding_1": [$r1a, $r1b], "rebinding_2": [$r2a, $r2b]},
    "rebindings_public_port": {"rebinding_1": [40001, 40002], "rebinding_2": [40002, 40001]},
    "traffic": "ping -i 0.25 -w 176 laptop -> 10.0.0.1 from t ~ 1.5 s; curl /login.html (~49 KB) at t ~ 10, 64, 100, 144, 170 s",
    "wireguard_go_rekey_after_seconds": 120 },
  "counted": {
    "homegw_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "router_dropped_no_mapping": {"vps->laptop": $nm},
    "conntrack_entries_deleted": {"rebinding_1": $d1, "rebinding_2": $d2},
    "ping_laptop_to_vps": "$pr",
    "curl_login": [$(curl_json "$c1"), $(curl_json "$c2"), $(curl_json "$c3"), $(curl_json "$c4"), $(curl_json "$c5")],
    "vps_sees_laptop_at_end": "$seen",
    "wg_show": {"vps": $wgv, "laptop": $wgl},
    "from_captures_tshark": $TS },
  "expected_findings": ["healthy", "nat_rewrite", "endpoint_roaming"]
}
EOF
  tsv_all "$D" 51820 51821
}

sc_two_tunnels() {
  # the same vps and laptop joined by two tunnels (two wireguard-go each), one 1472-MTU path:
  #  tunnel 1 wg0 51820<->51821, tunnel MTU 1380: full-size outer IPv4 1440 fits
  #  tunnel 2 wg1 51822<->51823, tunnel MTU 1420: full-size outer IPv4 1480 does not
  topo_two_routers 1472
  # per tunnel and direction: DF datagrams too big for the 1472 link (raw PREROUTING, dropped
  # before FORWARD) and forwarded ones (router1 FORWARD sees both directions)
  local t vs ls
  for t in 1 2; do
    vs=$((51818 + 2 * t)); ls=$((vs + 1))
    nsx router1 iptables -t raw -A PREROUTING -i eth-vps -p udp --sport "$vs" -m length --length 1473:65535 -m u32 --u32 "4&0x4000=0x4000" \
      -m comment --comment "too_big_t${t}_v2l"
    nsx router2 iptables -t raw -A PREROUTING -i eth-laptop -p udp --sport "$ls" -m length --length 1473:65535 -m u32 --u32 "4&0x4000=0x4000" \
      -m comment --comment "too_big_t${t}_l2v"
    nsx router1 iptables -A FORWARD -i eth-vps -o eth-r2 -p udp --sport "$vs" -m comment --comment "fwd_t${t}_v2l"
    nsx router1 iptables -A FORWARD -i eth-r2 -o eth-vps -p udp --sport "$ls" -m comment --comment "fwd_t${t}_l2v"
    nsx router1 iptables -A FORWARD -i eth-vps -o eth-r2 -p udp --sport "$vs" -m length --length 1401:65535 -m comment --comment "fwd_t${t}_v2l_over_1400"
  done
  nsx router1 iptables -A FORWARD -i eth-vps -o eth-r2 -p udp -m comment --comment fwd_v2l
  nsx router1 iptables -A FORWARD -i eth-r2 -o eth-vps -p udp -m comment --comment fwd_l2v
  local r
  for r in router1 router2; do
    nsx "$r" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_out -j DROP
    nsx "$r" iptables -A FORWARD -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_fwd -j DROP
  done
  http_serve vps 8000
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  sleep 1
  keypair vps; keypair laptop; keypair vps-t2; keypair laptop-t2
  wg_start vps; wg_start laptop; wg_start vps wg1; wg_start laptop wg1
  wg_iface vps vps 51820 10.0.0.1/24 1380;        wg_iface laptop laptop 51821 10.0.0.2/24 1380
  wg_iface vps vps-t2 51822 10.0.1.1/24 1420 wg1; wg_iface laptop laptop-t2 51823 10.0.1.2/24 1420 wg1
  wg_peer vps "$(pub laptop)" - 10.0.0.2/32
  wg_peer laptop "$(pub vps)" 198.51.100.2:51820 10.0.0.0/24
  wg_peer vps "$(pub laptop-t2)" - 10.0.1.2/32 0 wg1
  wg_peer laptop "$(pub vps-t2)" 198.51.100.2:51822 10.0.1.0/24 0 wg1
  # tunnel 1: 1352 -> inner 1380 (its MTU) -> outer 1440. tunnel 2: 1380 -> inner 1408 -> outer 1468
  # (fits); 1384 -> inner 1412, padded to 1420 (WireGuard pads to 16, at most to the tunnel MTU)
  # -> outer 1480 (does not), as 1392; full-size TCP segments: tunnel 1 outer 1440, tunnel 2 outer 1480
  local j1 j2
  bg_curl "$WORK/v1" laptop http://10.0.0.1:8000/version 10 & j1=$!
  bg_curl "$WORK/v2" laptop http://10.0.1.1:8000/version 10 & j2=$!
  wait "$j1" "$j2"
  ( ping_sweep laptop 10.0.0.1 56 1000 1352 >"$WORK/p1" ) & j1=$!
  ( ping_sweep laptop 10.0.1.1 56 1000 1352 1380 1384 1392 >"$WORK/p2" ) & j2=$!
  wait "$j1" "$j2"
  bg_curl "$WORK/b1" laptop http://10.0.0.1:8000/login.html 15 & j1=$!
  bg_curl "$WORK/b2" laptop http://10.0.1.1:8000/login.html 15 & j2=$!
  wait "$j1" "$j2"
  bg_curl "$WORK/k1" laptop http://10.0.0.1:8000/200k.bin 15
  sleep 2
  cap_stop_all
  local v1 v2 p1 p2 b1 b2 k1
  v1=$(cat "$WORK/v1"); v2=$(cat "$WORK/v2"); p1=$(cat "$WORK/p1"); p2=$(cat "$WORK/p2")
  b1=$(cat "$WORK/b1"); b2=$(cat "$WORK/b2"); k1=$(cat "$WORK/k1")
  local tb1v tb1l tb2v tb2l f1v f1l f2v f2l o1 o2 fv fl ic1 ic2
  tb1v=$(ipt_cnt router1 raw PREROUTING too_big_t1_v2l); tb1l=$(ipt_cnt router2 raw PREROUTING too_big_t1_l2v)
  tb2v=$(ipt_cnt router1 raw PREROUTING too_big_t2_v2l); tb2l=$(ipt_cnt router2 raw PREROUTING too_big_t2_l2v)
  f1v=$(ipt_cnt router1 filter FORWARD fwd_t1_v2l); f1l=$(ipt_cnt router1 filter FORWARD fwd_t1_l2v)
  f2v=$(ipt_cnt router1 filter FORWARD fwd_t2_v2l); f2l=$(ipt_cnt router1 filter FORWARD fwd_t2_l2v)
  o1=$(ipt_cnt router1 filter FORWARD fwd_t1_v2l_over_1400); o2=$(ipt_cnt router1 filter FORWARD fwd_t2_v2l_over_1400)
  fv=$(ipt_cnt router1 filter FORWARD fwd_v2l); fl=$(ipt_cnt router1 filter FORWARD fwd_l2v)
  ic1=$(ipt_cnt router1 filter OUTPUT icmp_fn_out); ic2=$(ipt_cnt router2 filter OUTPUT icmp_fn_out)
  local w1v w1l w2v w2l
  w1v=$(wg_handshake_json vps); w1l=$(wg_handshake_json laptop)
  w2v=$(wg_handshake_json vps wg1); w2l=$(wg_handshake_json laptop wg1)
  local P=(51820 51821 51822 51823) s1v s1l s2v s2l r1v r1l r2v r2l
  s1v=$(wg_sizes "$D/vps.pcap" "udp.srcport==51820 && udp.dstport==51821" "${P[@]}"); r1v=$(wg_sizes "$D/laptop.pcap" "udp.srcport==51820 && udp.dstport==51821" "${P[@]}")
  s1l=$(wg_sizes "$D/laptop.pcap" "udp.srcport==51821 && udp.dstport==51820" "${P[@]}"); r1l=$(wg_sizes "$D/vps.pcap" "udp.srcport==51821 && udp.dstport==51820" "${P[@]}")
  s2v=$(wg_sizes "$D/vps.pcap" "udp.srcport==51822 && udp.dstport==51823" "${P[@]}"); r2v=$(wg_sizes "$D/laptop.pcap" "udp.srcport==51822 && udp.dstport==51823" "${P[@]}")
  s2l=$(wg_sizes "$D/laptop.pcap" "udp.srcport==51823 && udp.dstport==51822" "${P[@]}"); r2l=$(wg_sizes "$D/vps.pcap" "udp.srcport==51823 && udp.dstport==51822" "${P[@]}")
  wg_save_logs "$D" vps laptop vps/wg1 laptop/wg1
  write_truth "$D" <<EOF
{ "scenario": "two-tunnels",
  "description": "The same vps and laptop run two WireGuard tunnels at once (two wireguard-go processes each, different keys and subnets) over one path whose middle link has MTU 1472 and whose routers drop the ICMP fragmentation-needed they generate. Tunnel 1 (51820<->51821, tunnel MTU 1380, 10.0.0.0/24): full-size outer packets are 1440 bytes and pass; healthy, its downloads succeed. Tunnel 2 (51822<->51823, tunnel MTU 1420, 10.0.1.0/24): datagrams over 1472 bytes (outer 1480 for full-size TCP segments and for 1384- and 1392-byte pings, whose inner packets WireGuard pads to 1420) are silently dropped; 1380-byte pings (outer 1468) still pass; its big download times out after 15 s.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 "[51820, 51822]" "[\"10.0.0.1/24\", \"10.0.1.1/24\"]" "both tunnels' outer packets: tunnel 2's 1452-byte payloads (outer 1480) leave and are retransmitted; tunnel 1's 1412-byte ones (outer 1440) are answered"),
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 "[51821, 51823]" "[\"10.0.0.2/24\", \"10.0.1.2/24\"]" "both tunnels: no WireGuard payload of tunnel 2 over 1440 bytes (outer 1468) ever arrives")
  },
  "topology": "vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1472)= router2 -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "path_mtu": 1472, "icmp_frag_needed_blocked": true, "netem_loss_percent": null, "nat": null, "wrong_key": false,
    "largest_wg_udp_payload_fitting_path": 1440,
    "tunnels": {
      "51820<->51821": {"interface": "wg0", "ports": {"vps": 51820, "laptop": 51821}, "tunnel_mtu": 1380,
                        "tunnel_addresses": {"vps": "10.0.0.1/24", "laptop": "10.0.0.2/24"},
                        "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"},
                        "full_size_outer_ipv4": 1440, "fits_path": true, "ping_sizes": [56, 1000, 1352]},
      "51822<->51823": {"interface": "wg1", "ports": {"vps": 51822, "laptop": 51823}, "tunnel_mtu": 1420,
                        "tunnel_addresses": {"vps": "10.0.1.1/24", "laptop": "10.0.1.2/24"},
                        "endpoints": {"vps": "198.51.100.2:51822", "laptop": "203.0.113.2:51823"},
                        "full_size_outer_ipv4": 1480, "fits_path": false, "ping_sizes": [56, 1000, 1352, 1380, 1384, 1392]} },
    "http": {"small": "/version (each tunnel)", "big": ["/login.html (~49 KB, each tunnel, at the same time)", "/200k.bin (tunnel 1)"], "curl_max_time": 15} },
  "counted": {
    "router_dropped_too_big": {"vps->laptop": $((tb1v + tb2v)), "laptop->vps": $((tb1l + tb2l))},
    "router_forwarded_udp": {"vps->laptop": $fv, "laptop->vps": $fl},
    "per_tunnel": {
      "51820<->51821": {"dropped_too_big": {"vps->laptop": $tb1v, "laptop->vps": $tb1l},
                        "forwarded_udp": {"vps->laptop": $f1v, "laptop->vps": $f1l},
                        "forwarded_udp_over_1400": {"vps->laptop": $o1},
                        "ping_results_laptop_to_vps": $p1,
                        "curl_version": $(curl_json "$v1"), "curl_login": $(curl_json "$b1"), "curl_200k": $(curl_json "$k1"),
                        "udp_payload_sizes_from_captures_tshark": {"vps->laptop": {"sent_at_vps": $s1v, "received_at_laptop": $r1v},
                                                                   "laptop->vps": {"sent_at_laptop": $s1l, "received_at_vps": $r1l}},
                        "wg_show": {"vps": $w1v, "laptop": $w1l},
                        "expected_findings": ["healthy"]},
      "51822<->51823": {"dropped_too_big": {"vps->laptop": $tb2v, "laptop->vps": $tb2l},
                        "forwarded_udp": {"vps->laptop": $f2v, "laptop->vps": $f2l},
                        "forwarded_udp_over_1400": {"vps->laptop": $o2},
                        "ping_results_laptop_to_vps": $p2,
                        "curl_version": $(curl_json "$v2"), "curl_login": $(curl_json "$b2"),
                        "udp_payload_sizes_from_captures_tshark": {"vps->laptop": {"sent_at_vps": $s2v, "received_at_laptop": $r2v},
                                                                   "laptop->vps": {"sent_at_laptop": $s2l, "received_at_vps": $r2l}},
                        "wg_show": {"vps": $w2v, "laptop": $w2l},
                        "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent"]} },
    "icmp_dropped": $((ic1 + ic2)), "icmp_dropped_per_router": {"router1": $ic1, "router2": $ic2} },
  "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent"],
  "expected_findings_are_for": "the pair of captures as a whole; per tunnel see counted.per_tunnel: 51822<->51823 has them, 51820<->51821 is healthy"
}
EOF
  tsv_all "$D" "${P[@]}"
}

# frames of an any-capture by the cooked header's ARPHRD type (tshark): {"1": n, "772": n, "65534": n}
sll_hatypes() { # file
  tshark -r "$1" -T fields -e sll.hatype | "$PY" -c 'import collections,json,sys
c=collections.Counter(l.strip() for l in sys.stdin)
print(json.dumps({k: c[k] for k in sorted(c, key=lambda x: int(x or 0))}))'
}

sc_any_both() {
  topo_one_router
  http_serve vps 8000
  # both ends capture on "any": outer packets (eth0), inner ones (wg0), loopback; the vps
  # with tcpdump's default cooked header for any (LINUX_SLL2), the laptop with the older LINUX_SLL
  cap_start vps any "$D/vps.pcap" tcpdump
  cap_start laptop any "$D/laptop.pcap" tcpdump -y LINUX_SLL
  sleep 1
  # noise before the tunnel: loopback ping and HTTP on the vps, IPv6 multicast ping (neighbour
  # discovery for the unicast replies) on both veths
  local lo1 lo2 lo3 n6v n6l
  lo1=$(ping_run vps 127.0.0.1 56 3); lo2=$(curl_get vps http://127.0.0.1:8000/version 5)
  n6v=$(nsx vps ping -6 -n -q -c 2 -i 0.2 -W 1 ff02::1%eth0 2>&1 | awk '/packets transmitted/ {print $4 "/" $1}' || true)
  n6l=$(nsx laptop ping -6 -n -q -c 2 -i 0.2 -W 1 ff02::1%eth0 2>&1 | awk '/packets transmitted/ {print $4 "/" $1}' || true)
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 5
  local pings dl
  pings=$(ping_sweep laptop 10.0.0.1 56 500 1000 1372 1392)
  dl=$(curl_get laptop http://10.0.0.1:8000/200k.bin 20)
  lo3=$(ping_run laptop 127.0.0.1 56 3)
  sleep 13   # idle: persistent keepalive (5 s) from laptop, passive keepalive from vps
  cap_stop_all
  local wgv wgl f1 f2; wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  f1=$(ipt_cnt router filter FORWARD fwd_v2l); f2=$(ipt_cnt router filter FORWARD fwd_l2v)
  local hv hl ov ol iv il
  hv=$(sll_hatypes "$D/vps.pcap"); hl=$(sll_hatypes "$D/laptop.pcap")
  # outer WireGuard packets (on eth0) and inner tunnel packets (on wg0) in each capture
  ov=$(tshark -r "$D/vps.pcap" -Y 'sll.hatype==1 && udp.port==51820' | wc -l)
  ol=$(tshark -r "$D/laptop.pcap" -Y 'sll.hatype==1 && udp.port==51821' | wc -l)
  iv=$(tshark -r "$D/vps.pcap" -Y 'sll.hatype==65534' | wc -l)
  il=$(tshark -r "$D/laptop.pcap" -Y 'sll.hatype==65534' | wc -l)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "any-both",
  "description": "The healthy scenario (one router, MTU 1500, tunnel MTU 1420, pings of 56..1392 bytes, a 200 KB download, 13 s idle with keepalive 5 s), but both ends capture with tcpdump -i any: each capture holds the outer WireGuard packets (eth0), the inner tunnel packets (wg0, no link header) and noise: loopback ping and HTTP, ARP, an IPv6 multicast ping with neighbour discovery. The vps capture uses the LINUX_SLL2 cooked header (with interface index), the laptop's LINUX_SLL (no interface index).",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap any LINUX_SLL2 pcap-usec 262144 51820 10.0.0.1/24 "-i any (SLL2): outer packets on eth0 and the same traffic decrypted on wg0, plus loopback ping/HTTP, ARP, ICMPv6"),
    $(cap_json laptop laptop laptop.pcap any LINUX_SLL pcap-usec 262144 51821 10.0.0.2/24 "-i any -y LINUX_SLL: outer and inner copies, loopback ping, ARP, ICMPv6")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop (one hop each way; TTL 64 at sender, 63 at receiver)",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "persistent_keepalive": {"laptop": 5, "vps": 0},
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"}, "ping_sizes": [56, 500, 1000, 1372, 1392],
    "capture_commands": {"vps": "tcpdump -i any -U -w vps.pcap", "laptop": "tcpdump -i any -y LINUX_SLL -U -w laptop.pcap"},
    "noise": ["vps: ping -c 3 127.0.0.1", "vps: curl http://127.0.0.1:8000/version", "vps and laptop: ping -6 -c 2 ff02::1%eth0",
              "laptop: ping -c 3 127.0.0.1 (after the download)", "ARP and IPv6 neighbour discovery as they happen"] },
  "counted": { "ping_results_laptop_to_vps": $pings, "curl_200k": $(curl_json "$dl"),
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "noise_results": {"vps_loopback_ping": "$lo1", "vps_loopback_curl": $(curl_json "$lo2"), "laptop_loopback_ping": "$lo3",
                      "vps_ipv6_multicast_ping": "$n6v", "laptop_ipv6_multicast_ping": "$n6l"},
    "frames_by_arphrd_type_tshark": {"vps": $hv, "laptop": $hl, "legend": {"1": "ethernet (eth0)", "772": "loopback (lo)", "65534": "none (wg0, inner IP packets)"}},
    "outer_wireguard_frames_tshark": {"vps": $ov, "laptop": $ol},
    "inner_wg0_frames_tshark": {"vps": $iv, "laptop": $il},
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["healthy"]
}
EOF
  tsv_all "$D" 51820 51821
}

# after a stalled download: abort the server's TCP connection (ss -K, so no retransmission of
# a big segment is still under way when the captures stop), then 2 small pings each way, so
# both captures run past the last big packet (none is sent outside the receiver's window)
# -> "sockets before/after" of the vps's port 8000
abort_stuck_tcp() { # host
  local before after
  before=$(nsx "$1" ss -Htna "( sport = :8000 )" | grep -vc LISTEN || true)
  nsx "$1" ss -K -tn "( sport = :8000 )" >/dev/null 2>&1 || true
  after=$(nsx "$1" ss -Htna "( sport = :8000 )" | grep -vc LISTEN || true)
  echo "$before/$after"
}

# ifindex of an interface in a namespace (the cooked header of an -i any capture names it: sll.ifindex)
ifidx() { nsx "$1" cat "/sys/class/net/$2/ifindex"; }
count_py() { "$PY" "$HERE/record/count.py" "$@"; }

# any-blackhole: mtu-blackhole's path (1454-MTU link, ICMP frag-needed dropped where it is
# made), but both ends capture with -i any (LINUX_SLL2): each capture holds the outer packets
# (eth0) and the inner ones (wg0), so the lost inner packets and their flows can be named
sc_any_blackhole() {
  topo_two_routers 1454
  mtu_router_rules 1
  http_serve vps 8000
  cap_start vps any "$D/vps.pcap" tcpdump
  cap_start laptop any "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  local cv cr pl pv bl bv cb
  cv=$(curl_get laptop http://10.0.0.1:8000/version 10)
  cr=$(curl_get laptop http://10.0.0.1:8000/robots.txt 10)
  # 1364 -> inner 1392 -> UDP payload 1424 -> outer 1452 (fits 1454); 1392 -> inner 1420 -> outer 1480 (does not)
  pl=$(ping_sweep laptop 10.0.0.1 56 500 1000 1364)
  pv=$(ping_sweep vps 10.0.0.2 56 500 1000 1364)
  bl=$(ping_run laptop 10.0.0.1 1392 3)
  bv=$(ping_run vps 10.0.0.2 1392 3)
  cb=$(curl_get laptop http://10.0.0.1:8000/login.html 12)
  local ab tl tv
  ab=$(abort_stuck_tcp vps); sleep 0.5
  tl=$(ping_run laptop 10.0.0.1 56 2); tv=$(ping_run vps 10.0.0.2 56 2)
  sleep 1
  cap_stop_all
  local tb1 tb2 ff1 ff2 ic1 ic2 if1 if2 vw ve lw le wgv wgl pmv pml
  tb1=$(ipt_cnt router1 raw PREROUTING too_big_df); tb2=$(ipt_cnt router2 raw PREROUTING too_big_df)
  ff1=$(nstat_get router1 IpFragFails); ff2=$(nstat_get router2 IpFragFails)
  ic1=$(ipt_cnt router1 filter OUTPUT icmp_fn_out); ic2=$(ipt_cnt router2 filter OUTPUT icmp_fn_out)
  if1=$(ipt_cnt router1 filter FORWARD icmp_fn_fwd); if2=$(ipt_cnt router2 filter FORWARD icmp_fn_fwd)
  vw=$(ifidx vps wg0); ve=$(ifidx vps eth0); lw=$(ifidx laptop wg0); le=$(ifidx laptop eth0)
  pmv=$(nsx vps ip route get 203.0.113.2 | grep -o 'mtu [0-9]*' || echo "none")
  pml=$(nsx laptop ip route get 198.51.100.2 | grep -o 'mtu [0-9]*' || echo "none")
  wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  local inner outer hv hl icv icl
  inner=$(count_py inner "$D/vps.pcap" "$vw" "$D/laptop.pcap" "$lw")
  outer=$(count_py outer 51820 "$D/vps.pcap" "$ve" "$D/laptop.pcap" "$le" 51821)
  hv=$(sll_hatypes "$D/vps.pcap"); hl=$(sll_hatypes "$D/laptop.pcap")
  icv=$(tshark -r "$D/vps.pcap" -Y 'icmp.type==3 && icmp.code==4' | wc -l)
  icl=$(tshark -r "$D/laptop.pcap" -Y 'icmp.type==3 && icmp.code==4' | wc -l)
  # the kernel's IPv6 router solicitations (ff02::2) enter each wg0 too; no AllowedIPs covers them
  local rsv rsl
  rsv=$(tshark -r "$D/vps.pcap" -Y "sll.ifindex==$vw && icmpv6.type==133" | wc -l)
  rsl=$(tshark -r "$D/laptop.pcap" -Y "sll.ifindex==$lw && icmpv6.type==133" | wc -l)
  # per direction, three independent counts of the same loss: the router's counter, the outer
  # packets (tshark, by receiver index + counter) and the inner packets (tshark, wg0 copies)
  local xl
  xl=$("$PY" - "$inner" "$outer" "$tb1" "$tb2" <<'EOPY'
import json, sys
inner, outer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
tb = {"vps->laptop": int(sys.argv[3]), "laptop->vps": int(sys.argv[4])}
src = {"vps->laptop": "10.0.0.1", "laptop->vps": "10.0.0.2"}
res = {}
for d, od in (("vps->laptop", "A->B"), ("laptop->vps", "B->A")):
    il = sum(f["lost"] for f in inner["flows"] if f["src"].split(":")[0] == src[d])
    res[d] = {"router_dropped_too_big": tb[d], "outer_lost_tshark": outer[od]["lost"], "inner_lost_tshark": il,
              "agree": tb[d] == outer[od]["lost"] == il}
print(json.dumps(res))
EOPY
)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "any-blackhole",
  "description": "mtu-blackhole's path (vps and laptop over two routers joined by a 1454-MTU link whose routers drop the ICMP fragmentation-needed they generate; wireguard-go, tunnel MTU 1420, outer DF set), but both ends capture with tcpdump -i any (LINUX_SLL2), so each capture holds the outer packets (eth0) and the inner ones (wg0). Small HTTP fetches and pings of 56..1364 bytes work both ways (ping 1364 = inner 1392 = outer 1452, the largest that fits); 3 pings of 1392 bytes each way (inner 1420, outer 1480) get no reply, and the laptop's download of /login.html stalls: the vps's full-size TCP segments (inner 1420, MSS 1380 from both SYNs) vanish and are retransmitted until curl gives up after 12 s.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap any LINUX_SLL2 pcap-usec 262144 51820 10.0.0.1/24 "-i any: the big inner packets (1420 bytes) leave wg0 and their 1480-byte outer packets leave eth0; no ICMP comes back"),
    $(cap_json laptop laptop laptop.pcap any LINUX_SLL2 pcap-usec 262144 51821 10.0.0.2/24 "-i any: small packets arrive on eth0 and wg0; no 1420-byte inner packet (outer 1480) from vps ever does; its own 1420-byte pings leave wg0 and eth0")
  },
  "topology": "vps 198.51.100.2 -- router1 =(192.0.2.0/30, MTU 1454)= router2 -- 203.0.113.2 laptop",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1454, "icmp_frag_needed_blocked": true, "netem_loss_percent": null,
    "nat": null, "wrong_key": false, "outer_df": {"vps": true, "laptop": true},
    "largest_wg_udp_payload_fitting_path": 1424, "recommended_tunnel_mtu_max": 1394,
    "largest_inner_packet_crossing_path": 1392, "tcp_mss_fitting_path": 1352,
    "largest_inner_packet_crossing_path_note": "with tunnel MTU 1420 an inner packet of 1393..1408 bytes is padded to 1408 (UDP payload 1440, outer 1468 > 1454), so 1392 is the largest that crosses (MSS 1352 = 1392 - 40); with the tunnel MTU lowered to 1394 (= 1454 - 60) a 1394-byte inner packet fits (MSS 1354)",
    "tcp_mss_announced": 1380,
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"},
    "ping_sizes": {"laptop->vps": [56, 500, 1000, 1364], "vps->laptop": [56, 500, 1000, 1364], "lost_both_ways": 1392, "lost_count_each_way": 3},
    "http": {"small": ["/version", "/robots.txt"], "big": "/login.html (~49 KB, vps->laptop)", "curl_max_time": 12,
             "after": "ss -K on the vps aborts the stalled connection; then ping -c 2 -s 56 each way"},
    "capture_commands": {"vps": "tcpdump -i any -U -w vps.pcap", "laptop": "tcpdump -i any -U -w laptop.pcap"},
    "interface_indexes": {"vps": {"eth0": $ve, "wg0": $vw}, "laptop": {"eth0": $le, "wg0": $lw}} },
  "counted": {
    "router_dropped_too_big": {"vps->laptop": $tb1, "laptop->vps": $tb2},
    "router_ip_frag_fails": {"router1": $ff1, "router2": $ff2},
    "icmp_dropped": $((ic1 + ic2)), "icmp_dropped_per_router": {"router1": $ic1, "router2": $ic2},
    "icmp_forward_dropped": $((if1 + if2)),
    "icmp_frag_needed_in_captures_tshark": {"vps": $icv, "laptop": $icl},
    "curl_small_ok": $( [[ ${cv%% *} == 0 && ${cr%% *} == 0 ]] && echo true || echo false),
    "curl_version": $(curl_json "$cv"), "curl_robots": $(curl_json "$cr"),
    "curl_big_ok": $( [[ ${cb%% *} == 0 ]] && echo true || echo false), "curl_big": $(curl_json "$cb"),
    "ping_results_laptop_to_vps": $pl, "ping_results_vps_to_laptop": $pv,
    "ping_1392_laptop_to_vps": "$bl", "ping_1392_vps_to_laptop": "$bv",
    "after_download": {"vps_tcp_port_8000_sockets_before_after_ss_K": "$ab", "ping_56_laptop_to_vps": "$tl", "ping_56_vps_to_laptop": "$tv",
      "why": "the stalled connection is aborted on the vps (ss -K) and small pings follow, so the last big packet is sent well before both captures stop"},
    "route_pmtu_after": {"vps_to_laptop": "$pmv", "laptop_to_vps": "$pml"},
    "loss_per_direction_cross_check": $xl,
    "inner_from_captures_tshark": $inner,
    "outer_from_captures_tshark": {"A": "vps.pcap (eth0 frames)", "B": "laptop.pcap (eth0 frames)", "A->B": $(jq_path "$outer" 'A->B'), "B->A": $(jq_path "$outer" 'B->A')},
    "frames_by_arphrd_type_tshark": {"vps": $hv, "laptop": $hl, "legend": {"1": "ethernet (eth0)", "772": "loopback (lo)", "65534": "none (wg0, inner IP packets)"}},
    "wg0_ipv6_router_solicitations_tshark": {"vps": $rsv, "laptop": $rsl,
      "note": "the kernel sends IPv6 router solicitations (fe80:: -> ff02::2) into each wg0; no peer's AllowedIPs covers ff02::2, so wireguard-go drops them without a log line and no outer packet carries them"},
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "affected_flows", "tcp_mss_too_large"],
  "also_acceptable_findings": ["local_drop"],
  "also_acceptable_findings_note": "local_drop only for the IPv6 router solicitations on wg0 (counted.wg0_ipv6_router_solicitations_tshark), never for the big IPv4 packets: those leave eth0"
}
EOF
  tsv_all "$D" 51820 51821
}

# path-blackhole: one WireGuard path captured at four points. The laptop sits behind a home
# router (rtr) that masquerades it (UDP source port mapped to 40001) and whose LAN link has
# MTU 1454; rtr drops the ICMP frag-needed it generates, so the vps's 1480-byte DF packets
# reach rtr's WAN side and never its LAN side. A plain router (core) sits between rtr and vps.
#  laptop 192.168.1.10 (eth0, MTU 1454) -- (lan0 192.168.1.1, MTU 1454) rtr [MASQUERADE] (wan0 203.0.113.1)
#    -- (203.0.113.254) core (198.51.100.1) -- 198.51.100.2 vps
sc_path_blackhole() {
  ns_new host vps laptop; ns_new router rtr core
  link laptop:eth0 rtr:lan0 1454; link rtr:wan0 core:eth-rtr; link core:eth-vps vps:eth0
  nsx laptop ip addr add 192.168.1.10/24 dev eth0;  nsx laptop ip route add default via 192.168.1.1
  nsx rtr ip addr add 192.168.1.1/24 dev lan0;      nsx rtr ip addr add 203.0.113.1/24 dev wan0
  nsx rtr ip route add default via 203.0.113.254
  nsx core ip addr add 203.0.113.254/24 dev eth-rtr; nsx core ip addr add 198.51.100.1/24 dev eth-vps
  nsx vps ip addr add 198.51.100.2/24 dev eth0;     nsx vps ip route add default via 198.51.100.1
  # masquerade: UDP from the LAN leaves with source 203.0.113.1:40001
  nsx rtr iptables -t nat -A POSTROUTING -o wan0 -p udp -j MASQUERADE --to-ports 40001
  nsx rtr iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
  # DF packets too big for the LAN link, per direction (raw PREROUTING: before the MTU check)
  nsx rtr iptables -t raw -A PREROUTING -i wan0 -p udp -m length --length 1455:65535 -m u32 --u32 "4&0x4000=0x4000" -m comment --comment too_big_v2l
  nsx rtr iptables -t raw -A PREROUTING -i lan0 -p udp -m length --length 1455:65535 -m u32 --u32 "4&0x4000=0x4000" -m comment --comment too_big_l2v
  nsx rtr iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_out -j DROP
  nsx rtr iptables -A FORWARD -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_fwd -j DROP
  nsx rtr iptables -A FORWARD -i wan0 -o lan0 -p udp -m comment --comment fwd_v2l
  nsx rtr iptables -A FORWARD -i lan0 -o wan0 -p udp -m comment --comment fwd_l2v
  nsx core iptables -A FORWARD -i eth-vps -o eth-rtr -p udp -m comment --comment fwd_v2l
  nsx core iptables -A FORWARD -i eth-rtr -o eth-vps -p udp -m comment --comment fwd_l2v
  http_serve vps 8000
  cap_start laptop eth0 "$D/laptop.pcap" tcpdump
  cap_start rtr lan0 "$D/rtr-lan.pcap" tcpdump
  cap_start rtr wan0 "$D/rtr-wan.pcap" tcpdump
  cap_start vps eth0 "$D/vps.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  local cv cr pl pv bl bv cb
  cv=$(curl_get laptop http://10.0.0.1:8000/version 10)
  cr=$(curl_get laptop http://10.0.0.1:8000/robots.txt 10)
  # 1364 -> inner 1392 -> outer 1452 (fits 1454); 1392 -> inner 1420 -> outer 1480
  pl=$(ping_sweep laptop 10.0.0.1 56 500 1000 1364)
  pv=$(ping_sweep vps 10.0.0.2 56 500 1000 1364)
  bl=$(ping_run laptop 10.0.0.1 1392 3)
  bv=$(ping_run vps 10.0.0.2 1392 3)
  cb=$(curl_get laptop http://10.0.0.1:8000/login.html 12)
  local ab tl tv
  ab=$(abort_stuck_tcp vps); sleep 0.5
  tl=$(ping_run laptop 10.0.0.1 56 2); tv=$(ping_run vps 10.0.0.2 56 2)
  sleep 1
  cap_stop_all
  local tb1 tb2 ic icf f1 f2 cf1 cf2 ff fo fc lfo lfc vra ct wgv wgl seen
  tb1=$(ipt_cnt rtr raw PREROUTING too_big_v2l); tb2=$(ipt_cnt rtr raw PREROUTING too_big_l2v)
  ic=$(ipt_cnt rtr filter OUTPUT icmp_fn_out); icf=$(ipt_cnt rtr filter FORWARD icmp_fn_fwd)
  f1=$(ipt_cnt rtr filter FORWARD fwd_v2l); f2=$(ipt_cnt rtr filter FORWARD fwd_l2v)
  cf1=$(ipt_cnt core filter FORWARD fwd_v2l); cf2=$(ipt_cnt core filter FORWARD fwd_l2v)
  ff=$(nstat_get rtr IpFragFails); fo=$(nstat_get rtr IpFragOKs); fc=$(nstat_get rtr IpFragCreates)
  lfo=$(nstat_get laptop IpFragOKs); lfc=$(nstat_get laptop IpFragCreates); vra=$(nstat_get vps IpReasmOKs)
  ct=$(nsx rtr conntrack -L -p udp --dport 51820 2>/dev/null | head -1)
  seen=$(wgc vps show wg0 endpoints | awk '{print $2; exit}')
  wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  local pth mfl
  pth=$(count_py path 51820 laptop="$D/laptop.pcap" rtr-lan="$D/rtr-lan.pcap" rtr-wan="$D/rtr-wan.pcap" vps="$D/vps.pcap" 51821 40001)
  mfl=$(for f in laptop rtr-lan rtr-wan vps; do
          printf '"%s.pcap": {"laptop->vps": %s, "vps->laptop": %s}, ' "$f" \
            "$(tshark -r "$D/$f.pcap" -Y 'ip.dst==198.51.100.2 && (ip.flags.mf==1 || ip.frag_offset>0)' | wc -l)" \
            "$(tshark -r "$D/$f.pcap" -Y 'ip.src==198.51.100.2 && (ip.flags.mf==1 || ip.frag_offset>0)' | wc -l)"
        done)
  local icall; icall=$(for f in laptop rtr-lan rtr-wan vps; do printf '"%s.pcap": %s, ' "$f" "$(tshark -r "$D/$f.pcap" -Y 'icmp.type==3 && icmp.code==4' | wc -l)"; done)
  # the dropping hop, from the tshark counts: the hop where the vps's packets stop
  local drop
  drop=$("$PY" - "$pth" "$tb1" <<'EOPY'
import json, sys
p, tb = json.loads(sys.argv[1]), int(sys.argv[2])
hops = [{"between": h["between"], "vps->laptop": h["vps->laptop"]["never_downstream"],
         "laptop->vps": h["laptop->vps"]["never_downstream"]} for h in p["hops"]]
lossy = [h for h in hops if h["vps->laptop"] or h["laptop->vps"]]
print(json.dumps({"per_hop_never_downstream": hops, "lossy_hops": lossy,
                  "router_counter_vps_to_laptop": tb,
                  "agree": len(lossy) == 1 and lossy[0]["between"] == ["rtr-lan", "rtr-wan"]
                           and lossy[0]["vps->laptop"] == tb and lossy[0]["laptop->vps"] == 0}))
EOPY
)
  wg_save_logs "$D" vps laptop
  write_truth "$D" <<EOF
{ "scenario": "path-blackhole",
  "description": "One WireGuard path captured at four points in path order: the laptop's eth0, its home router rtr's LAN side (lan0) and WAN side (wan0), and the vps's eth0. rtr masquerades the laptop (192.168.1.10:51821 leaves as 203.0.113.1:40001); its LAN link (and the laptop's eth0) has MTU 1454, and rtr drops the ICMP fragmentation-needed it generates. A plain router (core) sits between rtr and the vps. The vps's 1480-byte outer packets (DF set: full-size TCP segments of /login.html, 1392-byte pings and their replies) reach rtr-wan.pcap and never rtr-lan.pcap; small ones cross. The laptop's own 1480-byte datagrams (its 1392-byte pings) are fragmented by its kernel (eth0 MTU 1454: 1452 + 48, DF clear) and arrive, but their replies are dropped at rtr. Small fetches and pings of 56..1364 bytes work both ways; 1392-byte pings fail both ways; the download stalls until curl gives up after 12 s.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json laptop laptop laptop.pcap eth0 EN10MB pcap-usec 262144 51821 10.0.0.2/24 "path point 1 (laptop eth0, MTU 1454): 192.168.1.10:51821 <-> 198.51.100.2:51820; its 1480-byte datagrams leave as two fragments; no 1452-byte payload from vps arrives"),
    $(cap_json rtr-lan rtr rtr-lan.pcap lan0 EN10MB pcap-usec 262144 null "" "path point 2 (rtr LAN side, MTU 1454): the same packets as laptop.pcap; the vps's 1480-byte ones never appear"),
    $(cap_json rtr-wan rtr rtr-wan.pcap wan0 EN10MB pcap-usec 262144 null "" "path point 3 (rtr WAN side): laptop masqueraded to 203.0.113.1:40001; the vps's 1480-byte packets arrive here (TTL 63) and go no further"),
    $(cap_json vps vps vps.pcap eth0 EN10MB pcap-usec 262144 51820 10.0.0.1/24 "path point 4 (vps eth0): peer seen at 203.0.113.1:40001; 1480-byte datagrams leave with DF and are retransmitted; no ICMP comes back")
  },
  "topology": "laptop 192.168.1.10 (eth0 MTU 1454) -- (lan0 192.168.1.1, MTU 1454) rtr [MASQUERADE udp -> 203.0.113.1:40001] (wan0 203.0.113.1) -- (203.0.113.254) core (198.51.100.1) -- 198.51.100.2 vps",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1454, "icmp_frag_needed_blocked": true, "icmp_frag_needed_blocked_on": ["rtr"],
    "netem_loss_percent": null, "wrong_key": false, "outer_df": {"vps": true, "laptop": true},
    "nat": "rtr: MASQUERADE -p udp --to-ports 40001 out wan0: 192.168.1.10:51821 -> 203.0.113.1:40001",
    "largest_wg_udp_payload_fitting_path": 1424, "recommended_tunnel_mtu_max": 1394,
    "largest_inner_packet_crossing_path": 1392, "tcp_mss_fitting_path": 1352,
    "mtu_per_link": {"laptop eth0 -- rtr lan0": 1454, "rtr wan0 -- core": 1500, "core -- vps eth0": 1500},
    "laptop_to_vps_big_datagrams": "fragmented by the laptop's own kernel (its eth0 MTU 1454 is smaller than the 1480-byte datagram; wireguard-go's socket uses Linux's default IP_PMTUDISC_WANT, so the kernel fragments instead of failing the send): 1452 + 48 bytes, DF clear; they cross (rtr reassembles them for conntrack and fragments them again) and are reassembled by the vps",
    "endpoints": {"vps": "198.51.100.2:51820", "laptop_private": "192.168.1.10:51821", "laptop_public": "203.0.113.1:40001"},
    "ping_sizes": {"laptop->vps": [56, 500, 1000, 1364], "vps->laptop": [56, 500, 1000, 1364], "lost_both_ways": 1392, "lost_count_each_way": 3},
    "http": {"small": ["/version", "/robots.txt"], "big": "/login.html (~49 KB, vps->laptop)", "curl_max_time": 12,
             "after": "ss -K on the vps aborts the stalled connection; then ping -c 2 -s 56 each way"},
    "capture_points_in_path_order": ["laptop.pcap", "rtr-lan.pcap", "rtr-wan.pcap", "vps.pcap"] },
  "counted": {
    "router_dropped_too_big": {"vps->laptop": $tb1, "laptop->vps": $tb2},
    "rtr_ip_frag_fails": $ff, "rtr_ip_frag_oks": $fo, "rtr_ip_frag_creates": $fc,
    "laptop_ip_frag_oks": $lfo, "laptop_ip_frag_creates": $lfc, "vps_ip_reasm_oks": $vra,
    "icmp_dropped": $ic, "icmp_forward_dropped": $icf,
    "icmp_frag_needed_in_captures_tshark": { ${icall%, } },
    "rtr_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "core_forwarded_udp": {"vps->laptop": $cf1, "laptop->vps": $cf2},
    "rtr_conntrack": $(jstr "$ct"),
    "vps_sees_laptop_at": "$seen",
    "curl_small_ok": $( [[ ${cv%% *} == 0 && ${cr%% *} == 0 ]] && echo true || echo false),
    "curl_version": $(curl_json "$cv"), "curl_robots": $(curl_json "$cr"),
    "curl_big_ok": $( [[ ${cb%% *} == 0 ]] && echo true || echo false), "curl_big": $(curl_json "$cb"),
    "ping_results_laptop_to_vps": $pl, "ping_results_vps_to_laptop": $pv,
    "ping_1392_laptop_to_vps": "$bl", "ping_1392_vps_to_laptop": "$bv",
    "after_download": {"vps_tcp_port_8000_sockets_before_after_ss_K": "$ab", "ping_56_laptop_to_vps": "$tl", "ping_56_vps_to_laptop": "$tv",
      "why": "the stalled connection is aborted on the vps (ss -K) and small pings follow, so the last big packet is sent well before both captures stop"},
    "fragment_frames_tshark": { ${mfl%, } },
    "counting_units": "iptables counts on rtr see each of the laptop's fragmented datagrams once (rtr's conntrack reassembles before FORWARD), core's count each fragment; the tshark counts of path_from_captures_tshark count datagrams (tshark reassembles), fragment_frames_tshark the fragment frames",
    "path_from_captures_tshark": $pth,
    "dropping_hop_cross_check": $drop,
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "path": {"files": ["laptop.pcap", "rtr-lan.pcap", "rtr-wan.pcap", "vps.pcap"],
           "dropping_hop": {"at": "rtr", "between": ["rtr-wan.pcap", "rtr-lan.pcap"], "direction": "vps->laptop",
                            "what": "outer packets over 1454 bytes with DF set, dropped at rtr's egress to the 1454-MTU LAN; the ICMP frag-needed rtr generates is dropped in its OUTPUT chain"},
           "nat_at": {"at": "rtr", "between": ["rtr-lan.pcap", "rtr-wan.pcap"], "before": "192.168.1.10:51821", "after": "203.0.113.1:40001"},
           "ttl_hops": "vps->laptop: 64 at vps, 63 at rtr-wan (core), 62 at rtr-lan and laptop; laptop->vps: 64 at laptop and rtr-lan, 63 at rtr-wan, 62 at vps",
           "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "nat_rewrite"]},
  "pairs": {
    "vps+laptop": {"files": ["vps.pcap", "laptop.pcap"], "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "nat_rewrite"]},
    "rtr-wan+rtr-lan": {"files": ["rtr-wan.pcap", "rtr-lan.pcap"], "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "nat_rewrite"]} },
  "expected_findings": ["mtu_blackhole", "icmp_frag_needed_absent", "nat_rewrite"],
  "also_acceptable_findings": ["fragmented_path"],
  "expected_findings_are_for": "the ends (vps.pcap, laptop.pcap) and the whole path; see pairs and path"
}
EOF
  tsv_all "$D" 51820 51821 40001
}

# local-drop: a healthy tunnel vps <-> laptop, plus inner packets that enter the vps's wg0
# and never leave its eth0 as outer packets: (a) to 10.0.0.99, which no peer's AllowedIPs
# covers (wireguard-go finds no peer and drops them), (b) to 10.0.0.3, the AllowedIPs of a
# second peer (phone) configured without an endpoint (wireguard-go stages the packets and
# its handshake initiation cannot be sent: "no known endpoint for peer")
sc_local_drop() {
  topo_one_router
  # every outer packet the vps sends, and those to anyone but the laptop (expected: none)
  nsx vps iptables -A OUTPUT -o eth0 -p udp --sport 51820 -m comment --comment wg_out
  nsx vps iptables -A OUTPUT -o eth0 -p udp --sport 51820 ! -d 203.0.113.2 -m comment --comment wg_out_not_laptop
  nsx vps iptables -A OUTPUT -o eth0 -p udp --sport 51820 -m length --length 0:60 -m comment --comment wg_out_le60
  http_serve vps 8000
  cap_start vps any "$D/vps.pcap" tcpdump
  cap_start laptop any "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  keypair phone
  wg_peer vps "$(pub phone)" - 10.0.0.3/32
  local pl pv cv pa pb ca t0a t1a t0b t1b
  cv=$(curl_get laptop http://10.0.0.1:8000/version 10)
  pl=$(ping_sweep laptop 10.0.0.1 56 1000 1392)
  # (a) no peer for 10.0.0.99: 5 pings and a TCP connect (SYN retransmitted) from the vps
  t0a=$(now)
  pa=$(ping_run vps 10.0.0.99 56 5)
  ca=$(curl_get vps http://10.0.0.99:8000/version 4)
  t1a=$(now)
  # (b) peer phone (10.0.0.3/32) has no endpoint: 5 pings from the vps
  t0b=$(now)
  pb=$(ping_run vps 10.0.0.3 56 5)
  t1b=$(now)
  pv=$(ping_sweep vps 10.0.0.2 56 1000)
  sleep 2
  cap_stop_all
  local wo wn w60 f1 f2 vw ve lw le wgv wgl wgp
  wo=$(ipt_cnt vps filter OUTPUT wg_out); wn=$(ipt_cnt vps filter OUTPUT wg_out_not_laptop); w60=$(ipt_cnt vps filter OUTPUT wg_out_le60)
  f1=$(ipt_cnt router filter FORWARD fwd_v2l); f2=$(ipt_cnt router filter FORWARD fwd_l2v)
  vw=$(ifidx vps wg0); ve=$(ifidx vps eth0); lw=$(ifidx laptop wg0); le=$(ifidx laptop eth0)
  wgv=$(wg_handshake_json vps wg0 "$(pub laptop)"); wgp=$(wg_handshake_json vps wg0 "$(pub phone)"); wgl=$(wg_handshake_json laptop)
  wg_save_logs "$D" vps laptop
  local inner outer cnt
  inner=$(count_py inner "$D/vps.pcap" "$vw" "$D/laptop.pcap" "$lw")
  outer=$(count_py outer 51820 "$D/vps.pcap" "$ve" "$D/laptop.pcap" "$le" 51821)
  tsh_n() { tshark -r "$1" -d udp.port==51820,wg -d udp.port==51821,wg -Y "$2" | wc -l; }
  local a_in a_ping a_tcp b_in b_ping rs_v rs_l to_l out_all out_data out_ka out_hs out_other lap_in_from_vps
  a_in=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && ip.dst==10.0.0.99")
  a_ping=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && ip.dst==10.0.0.99 && icmp.type==8")
  a_tcp=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && ip.dst==10.0.0.99 && tcp.flags.syn==1")
  b_in=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && ip.dst==10.0.0.3")
  b_ping=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && ip.dst==10.0.0.3 && icmp.type==8")
  rs_v=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && icmpv6.type==133"); rs_l=$(tsh_n "$D/laptop.pcap" "sll.ifindex==$lw && icmpv6.type==133")
  to_l=$(tsh_n "$D/vps.pcap" "sll.ifindex==$vw && ip.src==10.0.0.1 && ip.dst==10.0.0.2")
  lap_in_from_vps=$(tsh_n "$D/laptop.pcap" "sll.ifindex==$lw && ip.src==10.0.0.1")
  out_all=$(tsh_n "$D/vps.pcap" "sll.ifindex==$ve && udp.srcport==51820 && !icmp")
  out_data=$(tsh_n "$D/vps.pcap" "sll.ifindex==$ve && udp.srcport==51820 && wg.type==4 && udp.length>40")
  out_ka=$(tsh_n "$D/vps.pcap" "sll.ifindex==$ve && udp.srcport==51820 && wg.type==4 && udp.length==40")
  out_hs=$(tsh_n "$D/vps.pcap" "sll.ifindex==$ve && udp.srcport==51820 && wg.type!=4")
  out_other=$(tsh_n "$D/vps.pcap" "sll.ifindex==$ve && udp.srcport==51820 && !(ip.dst==203.0.113.2 && udp.dstport==51821)")
  # wireguard-go's log lines about the peer without endpoint (by its short key, as the log prints it)
  local pk short lg_fail lg_send lg_first lg_all
  pk=$(pub phone); short="${pk:0:4}…${pk:39:4}"
  lg_send=$(grep -c "peer($short) - Sending handshake initiation" "$D/vps.wireguard-go.log" || true)
  lg_fail=$(grep -c "peer($short) - Failed to send handshake initiation: no known endpoint for peer" "$D/vps.wireguard-go.log" || true)
  lg_first=$(grep -m1 "peer($short) - Failed to send handshake initiation" "$D/vps.wireguard-go.log" || true)
  lg_all=$(grep -F "peer($short)" "$D/vps.wireguard-go.log" | "$PY" -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
  local lg_nopeer; lg_nopeer=$(grep -ciE '10\.0\.0\.99|no peer|no route' "$D/vps.wireguard-go.log" || true)
  write_truth "$D" <<EOF
{ "scenario": "local-drop",
  "description": "A healthy tunnel between the vps and the laptop over one router (MTU 1500, tunnel MTU 1420; the laptop's pings of 56..1392 bytes and a small fetch work, so do the vps's pings), both ends captured with tcpdump -i any (LINUX_SLL2). On the vps, two kinds of inner packets enter wg0 and never leave eth0 as outer packets: (a) 5 pings and a TCP connect (SYN + retransmissions) to 10.0.0.99, inside wg0's 10.0.0.0/24 route but in no peer's AllowedIPs (wireguard-go drops them: no peer, no log line); (b) 5 pings to 10.0.0.3, the AllowedIPs of a second peer configured without an endpoint (wireguard-go stages them and logs that it cannot send the handshake initiation: no known endpoint for peer). Every outer packet the vps sends goes to the laptop and carries laptop-bound traffic.",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap any LINUX_SLL2 pcap-usec 262144 51820 10.0.0.1/24 "-i any: inner packets to 10.0.0.99 and 10.0.0.3 on wg0 with no outer packet on eth0; the laptop's traffic in and out on both"),
    $(cap_json laptop laptop laptop.pcap any LINUX_SLL2 pcap-usec 262144 51821 10.0.0.2/24 "-i any: healthy side; nothing for 10.0.0.99 or 10.0.0.3 arrives")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop (one hop each way; TTL 64 at sender, 63 at receiver)",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "icmp_frag_needed_blocked": false, "netem_loss_percent": null,
    "nat": null, "wrong_key": false,
    "vps_wg0": {"address": "10.0.0.1/24", "route": "10.0.0.0/24 dev wg0 (from the address)",
      "peers": {"laptop": {"allowed_ips": "10.0.0.2/32", "endpoint": "learned from its handshake (203.0.113.2:51821)"},
                "phone": {"allowed_ips": "10.0.0.3/32", "endpoint": null, "public_key": "$pk"}}},
    "local_drop_kinds": {
      "no_peer": {"destination": "10.0.0.99", "traffic": "ping -c 5 -s 56 10.0.0.99; curl --max-time 4 http://10.0.0.99:8000/version (TCP SYN, retransmitted)",
                  "why": "no peer's AllowedIPs covers 10.0.0.99: wireguard-go 0.0.20220316 drops the packet when the AllowedIPs lookup finds no peer, without a log line"},
      "no_endpoint": {"destination": "10.0.0.3", "peer": "phone", "traffic": "ping -c 5 -s 56 10.0.0.3",
                  "why": "peer phone has no endpoint: wireguard-go stages the packets and tries a handshake, whose initiation cannot be sent (no known endpoint for peer); the staged packets are never sent"} },
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"},
    "ping_sizes": {"laptop->vps": [56, 1000, 1392], "vps->laptop": [56, 1000]},
    "interface_indexes": {"vps": {"eth0": $ve, "wg0": $vw}, "laptop": {"eth0": $le, "wg0": $lw}},
    "capture_commands": {"vps": "tcpdump -i any -U -w vps.pcap", "laptop": "tcpdump -i any -U -w laptop.pcap"} },
  "counted": {
    "local_drop": {
      "no_peer": {"inner_packets_on_vps_wg0_tshark": $a_in, "icmp_echo_requests": $a_ping, "tcp_syns": $a_tcp,
                  "ping_result": "$pa", "curl": $(curl_json "$ca"),
                  "outer_packets_for_them_on_vps_eth0": 0, "wireguard_go_log_lines": $lg_nopeer,
                  "time_window_unix": [$t0a, $t1a]},
      "no_endpoint": {"inner_packets_on_vps_wg0_tshark": $b_in, "icmp_echo_requests": $b_ping, "ping_result": "$pb",
                  "outer_packets_for_them_on_vps_eth0": 0,
                  "wireguard_go_log": {"sending_handshake_initiation": $lg_send, "failed_no_known_endpoint": $lg_fail,
                                       "first_failure_line": $(jstr "$lg_first"), "all_lines_of_peer": $lg_all},
                  "wg_show_peer": $wgp, "time_window_unix": [$t0b, $t1b]},
      "ipv6_router_solicitations_on_wg0_tshark": {"vps": $rs_v, "laptop": $rs_l,
        "note": "the kernel's own IPv6 router solicitations (fe80:: -> ff02::2) enter each wg0 and are dropped the same way as no_peer (no AllowedIPs covers ff02::2); not part of the scenario's traffic"} },
    "why_no_outer_packet_carries_them": "every outer packet leaving the vps's eth0 goes to the laptop (iptables wg_out_not_laptop = 0, tshark outer_to_anyone_but_laptop = 0); the laptop receives every one of them (outer loss 0) and its wg0 shows exactly the vps's laptop-bound inner packets (inner_from_captures_tshark: vps->laptop flows lose nothing); the number of outer data packets from the vps equals the number of inner packets from 10.0.0.1 to 10.0.0.2 on the vps's wg0",
    "vps_outer_tshark": {"all": $out_all, "transport_data": $out_data, "keepalives": $out_ka, "handshake_messages": $out_hs,
                         "outer_to_anyone_but_laptop": $out_other},
    "vps_outer_iptables": {"wg_out": $wo, "wg_out_not_laptop": $wn, "wg_out_ip_len_le_60": $w60},
    "vps_wg0_inner_to_laptop_tshark": $to_l, "laptop_wg0_inner_from_vps_tshark": $lap_in_from_vps,
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "curl_version": $(curl_json "$cv"),
    "ping_results_laptop_to_vps": $pl, "ping_results_vps_to_laptop": $pv,
    "inner_from_captures_tshark": $inner,
    "outer_from_captures_tshark": {"A": "vps.pcap (eth0 frames)", "B": "laptop.pcap (eth0 frames)", "A->B": $(jq_path "$outer" 'A->B'), "B->A": $(jq_path "$outer" 'B->A')},
    "wg_show": {"vps_peer_laptop": $wgv, "vps_peer_phone": $wgp, "laptop": $wgl} },
  "expected_findings": ["local_drop"],
  "expected_findings_note": "the tunnel itself is healthy: no path loss, handshake done, every outer packet arrives; the local drops are on the vps's side only"
}
EOF
  tsv_all "$D" 51820 51821
}

# inner-pmtud: path-MTU discovery INSIDE the tunnel. The underlay is 1500 everywhere (one
# router, no outer loss); behind the laptop a LAN host (lanhost) sits on a 1300-MTU veth and
# the laptop forwards for it. The vps (inner sender) sends 1378..1420-byte DF packets to
# lanhost: the laptop's kernel drops each at the 1300 link and sends ICMP frag-needed (mtu
# 1300) back into the tunnel. Both ends -i any (LINUX_SLL2), so the ICMP is seen on the
# laptop's wg0 (out) and on the vps's wg0 (in). lanhost has three addresses, one per
# experiment, so each starts without a cached PMTU on the vps:
#   .2  ping -M do -s 1350 -c 3 from the vps (only the first is sent: then the PMTU is known)
#   .5  3 x (ip route flush cache; ping -M do -s 1350 -c 1) from the vps: all three sent
#   .3  curl on lanhost GETs /200k.bin from vps:8000 - the vps learns the PMTU (flow "pmtud")
#   .4  curl on lanhost GETs /200k.bin from vps:8001 - the vps's iptables INPUT drops the
#       frag-needed quoting a packet to .4 (after tcpdump saw it): no reaction, curl stalls
#  laptop lan0 192.168.50.1/24 (MTU 1300) -- eth0 192.168.50.2-.5/24 (MTU 1300) lanhost
sc_inner_pmtud() {
  topo_one_router
  ns_new host lanhost
  link laptop:lan0 lanhost:eth0 1300
  nsx laptop sysctl -qw net.ipv4.ip_forward=1
  nsx laptop ip addr add 192.168.50.1/24 dev lan0
  local a; for a in 2 3 4 5; do nsx lanhost ip addr add "192.168.50.$a/24" dev eth0; done
  nsx lanhost ip route add default via 192.168.50.1
  # lanhost's SYNs announce MSS 1380 (as if its own link were 1500 and the 1300 hop further on)
  nsx lanhost ip route add 10.0.0.0/24 via 192.168.50.1 dev eth0 advmss 1380
  # the vps's counters of the ICMP frag-needed arriving on wg0: the experiment-3 ones dropped
  # (u32: the quoted IP destination, 24 bytes into the ICMP message, is 192.168.50.4)
  nsx vps iptables -A INPUT -i wg0 -p icmp --icmp-type fragmentation-needed -m u32 --u32 "0>>22&0x3C@24=0xC0A83204" \
    -m comment --comment icmp_fn_in_flow_nopmtud -j DROP
  nsx vps iptables -A INPUT -i wg0 -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_in_accepted
  # the laptop's: frag-needed it sends into wg0, DF packets it cannot forward to lan0
  nsx laptop iptables -A OUTPUT -o wg0 -p icmp --icmp-type fragmentation-needed -m comment --comment icmp_fn_out
  nsx laptop iptables -t raw -A PREROUTING -i wg0 -m length --length 1301:65535 -m u32 --u32 "4&0x4000=0x4000" \
    -m comment --comment too_big_df_for_lan0
  nsx laptop iptables -A FORWARD -i wg0 -o lan0 -m comment --comment fwd_wg0_lan0
  http_serve vps 8000; http_serve vps 8001
  cap_start vps any "$D/vps.pcap" tcpdump
  cap_start laptop any "$D/laptop.pcap" tcpdump
  sleep 1
  tunnel_vps_laptop 51820 51821 198.51.100.2:51820 0
  # the vps reaches lanhost's subnet through the laptop peer
  wg_peer vps "$(pub laptop)" - 10.0.0.2/32,192.168.50.0/24
  nsx vps ip route add 192.168.50.0/24 dev wg0
  local p56 pv ping_out pdo t0 t1 t2 t3
  # lanhost first: the laptop initiates the handshake (the vps knows no endpoint before it)
  pv=$(ping_run lanhost 10.0.0.1 56 2)
  p56=$(ping_run vps 192.168.50.2 56 3)
  # (1) DF ping 1350 (inner 1378) from the vps
  t0=$(now)
  ping_out=$(nsx vps ping -n -M do -s 1350 -c 3 -i 0.5 -W 2 192.168.50.2 2>&1 || true)
  pdo=$(echo "$ping_out" | awk '/packets transmitted/ {print $4 "/" $1}')
  # (1b) the same 3 pings one at a time, the vps's route cache flushed before each (so the
  # PMTU it learned is forgotten and each is sent): each draws a frag-needed
  local probe_out="" ppr tp i pmf=()
  tp=$(now)
  for i in 1 2 3; do
    nsx vps ip route flush cache
    pmf+=("$(nsx vps ip route get 192.168.50.5 | grep -o 'mtu [0-9]*' || echo none)")
    probe_out+=$(nsx vps ping -n -M do -s 1350 -c 1 -W 2 192.168.50.5 2>&1 || true)$'\n'
    sleep 0.3
  done
  ppr=$(echo "$probe_out" | awk '/packets transmitted/ {r += $4; t += $1} END {print r "/" t}')
  sleep 0.5
  # (2) lanhost (192.168.50.3) downloads 200 KB from the vps: PMTUD inside the tunnel works
  t1=$(now)
  local c2 c3 rc
  rc=0; c2=$(nsx lanhost curl --noproxy '*' -sS -o /dev/null --interface 192.168.50.3 --max-time 20 \
    -w '%{http_code} %{size_download} %{time_total}' http://10.0.0.1:8000/200k.bin 2>/dev/null) || rc=$?
  c2="$rc $c2"
  sleep 0.5
  # (3) lanhost (192.168.50.4) downloads 200 KB from the vps:8001; the vps drops the ICMP: stalls
  t2=$(now)
  rc=0; c3=$(nsx lanhost curl --noproxy '*' -sS -o /dev/null --interface 192.168.50.4 --max-time 8 \
    -w '%{http_code} %{size_download} %{time_total}' http://10.0.0.1:8001/200k.bin 2>/dev/null) || rc=$?
  c3="$rc $c3"
  t3=$(now)
  local ab_before ab_after
  ab_before=$(nsx vps ss -Htna "( sport = :8001 )" | grep -vc LISTEN || true)
  nsx vps ss -K -tn "( sport = :8001 )" >/dev/null 2>&1 || true
  ab_after=$(nsx vps ss -Htna "( sport = :8001 )" | grep -vc LISTEN || true)
  sleep 0.5
  local tl tv; tl=$(ping_run lanhost 10.0.0.1 56 2); tv=$(ping_run vps 192.168.50.2 56 2)
  local pm2 pm3 pm4
  pm2=$(nsx vps ip route get 192.168.50.2 | grep -o 'mtu [0-9]*' || echo "none")
  pm3=$(nsx vps ip route get 192.168.50.3 | grep -o 'mtu [0-9]*' || echo "none")
  pm4=$(nsx vps ip route get 192.168.50.4 | grep -o 'mtu [0-9]*' || echo "none")
  local pm5; pm5=$(nsx vps ip route get 192.168.50.5 | grep -o 'mtu [0-9]*' || echo "none")
  sleep 1
  cap_stop_all
  local fnd fna fno tbl fwl ff odu f1 f2 vw ve lw le ll wgv wgl
  fnd=$(ipt_cnt vps filter INPUT icmp_fn_in_flow_nopmtud); fna=$(ipt_cnt vps filter INPUT icmp_fn_in_accepted)
  fno=$(ipt_cnt laptop filter OUTPUT icmp_fn_out); tbl=$(ipt_cnt laptop raw PREROUTING too_big_df_for_lan0)
  fwl=$(ipt_cnt laptop filter FORWARD fwd_wg0_lan0)
  ff=$(nstat_get laptop IpFragFails); odu=$(nstat_get laptop IcmpOutDestUnreachs)
  f1=$(ipt_cnt router filter FORWARD fwd_v2l); f2=$(ipt_cnt router filter FORWARD fwd_l2v)
  vw=$(ifidx vps wg0); ve=$(ifidx vps eth0); lw=$(ifidx laptop wg0); le=$(ifidx laptop eth0); ll=$(ifidx laptop lan0)
  wgv=$(wg_handshake_json vps); wgl=$(wg_handshake_json laptop)
  wg_save_logs "$D" vps laptop
  local outer hv hl ana
  outer=$(count_py outer 51820 "$D/vps.pcap" "$ve" "$D/laptop.pcap" "$le" 51821)
  hv=$(sll_hatypes "$D/vps.pcap"); hl=$(sll_hatypes "$D/laptop.pcap")
  ana=$(count_py innerpmtud "$D/vps.pcap" "$vw" "$ve" "$D/laptop.pcap" "$lw" "$le" "$ll")
  local rsv rsl
  rsv=$(tshark -r "$D/vps.pcap" -Y "sll.ifindex==$vw && icmpv6.type==133" | wc -l)
  rsl=$(tshark -r "$D/laptop.pcap" -Y "sll.ifindex==$lw && icmpv6.type==133" | wc -l)
  write_truth "$D" <<EOF
{ "scenario": "inner-pmtud",
  "description": "Path-MTU discovery inside the tunnel. The underlay is MTU 1500 everywhere (vps and laptop over one router; no outer packet is lost or too big), tunnel MTU 1420, both ends captured with tcpdump -i any (LINUX_SLL2). Behind the laptop, which forwards, a LAN host (lanhost, 192.168.50.0/24) sits on a 1300-MTU veth; the vps's AllowedIPs for the laptop include that subnet and the vps routes it into wg0. The vps is the inner sender: (1) ping -M do -s 1350 -c 3 (inner 1378) to lanhost 192.168.50.2 gets no reply: the first is sent and the laptop's kernel answers with ICMP fragmentation-needed (next-hop MTU 1300) into the tunnel, seen on the laptop's wg0 (out) and the vps's wg0 (in), after which the vps's ping fails the other two locally (message too long, mtu=1300); three single ping -M do -s 1350 to 192.168.50.5, the vps's route cache flushed before each, are all sent and each is answered by frag-needed; (2) lanhost (192.168.50.3) downloads 200 KB from vps:8000: the vps's first 1420-byte segments draw frag-needed, the vps lowers its segments to 1300 bytes and the download completes (the inner sender reacted); (3) lanhost (192.168.50.4) downloads 200 KB from vps:8001, but the vps's iptables INPUT drops the frag-needed quoting packets to 192.168.50.4 (after tcpdump saw them): the vps keeps retransmitting 1420-byte segments, each answered by frag-needed, and curl gives up after 8 s (the inner sender did not react).",
  "underlay": "ipv4",
  "captures": {
    $(cap_json vps vps vps.pcap any LINUX_SLL2 pcap-usec 262144 51820 10.0.0.1/24 "-i any: 1378/1420-byte inner DF packets to lanhost leave wg0; ICMP frag-needed (mtu 1300) from 10.0.0.2 arrives on wg0 inside WireGuard transport packets on eth0; flow_pmtud shrinks to 1300, flow_nopmtud keeps retransmitting 1420"),
    $(cap_json laptop laptop laptop.pcap any LINUX_SLL2 pcap-usec 262144 51821 10.0.0.2/24 "-i any: big inner packets arrive on wg0 and are not forwarded to lan0 (MTU 1300); the laptop's ICMP frag-needed leaves wg0; lan0 (lanhost's link) carries the packets that fit")
  },
  "topology": "vps 198.51.100.2 -- router -- 203.0.113.2 laptop (underlay MTU 1500); laptop lan0 192.168.50.1 =(MTU 1300)= 192.168.50.2-.5 lanhost (inner, behind the laptop)",
  "clock_offset_seconds": 0,
  "configured": { "tunnel_mtu": 1420, "path_mtu": 1500, "inner_path_mtu_to_lanhost": 1300, "icmp_frag_needed_blocked": false,
    "netem_loss_percent": null, "nat": null, "wrong_key": false,
    "endpoints": {"vps": "198.51.100.2:51820", "laptop": "203.0.113.2:51821"},
    "allowed_ips": {"vps_peer_laptop": "10.0.0.2/32,192.168.50.0/24", "laptop_peer_vps": "10.0.0.0/24"},
    "vps_route": "192.168.50.0/24 dev wg0", "laptop_ip_forward": 1, "laptop_lan0_mtu": 1300, "lanhost_eth0_mtu": 1300,
    "lanhost_route_to_tunnel": "10.0.0.0/24 via 192.168.50.1 advmss 1380 (its SYNs announce MSS 1380, so the vps sends 1420-byte segments)",
    "experiments": {
      "ping_df": {"from": "vps", "to": "192.168.50.2", "command": "ping -M do -s 1350 -c 3 -i 0.5 192.168.50.2", "inner_size": 1378},
      "ping_flushed": {"from": "vps", "to": "192.168.50.5", "command": "3 x (ip route flush cache; ping -M do -s 1350 -c 1 192.168.50.5)", "inner_size": 1378,
                       "why": "iputils 20221126 has no -M probe; the flush makes the vps forget the PMTU so every ping is sent"},
      "flow_pmtud": {"tcp": "10.0.0.1:8000 -> 192.168.50.3", "command": "lanhost: curl --interface 192.168.50.3 --max-time 20 http://10.0.0.1:8000/200k.bin",
                     "vps_reacts_to_icmp": true},
      "flow_nopmtud": {"tcp": "10.0.0.1:8001 -> 192.168.50.4", "command": "lanhost: curl --interface 192.168.50.4 --max-time 8 http://10.0.0.1:8001/200k.bin",
                       "vps_reacts_to_icmp": false,
                       "how": "vps: iptables -A INPUT -i wg0 -p icmp --icmp-type fragmentation-needed -m u32 (quoted destination == 192.168.50.4) -j DROP; tcpdump sees the ICMP before netfilter",
                       "after": "ss -K on the vps aborts the stalled connection; then ping -c 2 -s 56 each way"} },
    "interface_indexes": {"vps": {"eth0": $ve, "wg0": $vw}, "laptop": {"eth0": $le, "wg0": $lw, "lan0": $ll}},
    "capture_commands": {"vps": "tcpdump -i any -U -w vps.pcap", "laptop": "tcpdump -i any -U -w laptop.pcap"} },
  "counted": {
    "ping_56_vps_to_lanhost": "$p56", "ping_56_lanhost_to_vps": "$pv",
    "ping_df_1350": {"result": "$pdo", "output": $(jstr "$ping_out"), "time_window_unix": [$t0, $tp],
      "note": "with -M do only the first ping is sent: its frag-needed sets the vps's PMTU for 192.168.50.2 to 1300 and ping 2 and 3 fail locally (EMSGSIZE, 'local error: message too long, mtu=1300'): 1 frag-needed, 3 errors"},
    "ping_flushed_1350": {"result": "$ppr", "output": $(jstr "$probe_out"), "time_window_unix": [$tp, $t1],
      "vps_route_mtu_to_192.168.50.5_after_each_flush": ["${pmf[0]}", "${pmf[1]}", "${pmf[2]}"],
      "note": "3 x ping -M do -c 1, ip route flush cache on the vps before each: each is sent and draws a frag-needed"},
    "curl_flow_pmtud": $(curl_json "$c2"), "curl_flow_pmtud_time_window_unix": [$t1, $t2],
    "curl_flow_nopmtud": $(curl_json "$c3"), "curl_flow_nopmtud_time_window_unix": [$t2, $t3],
    "after_flow_nopmtud": {"vps_tcp_port_8001_sockets_before_after_ss_K": "$ab_before/$ab_after", "ping_56_lanhost_to_vps": "$tl", "ping_56_vps_to_lanhost": "$tv"},
    "vps_route_pmtu_after": {"192.168.50.2": "$pm2", "192.168.50.3": "$pm3", "192.168.50.4": "$pm4", "192.168.50.5": "$pm5"},
    "vps_route_pmtu_after_note": "ip route get at the end; ping_flushed's route cache flushes (after ping_df) also made the vps forget 192.168.50.2's PMTU; 192.168.50.4's was never learned (its frag-needed dropped in INPUT)",
    "vps_iptables_input_frag_needed": {"dropped_flow_nopmtud": $fnd, "accepted": $fna},
    "laptop_iptables_output_frag_needed_to_wg0": $fno,
    "laptop_raw_df_packets_over_1300_from_wg0": $tbl,
    "laptop_forwarded_wg0_to_lan0": $fwl,
    "laptop_nstat": {"IpFragFails": $ff, "IcmpOutDestUnreachs": $odu},
    "router_forwarded_udp": {"vps->laptop": $f1, "laptop->vps": $f2},
    "inner_pmtud_from_captures_tshark": $ana,
    "wg0_ipv6_router_solicitations_tshark": {"vps": $rsv, "laptop": $rsl,
      "note": "the kernel sends IPv6 router solicitations (fe80:: -> ff02::2) into each wg0; no peer's AllowedIPs covers ff02::2, so wireguard-go drops them and no outer packet carries them"},
    "outer_from_captures_tshark": {"A": "vps.pcap (eth0 frames)", "B": "laptop.pcap (eth0 frames)", "A->B": $(jq_path "$outer" 'A->B'), "B->A": $(jq_path "$outer" 'B->A')},
    "frames_by_arphrd_type_tshark": {"vps": $hv, "laptop": $hl, "legend": {"1": "ethernet (eth0, lan0)", "772": "loopback (lo)", "65534": "none (wg0, inner IP packets)"}},
    "wg_show": {"vps": $wgv, "laptop": $wgl} },
  "expected_findings": ["inner_pmtud"],
  "expected_findings_note": "the underlay path fits (outer loss 0, no outer ICMP, every WireGuard packet <= 1452-byte payload crosses); the MTU problem is inside the tunnel, behind the laptop: frag-needed travels through the tunnel to the inner sender, which reacts in flow_pmtud and not in flow_nopmtud (it keeps retransmitting 1420-byte segments and curl fails), so healthy is not expected; tcp_mss_too_large is not correct either (MSS 1380 fits the tunnel and the path between the peers)",
  "also_acceptable_findings": ["affected_flows", "local_drop"],
  "also_acceptable_findings_note": "affected_flows for naming the inner flows the 1300 link hurts (flow_nopmtud stalls; the pings get no reply); local_drop only for the IPv6 router solicitations on wg0 (counted.wg0_ipv6_router_solicitations_tshark)"
}
EOF
  tsv_all "$D" 51820 51821
}

# ================================================================ main
if [[ $# -gt 0 ]]; then SCEN=("$@"); elif [[ $WG_IMPL == kernel ]]; then SCEN=("${KERNEL_SCENARIOS[@]}"); else SCEN=("${ALL_SCENARIOS[@]}"); fi
for s in "${SCEN[@]}"; do
  if [[ " ${KERNEL_SCENARIOS[*]} " == *" $s "* ]]; then
    [[ $WG_IMPL == kernel ]] || die "scenario '$s' needs WG_IMPL=kernel (see the header)"
    continue
  fi
  [[ $WG_IMPL == go ]] || die "scenario '$s' is a wireguard-go scenario; WG_IMPL=kernel runs only: ${KERNEL_SCENARIOS[*]}"
  [[ " ${ALL_SCENARIOS[*]} " == *" $s "* ]] || die "unknown scenario '$s' (known: ${ALL_SCENARIOS[*]} ${KERNEL_SCENARIOS[*]})"
done
make_www
for s in "${SCEN[@]}"; do
  log "scenario $s"
  D="$OUT/$s"
  rm -rf "$D"; mkdir -p "$D"
  DM0=$(dmesg 2>/dev/null | wc -l || echo 0)
  "sc_${s//-/_}"
  teardown
  log "scenario $s done: $(cd "$D" && ls | tr '\n' ' ')"
done
"$PY" "$HERE/record/finish.py" readme "$OUT"
log "all done"

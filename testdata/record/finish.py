#!/usr/bin/env python3
"""Helper of testdata/record.sh (not used by the tests).

  finish.py truth DIR   validate DIR/truth.draft.json, add the facts read from each
                        capture file's own headers (packets, bytes, link type,
                        timestamp resolution, snaplen), check them against what the
                        recorder asked for, write DIR/truth.json
  finish.py readme OUT  regenerate OUT/README.md from every OUT/*/truth.json
"""
import gzip
import json
import os
import struct
import sys

LINKTYPES = {1: "EN10MB", 101: "RAW", 113: "LINUX_SLL", 276: "LINUX_SLL2"}
MAX_BYTES = 1_000_000
ORDER = ["healthy", "mtu-blackhole", "pmtud-working", "hairpin-nat", "wrong-key",
         "ipv6-underlay", "random-loss", "nat-rewrite", "frag-blackhole", "frag-delivered",
         "two-peers", "two-tunnels", "rekey-rebind", "any-both", "any-blackhole", "path-blackhole", "local-drop", "inner-pmtud",
         "kernel-frag-blackhole", "kernel-rx-mtu"]


def read_capture(path):
    """Return dict(format, link_type, snaplen, packets, first_ts, last_ts) from the file itself."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        _, _, _, _, _, snap, lt = struct.unpack(e + "IHHiIII", data[:24])
        off, n, first, last = 24, 0, None, None
        div = 1e9 if nsec else 1e6
        while off + 16 <= len(data):
            sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
            ts = sec + frac / div
            first = ts if first is None else first
            last = ts
            off += 16 + incl
            n += 1
        if off != len(data):
            raise SystemExit(f"{path}: truncated pcap record")
        return {"format": "pcap-nsec" if nsec else "pcap-usec", "link_type": LINKTYPES.get(lt, str(lt)),
                "snaplen": snap, "packets": n, "first_ts": first, "last_ts": last}
    if magic == b"\x0a\x0d\x0d\x0a":
        bom = data[8:12]
        e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        off, n, idbs = 0, 0, []
        first = last = None
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            body = data[off + 8:off + blen - 4]
            if btype == 1:  # IDB
                lt, _, snap = struct.unpack(e + "HHI", body[:8])
                res, o = 1e6, 8
                while o + 4 <= len(body):
                    code, olen = struct.unpack(e + "HH", body[o:o + 4])
                    if code == 0:
                        break
                    if code == 9:  # if_tsresol
                        v = body[o + 4]
                        res = float(2 ** (v & 0x7F)) if v & 0x80 else 10.0 ** v
                    o += 4 + ((olen + 3) & ~3)
                idbs.append((lt, snap, res))
            elif btype in (6, 3, 2):  # EPB, SPB, obsolete PB
                n += 1
                if btype == 6:
                    ifid, hi, lo = struct.unpack(e + "III", body[:12])
                    ts = ((hi << 32) | lo) / idbs[ifid][2]
                    first = ts if first is None else first
                    last = ts
            off += blen
        lts = sorted({LINKTYPES.get(lt, str(lt)) for lt, _, _ in idbs})
        return {"format": "pcapng", "link_type": ",".join(lts), "snaplen": idbs[0][1] if idbs else None,
                "packets": n, "first_ts": first, "last_ts": last}
    raise SystemExit(f"{path}: not a pcap/pcapng file")


def truth(d):
    draft = os.path.join(d, "truth.draft.json")
    with open(draft) as f:
        t = json.load(f)
    for key, c in t["captures"].items():
        path = os.path.join(d, c["file"])
        info = read_capture(path)
        for k in ("format", "link_type", "snaplen"):
            if info[k] != c[k]:
                raise SystemExit(f"{path}: {k} is {info[k]!r}, recorder expected {c[k]!r}")
        size = os.path.getsize(path)
        if size >= MAX_BYTES:
            raise SystemExit(f"{path}: {size} bytes, over the 1 MB limit")
        c["packets"] = info["packets"]
        c["bytes"] = size
        if info["first_ts"] is not None:
            c["duration_seconds"] = round(info["last_ts"] - info["first_ts"], 3)
        c["tshark_tsv"] = c["file"] + ".tshark.tsv"
    gz = [f for f in sorted(os.listdir(d)) if f.endswith(".gz")]
    if gz:
        t["gzip_copies"] = {g: {"of": g[:-3], "bytes": os.path.getsize(os.path.join(d, g)),
                                "packets": read_capture(os.path.join(d, g))["packets"]} for g in gz}
    # the kernel-module scenarios say themselves how they were recorded
    t.setdefault("recorded_with", "testdata/record.sh (wireguard-go userspace, network namespaces on one host)")
    with open(os.path.join(d, "truth.json"), "w") as f:
        json.dump(t, f, indent=2)
        f.write("\n")
    os.remove(draft)


README_HEAD = """# testdata: real WireGuard captures for wgtrace's tests

Every file here was recorded by `record.sh` on one Linux host: network namespaces
joined by veth pairs, userspace WireGuard (`wireguard-go` 0.0.20220316), tcpdump
4.99.3 / dumpcap, traffic from ping, curl and `python3 -m http.server`. Nothing
here is synthetic or edited; the contents (keys, indexes, timing) change every
time the captures are recorded again.

## Re-recording

    sudo bash testdata/record.sh                  # all scenarios (~8 minutes; rekey-rebind alone takes 3)
    sudo bash testdata/record.sh mtu-blackhole    # just one (names as the folders below)

Needs root and Linux netns/veth/tun; installs its packages with apt when missing
(see the comment at the top of `record.sh`). All traffic stays inside namespaces
named `wgt-*`, which are removed (with the wireguard-go processes) when it exits.
`record/finish.py` writes `truth.json` and this README.

## What the tests rely on

* `<scenario>/truth.json` - ground truth taken from what the script configured and
  counted (iptables / nstat / tc counters on the routers, curl and ping results,
  `wg show`, dmesg), never from wgtrace. Keys: `scenario`, `description`,
  `underlay`, `captures` (per capture: `host`, `file`, `interface`, `link_type`,
  `format`, `snaplen`, `wg_listen_port`, `tunnel_address`, `packets`, `bytes`,
  `capture_dropped`), `configured`, `counted`, `expected_findings` (what a correct
  diagnosis must contain; `also_acceptable_findings` may be reported too).
* `<capture>.tshark.tsv` - tshark 4.0.17's independent dissection of every frame
  (`-d udp.port==P,wg` for each WireGuard port of the scenario), tab-separated with a
  header line: frame.number frame.len frame.cap_len ip.src ip.dst ipv6.src ipv6.dst
  ip.flags.df ip.ttl ip.frag_offset udp.srcport udp.dstport udp.length icmp.type
  icmp.code icmp.mtu icmpv6.type icmpv6.mtu wg.type wg.sender wg.receiver wg.counter.
  Several values in one field are comma-separated (`-E occurrence=a`): an ICMP error
  also shows the quoted packet's IP/UDP/WireGuard fields, and a `-i any` capture can
  hold the same packet twice. tshark puts a fragmented datagram's UDP/WireGuard fields
  on the frame that completes reassembly.
* All hosts share one kernel clock, so the true clock offset between two captures of
  a scenario is 0 (`clock_offset_seconds`).
* random-loss uses `tc ... netem loss 5%` when the kernel has sch_netem; the kernel it
  was recorded on has not, so the same loss comes from iptables' `statistic` match
  (`configured.loss_method` says which; `counted.netem_dropped` is the drop count either way).
* Facts observed in these captures (wireguard-go 0.0.20220316, Linux 6.18): outer IPv4
  packets carry DF=1 and a non-zero, incrementing IP ID; once an ICMP
  fragmentation-needed / packet-too-big arrives the sender's kernel fragments later
  datagrams itself (fragments have DF=0); Linux routers quote 548 bytes of the dropped
  packet (ICMP packet of 576 bytes), so the WireGuard receiver index and counter are in
  the quote; Linux does not rate-limit frag-needed or packet-too-big (one ICMP per drop).
* frag-blackhole and frag-delivered run both peers with `net.ipv4.ip_no_pmtu_disc=1`, so
  wireguard-go's outer packets carry DF=0 (like the kernel WireGuard module's) and the
  routers fragment them: a 1480-byte datagram crosses the 1454-MTU link as 1452 + 48
  bytes (tshark's `ip.frag_offset` is in 8-byte units: 179 = 1432 bytes). In
  frag-blackhole router2 drops the non-first fragments towards the laptop (nft
  prerouting, priority -450, before defragmentation); `counted.first_fragment_only_at_receiver`
  is derived from the captures with tshark, the other fragment counts from nstat/nft.
* WireGuard pads each inner packet to a multiple of 16 bytes, but never beyond the
  tunnel MTU: a UDP payload is 32 + that, so with tunnel MTU 1420 a 1384-byte ping
  (inner 1412) becomes a 1452-byte payload like a full-size one, and the largest
  payload that fits a path is the largest 32 + 16n (or 32 + tunnel MTU) under
  path MTU - 28 (`largest_wg_udp_payload_fitting_path`).
* two-peers has three captures (vps, laptop, phone): the vps's wg0 serves both peers.
  `pairs` gives the two meaningful pairs and the expected findings of each;
  the top-level `expected_findings` are those of (vps, laptop).
* two-tunnels runs two wireguard-go per host (wg0 and wg1, logs `<host>.wireguard-go.log`
  and `<host>.wg1.wireguard-go.log`); its captures' `wg_listen_port` and `tunnel_address`
  are lists (one per tunnel). `counted` has totals per direction (both tunnels) and
  `counted.per_tunnel` keyed by "vps port<->laptop port" (iptables counters matching the
  UDP source port, tshark sizes, ping/curl results, expected findings per tunnel).
* rekey-rebind (177 s): the laptop's NAT mapping moves 203.0.113.1:40001 -> :40002
  -> :40001 (SNAT rule replaced, the flow deleted with `conntrack -D`), and wireguard-go
  rekeys after 120 s. `counted.from_captures_tshark` lists every handshake message
  (frame, capture-relative time, indexes), the sessions (initiator/responder index),
  transport data per receiver index, the runs of peer endpoints seen at each end, and
  the rebinding times relative to each capture's first frame.
* any-both: both ends captured with `tcpdump -i any` - the vps with LINUX_SLL2, the
  laptop with `-y LINUX_SLL`; each packet appears once per interface it crossed (outer
  on eth0, inner on wg0), plus loopback, ARP and ICMPv6 noise (`sll.hatype` 1 = eth0,
  772 = lo, 65534 = wg0).
* any-blackhole: mtu-blackhole's path with both ends captured with `tcpdump -i any`
  (LINUX_SLL2). `counted.inner_from_captures_tshark` lists every inner flow seen on the
  two wg0s (frames with `sll.ifindex` = wg0's index, `configured.interface_indexes`),
  matched between the captures by (ip.src, ip.dst, ip.proto, ip.id, ip.len,
  ip.checksum): per flow the packets on the sender's and the receiver's wg0 and those
  never seen on the receiver's (`lost`, with inner sizes and frame numbers), and the TCP
  SYN/SYN-ACK MSS values (`tcp_syn_mss`). `loss_per_direction_cross_check` compares the
  routers' drop counters with the outer and the inner losses counted by tshark
  (`record/count.py`, which computes all of these from the captures).
* path-blackhole has four captures of one path, in path order (`path.files`): laptop,
  rtr-lan (the NAT router's LAN side), rtr-wan (its WAN side), vps. The router masquerades
  the laptop, so addresses and ports differ between rtr-lan and rtr-wan (`path.nat_at`);
  the receiver index and counter do not. `counted.path_from_captures_tshark` gives per
  point and direction the WireGuard packets (by UDP payload size), TTLs and address pairs,
  and per consecutive pair of points the packets seen upstream and never downstream
  (`hops`); `path.dropping_hop` names where the vps's big packets stop. `pairs` names two
  two-file views (the ends; the router's two sides), each with its expected findings.
* local-drop (both ends `-i any`, LINUX_SLL2): inner packets that enter the vps's wg0 and
  never leave its eth0. `counted.local_drop.no_peer`: to 10.0.0.99, in no peer's AllowedIPs
  (wireguard-go drops them without a log line); `counted.local_drop.no_endpoint`: to
  10.0.0.3, the AllowedIPs of a peer without an endpoint (the vps's
  `vps.wireguard-go.log` says `Failed to send handshake initiation: no known endpoint for
  peer`, quoted in the truth). Inner counts are tshark's on the vps's wg0 frames; that no
  outer packet carries them comes from the vps's iptables OUTPUT counters and tshark (every
  outer packet goes to the laptop and arrives; outer data packets = inner laptop-bound
  packets). The kernel's IPv6 router solicitations to ff02::2 also enter every wg0 in the
  `-i any` captures here and are dropped the same way (counted separately).
* inner-pmtud (both ends `-i any`, LINUX_SLL2): the underlay fits (MTU 1500, no outer
  loss); the laptop forwards to a LAN host behind it on a 1300-MTU link, and the ICMP
  frag-needed (mtu 1300) the laptop's kernel sends for the vps's big inner DF packets
  travels back through the tunnel (on the laptop's wg0 out, on the vps's wg0 in, inside a
  WireGuard transport packet on eth0). `configured.experiments` names four: `ping_df`
  (`ping -M do`, to 192.168.50.2: only the first is sent, then the vps knows the PMTU and
  fails the others locally), `ping_flushed` (to .5, three single `ping -M do`, the vps's route cache
  flushed before each: all three sent and answered with frag-needed), `flow_pmtud` (TCP from vps:8000 to 192.168.50.3; the vps reacts) and
  `flow_nopmtud` (TCP from vps:8001 to 192.168.50.4; the vps's iptables INPUT drops the
  ICMP after tcpdump saw it, so it does not react and curl stalls).
  `counted.inner_pmtud_from_captures_tshark` lists every frag-needed per capture (frame,
  interface, announced MTU, quoted packet, experiment, carrying eth0 frame) and per TCP
  flow the vps's segment sizes before and after the first frag-needed (`record/count.py
  innerpmtud`).
* The `kernel-*` scenarios were recorded with the Linux kernel's own WireGuard module
  instead of wireguard-go: `testdata/record-kernel.sh` boots Debian 12's kernel
  (linux-image-amd64, 6.1) in qemu on a debootstrap root and runs
  `WG_IMPL=kernel bash record.sh kernel-...` there (tshark/tcpdump inside the VM are
  Debian 12's, the same versions as above; the host's tshark gives the same .tshark.tsv).
  The recording host's nested KVM hangs guests, so they ran under qemu's TCG emulation.
  Their truth.json has top-level `wireguard` ("linux kernel module <version>") and
  `kernel` (`uname -r` in the VM). The module sends outer IPv4 without DF by itself (no
  sysctl); its outer IP IDs are non-zero and increasing, with gaps. `wireguard.dmesg.txt`
  holds the module's dynamic-debug messages (both peers' interfaces are called wg0).
  The VM's namespaces share one kernel clock as well. Under emulation the two captures
  do not stop at the same instant: in kernel-frag-blackhole vps.pcap runs ~2.3 s past
  the end of laptop.pcap and holds one more big datagram (a TCP retransmission) whose
  first fragment reached the laptop after its capture had stopped, so the nft/nstat
  counts say 21 where the laptop capture (and `first_fragment_only_at_receiver`, from
  tshark) says 20.
* `rotated/` is not a scenario of `record.sh` (no WireGuard, no truth.json): one end
  written as several files by capture-file rotation, recorded by hand in two network
  namespaces (`wgt-rot-a`/`wgt-rot-b`, a veth pair, ping). `rotated/tcpdump/` is a
  `tcpdump -C 1 -W 3 -w rot.pcap` ring that wrapped (so `rot.pcap2` is the oldest and
  name order is not time order), each file compressed afterwards with `gzip -9 -n`;
  `rotated/dumpcap/` is `dumpcap -b filesize:40 -w ring.pcapng` (four pcapng files).
  `rotated/counts.json` holds the packets and first-packet time of every file and the
  totals, from capinfos 4.0.17.
* `<host>.wireguard-go.log` (debug log) and `hairpin-nat/pi.dmesg.txt` are extra
  evidence for humans; tests need not read them.

## Files

| scenario | host | file | interface | link type | format | snaplen | packets | bytes | what it shows |
|---|---|---|---|---|---|---|---|---|---|
"""


def readme(out):
    rows = []
    notes = []
    for s in ORDER:
        p = os.path.join(out, s, "truth.json")
        if not os.path.exists(p):
            continue
        with open(p) as f:
            t = json.load(f)
        for c in t["captures"].values():
            rows.append(f"| {s} | {c['host']} | `{s}/{c['file']}` | {c['interface']} | {c['link_type']} | "
                        f"{c['format']} | {c['snaplen']} | {c['packets']} | {c['bytes']} | {c['shows']} |")
        for g, v in t.get("gzip_copies", {}).items():
            rows.append(f"| {s} | - | `{s}/{g}` | - | - | gzip -9 of {v['of']} | - | {v['packets']} | {v['bytes']} | "
                        f"the same capture gzip-compressed |")
        notes.append(f"* **{s}**: {t['description']} Expected findings: "
                     f"{', '.join(t['expected_findings'])}.")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README_HEAD)
        f.write("\n".join(rows) + "\n\n## Scenarios\n\n" + "\n".join(notes) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("truth", "readme"):
        raise SystemExit(__doc__)
    (truth if sys.argv[1] == "truth" else readme)(sys.argv[2])

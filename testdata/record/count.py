#!/usr/bin/env python3
"""Helper of testdata/record.sh (not used by the tests): counts taken from the
captures with tshark (never with wgtrace), printed as one JSON object.

  count.py inner A.pcap A_WG_IFINDEX B.pcap B_WG_IFINDEX
      -i any captures (LINUX_SLL2) of the two ends of one tunnel. The inner packets
      are the frames whose cooked header names the wg0 interface (sll.ifindex).
      An inner packet is matched between the two captures by (ip.src, ip.dst,
      ip.proto, ip.id, ip.len, ip.checksum) (the tunnel does not change any of them;
      a multiset, so duplicates are counted). Per inner flow (proto, src ip:port,
      dst ip:port; ICMP flows by echo identifier): packets seen on the sender's wg0,
      on the receiver's wg0, and those never seen on the receiver's wg0 (sizes and
      frame numbers); the TCP SYN / SYN-ACK MSS values seen on each wg0.

  count.py outer PORT_A A.pcap A_IFINDEX|- B.pcap B_IFINDEX|- [more WireGuard ports...]
      outer WireGuard packets between the two ends: A's port is PORT_A (direction
      "A->B" = udp.srcport == PORT_A). Sent at one end and never seen at the other,
      matched by (wg.type, receiver index, counter) for transport data and by
      (wg.type, sender index) for handshake messages; UDP payload sizes of each.
      With an ifindex only the frames of that interface count (for -i any).

  count.py path PORT_LAST NAME=FILE[@IFINDEX] ... [more WireGuard ports...]
      two or more capture points in path order; PORT_LAST is the WireGuard port of the
      host at the last point (direction "first->last" = udp.dstport == PORT_LAST).
      WireGuard packets at each capture point (per direction and UDP payload size),
      per consecutive pair of points and direction the packets seen at the upstream
      point and never at the downstream one (by the same keys as outer), the TTLs
      seen at each point, and the address:port pairs of each direction at each point.
"""
import collections
import json
import subprocess
import sys


def tshark(path, fields, dfilter, ports):
    args = ["tshark", "-r", path, "-n"]
    for p in ports:
        args += ["-d", f"udp.port=={p},wg"]
    args += ["-Y", dfilter, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [dict(zip(fields, line.split("\t"))) for line in out.splitlines() if line.strip()]


INNER_FIELDS = ["frame.number", "frame.time_relative", "sll.ifindex", "ip.src", "ip.dst", "ip.proto",
                "ip.id", "ip.len", "ip.checksum", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
                "icmp.type", "icmp.ident", "icmp.seq", "tcp.flags.syn", "tcp.flags.ack", "tcp.options.mss_val",
                "tcp.seq_raw", "tcp.len"]
PROTO = {"1": "icmp", "6": "tcp", "17": "udp"}


def flow_of(r):
    p = PROTO.get(r["ip.proto"], r["ip.proto"])
    if p == "tcp":
        return (p, f"{r['ip.src']}:{r['tcp.srcport']}", f"{r['ip.dst']}:{r['tcp.dstport']}")
    if p == "udp":
        return (p, f"{r['ip.src']}:{r['udp.srcport']}", f"{r['ip.dst']}:{r['udp.dstport']}")
    if p == "icmp":
        return (p, r["ip.src"], r["ip.dst"], f"echo id {r['icmp.ident']}" if r["icmp.ident"] else f"type {r['icmp.type']}")
    return (p, r["ip.src"], r["ip.dst"])


def key_of(r):
    return (r["ip.src"], r["ip.dst"], r["ip.proto"], r["ip.id"], r["ip.len"], r["ip.checksum"])


def flow_name(f):
    return " ".join(f[:1] + (f"{f[1]} -> {f[2]}",) + f[3:])


def inner(a, ai, b, bi):
    caps = {"A": tshark(a, INNER_FIELDS, f"sll.ifindex=={ai} && ip", []),
            "B": tshark(b, INNER_FIELDS, f"sll.ifindex=={bi} && ip", [])}
    names = {"A": a.rsplit("/", 1)[-1], "B": b.rsplit("/", 1)[-1]}
    # the sender of a flow is the capture whose host owns the source address: the one that
    # saw the flow's first packet going out. Decide by where each flow's packets are more
    # numerous (a sender sees all of its own), ties to the earliest.
    flows = collections.defaultdict(lambda: {"A": [], "B": []})
    for side, rows in caps.items():
        for r in rows:
            flows[flow_of(r)][side].append(r)
    out, syn = [], []
    for f, sides in sorted(flows.items(), key=lambda kv: min(float(r["frame.time_relative"]) for s in kv[1].values() for r in s) if any(kv[1].values()) else 0):
        snd = "A" if len(sides["A"]) >= len(sides["B"]) else "B"
        rcv = "B" if snd == "A" else "A"
        have = collections.Counter(key_of(r) for r in sides[rcv])
        lost = []
        for r in sides[snd]:
            k = key_of(r)
            if have[k] > 0:
                have[k] -= 1
            else:
                lost.append(r)
        extra = sum(have.values())  # seen at the receiver, never at the sender
        ent = {"flow": flow_name(f), "proto": f[0], "src": f[1], "dst": f[2],
               "sender_capture": names[snd], "receiver_capture": names[rcv],
               "seen_on_sender_wg0": len(sides[snd]), "seen_on_receiver_wg0": len(sides[rcv]),
               "lost": len(lost),
               "lost_inner_sizes": {str(k): v for k, v in sorted(collections.Counter(int(r["ip.len"]) for r in lost).items())},
               "sizes_sent": {str(k): v for k, v in sorted(collections.Counter(int(r["ip.len"]) for r in sides[snd]).items())},
               "lost_frames_in_sender_capture": [int(r["frame.number"]) for r in lost],
               "received_but_not_sent": extra}
        if len(f) > 3:
            ent["icmp"] = f[3]
        out.append(ent)
        for side in ("A", "B"):
            for r in sides[side]:
                if r["tcp.flags.syn"] in ("1", "True") and r["tcp.options.mss_val"]:
                    syn.append({"flow": flow_name(f), "capture": names[side], "frame": int(r["frame.number"]),
                                "syn_ack": r["tcp.flags.ack"] in ("1", "True"), "mss": int(r["tcp.options.mss_val"]),
                                "inner_size": int(r["ip.len"])})
    return {"method": "tshark: frames with sll.ifindex == the wg0 ifindex; inner packets matched by "
                      "(ip.src, ip.dst, ip.proto, ip.id, ip.len, ip.checksum)",
            "wg0_ifindex": {names["A"]: int(ai), names["B"]: int(bi)},
            "inner_frames": {names["A"]: len(caps["A"]), names["B"]: len(caps["B"])},
            "flows": out, "flows_with_loss": [e for e in out if e["lost"]],
            "lost_total": sum(e["lost"] for e in out), "tcp_syn_mss": syn}


OUTER_FIELDS = ["frame.number", "frame.time_relative", "ip.src", "ip.dst", "ip.ttl", "ip.flags.df", "ip.len",
                "udp.srcport", "udp.dstport", "udp.length", "wg.type", "wg.sender", "wg.receiver", "wg.counter"]


def wg_rows(path, ifindex, ports):
    flt = "wg && !icmp"
    if ifindex not in (None, "-"):
        flt += f" && sll.ifindex=={ifindex}"
    return tshark(path, OUTER_FIELDS, flt, ports)


def wkey(r):
    if r["wg.type"] == "4":
        return ("4", r["wg.receiver"], r["wg.counter"])
    return (r["wg.type"], r["wg.sender"], r["wg.receiver"])


def direction(r, port_a):
    if r["udp.srcport"] == port_a:
        return "A->B"
    if r["udp.dstport"] == port_a:
        return "B->A"
    return None


def payload(r):
    return int(r["udp.length"]) - 8


def sizes(rows):
    c = collections.Counter(payload(r) for r in rows)
    return {str(k): c[k] for k in sorted(c)}


def missing(up, down):
    have = collections.Counter(wkey(r) for r in down)
    lost = []
    for r in up:
        k = wkey(r)
        if have[k] > 0:
            have[k] -= 1
        else:
            lost.append(r)
    return lost


def outer(port_a, a, ai, b, bi, ports):
    ra, rb = wg_rows(a, ai, ports), wg_rows(b, bi, ports)
    res = {}
    for d, snd, rcv, sn, rn in (("A->B", ra, rb, a, b), ("B->A", rb, ra, b, a)):
        s = [r for r in snd if direction(r, port_a) == d]
        r_ = [r for r in rcv if direction(r, port_a) == d]
        lost = missing(s, r_)
        res[d] = {"sent": len(s), "received": len(r_), "lost": len(lost), "sent_sizes": sizes(s),
                  "received_sizes": sizes(r_), "lost_sizes": sizes(lost),
                  "lost_frames_in_sender_capture": [int(x["frame.number"]) for x in lost],
                  "sender_capture": sn.rsplit("/", 1)[-1], "receiver_capture": rn.rsplit("/", 1)[-1]}
    return res


def path(port_last, points, ports):
    """points in path order; port_last: the WireGuard port of the host at the last point
    (never rewritten on the way: NAT only changes the first host's side)"""
    pts = []
    for p in points:
        name, spec = p.split("=", 1)
        f, _, idx = spec.partition("@")
        pts.append((name, wg_rows(f, idx or None, ports)))
    first, last = pts[0][0], pts[-1][0]
    down, up = f"{first}->{last}", f"{last}->{first}"

    def dir_of(r):
        if r["udp.dstport"] == port_last:
            return down
        if r["udp.srcport"] == port_last:
            return up
        return None

    res = {"points": [n for n, _ in pts], "directions": [down, up],
           "method": "tshark (default IPv4 reassembly: a fragmented datagram counts once, on the frame that completes it); "
                     "packets matched between points by (wg.type, receiver index, counter) for transport data and "
                     "(wg.type, sender index, receiver index) for handshake messages",
           "at_point": {}, "hops": []}
    for name, rows in pts:
        per = {}
        for d in (down, up):
            rs = [r for r in rows if dir_of(r) == d]
            ttl = collections.Counter(int(r["ip.ttl"]) for r in rs)
            ends = collections.Counter(f"{r['ip.src']}:{r['udp.srcport']} -> {r['ip.dst']}:{r['udp.dstport']}" for r in rs)
            per[d] = {"packets": len(rs), "udp_payload_sizes": sizes(rs),
                      "ttl": {str(k): ttl[k] for k in sorted(ttl)}, "addresses": dict(ends)}
        res["at_point"][name] = per
    for (n1, r1), (n2, r2) in zip(pts, pts[1:]):
        hop = {"between": [n1, n2]}
        for d in (down, up):
            a, b = (r1, r2) if d == down else (r2, r1)
            a = [r for r in a if dir_of(r) == d]
            b = [r for r in b if dir_of(r) == d]
            lost = missing(a, b)
            hop[d] = {"upstream": n1 if d == down else n2, "downstream": n2 if d == down else n1,
                      "seen_upstream": len(a), "never_downstream": len(lost), "never_downstream_sizes": sizes(lost),
                      "appeared_downstream_only": len(missing(b, a))}
        res["hops"].append(hop)
    return res


def main(argv):
    if len(argv) >= 5 and argv[0] == "inner":
        print(json.dumps(inner(*argv[1:5])))
    elif len(argv) >= 6 and argv[0] == "outer":
        print(json.dumps(outer(argv[1], argv[2], argv[3], argv[4], argv[5], [argv[1]] + argv[6:])))
    elif len(argv) >= 4 and argv[0] == "path":
        pts = [a for a in argv[2:] if "=" in a]
        ports = [argv[1]] + [a for a in argv[2:] if "=" not in a]
        print(json.dumps(path(argv[1], pts, ports)))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

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

  count.py innerpmtud A.pcap A_WG A_ETH B.pcap B_WG B_ETH B_LAN
      inner-pmtud: A = the vps (inner sender), B = the laptop (forwards to lanhost on B_LAN),
      -i any captures (LINUX_SLL2), interfaces by sll.ifindex. Every ICMP fragmentation-needed
      (type 3 code 4) in each capture: frame, interface, outer src/dst, announced MTU, the
      quoted packet (src, dst, protocol, ports or ICMP type, length), which experiment it
      belongs to (by the quoted destination) and the WireGuard transport packet on eth0 that
      carried it (by order of wg.counter among the transport packets of its size and direction).
      Per TCP flow from the vps: the data segments (inner ip.len) on the vps's wg0 before and
      after the first frag-needed quoting that flow arrived on the vps's wg0, those arriving
      on the laptop's wg0 and those the laptop forwarded to lan0.
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


def tshark_all(path, fields, dfilter, ports):
    """like tshark() but every occurrence of a field (comma-separated lists)"""
    args = ["tshark", "-r", path, "-n"]
    for p in ports:
        args += ["-d", f"udp.port=={p},wg"]
    args += ["-Y", dfilter, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [{k: (v.split(",") if v else []) for k, v in zip(fields, line.split("\t"))} for line in out.splitlines() if line.strip()]


EXPERIMENT = {"192.168.50.2": "ping_df", "192.168.50.5": "ping_flushed", "192.168.50.3": "flow_pmtud", "192.168.50.4": "flow_nopmtud"}
ICMP_FIELDS = ["frame.number", "frame.time_epoch", "sll.ifindex", "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.flags.df",
               "icmp.type", "icmp.code", "icmp.mtu", "tcp.srcport", "tcp.dstport", "icmp.ident", "icmp.seq"]
WG_FIELDS = ["frame.number", "frame.time_epoch", "udp.srcport", "udp.dstport", "udp.length", "wg.type", "wg.receiver", "wg.counter"]


def g(r, k, i=0):
    v = r[k]
    return v[i] if len(v) > i else None


def innerpmtud(a, aw, ae, b, bw, be, bl):
    ports = ["51820", "51821"]
    caps = {"vps": (a, {aw: "wg0", ae: "eth0"}), "laptop": (b, {bw: "wg0", be: "eth0", bl: "lan0"})}
    res = {"method": "tshark on the -i any captures; interface by sll.ifindex; ICMP frag-needed = icmp.type==3 && icmp.code==4 "
                     "(outer = first ip.* occurrence, quoted packet = second); carrier = the WireGuard transport frame on eth0 "
                     "of the right direction (laptop: sent, vps: received) with udp.length 8 + 32 + the ICMP packet padded to 16, "
                     "the k-th by wg.counter for the k-th frag-needed on wg0 (see carrier_check); the same carrier counters "
                     "in both captures confirm the pairing",
           "frag_needed": {}, "frag_needed_count": {}, "tcp_flows": {}}
    first_icmp_vps = {}
    for host, (path, names) in caps.items():
        rows = tshark_all(path, ICMP_FIELDS, "icmp.type==3 && icmp.code==4", ports)
        eth = [k for k, v in names.items() if v == "eth0"][0]
        wgr = tshark_all(path, WG_FIELDS, f"sll.ifindex=={eth} && wg.type==4", ports)
        lst, cnt, pend = [], collections.Counter(), []
        for r in rows:
            ifn = names.get(g(r, "sll.ifindex"), g(r, "sll.ifindex"))
            cnt[ifn] += 1
            qdst = g(r, "ip.dst", 1)
            e = {"frame": int(g(r, "frame.number")), "interface": ifn, "src": g(r, "ip.src"), "dst": g(r, "ip.dst"),
                 "icmp_packet_len": int(g(r, "ip.len")), "mtu": int(g(r, "icmp.mtu")) if g(r, "icmp.mtu") else None,
                 "quoted": {"src": g(r, "ip.src", 1), "dst": qdst, "protocol": PROTO.get(g(r, "ip.proto", 1), g(r, "ip.proto", 1)),
                            "ip_len": int(g(r, "ip.len", 1)), "df": g(r, "ip.flags.df", 1)},
                 "experiment": EXPERIMENT.get(qdst)}
            if e["quoted"]["protocol"] == "tcp":
                e["quoted"]["src_port"] = int(g(r, "tcp.srcport")); e["quoted"]["dst_port"] = int(g(r, "tcp.dstport"))
            elif e["quoted"]["protocol"] == "icmp":
                e["quoted"]["icmp_type"] = int(g(r, "icmp.type", 1)); e["quoted"]["icmp_seq"] = g(r, "icmp.seq")
            if ifn == "wg0":
                pend.append(e)
                if host == "vps" and e["experiment"] and e["experiment"] not in first_icmp_vps:
                    first_icmp_vps[e["experiment"]] = e["frame"]
            lst.append(e)
        # the carrier of each frag-needed on wg0: WireGuard encrypts in the order it reads the tun
        # device and numbers the packets (wg.counter) in that order, so the k-th frag-needed on wg0
        # (laptop: sent into the tunnel, vps: received) rides in the k-th transport packet of its
        # size in that direction (by counter). That holds when no other inner packet of the same
        # padded size goes that way: checked (inner_packets_of_that_size_on_wg0 == frag-needed on wg0).
        sizes_wanted = {8 + 32 + (e["icmp_packet_len"] + 15) // 16 * 16 for e in pend}
        wport = ("udp.srcport", "51821") if host == "laptop" else ("udp.dstport", "51820")
        inner = tshark(path, ["ip.len"], f"sll.ifindex=={[k for k, v in names.items() if v == 'wg0'][0]} && ip.dst==10.0.0.1", ports)
        carrier_check = {}
        for want in sorted(sizes_wanted):
            ws = sorted((w for w in wgr if g(w, wport[0]) == wport[1] and int(g(w, "udp.length")) == want),
                        key=lambda w: int(g(w, "wg.counter")))
            es = [e for e in pend if 8 + 32 + (e["icmp_packet_len"] + 15) // 16 * 16 == want]
            same = sum(1 for r in inner if 8 + 32 + min(1420, (int(r["ip.len"]) + 15) // 16 * 16) == want)
            carrier_check[str(want)] = {"transport_packets_of_this_udp_length": len(ws), "frag_needed_on_wg0": len(es),
                                        "inner_packets_to_10.0.0.1_of_that_padded_size_on_wg0": same,
                                        "unambiguous": len(ws) == len(es) == same}
            for e, w in zip(es, ws):
                e["carried_by_eth0_frame"] = {"frame": int(g(w, "frame.number")), "udp_length": int(g(w, "udp.length")),
                                              "receiver_index": g(w, "wg.receiver"), "counter": int(g(w, "wg.counter"))}
        res.setdefault("carrier_check", {})[host] = carrier_check
        res["frag_needed"][host] = lst
        res["frag_needed_count"][host] = dict(cnt)
        res["frag_needed_count"][host + "_by_experiment_on_wg0"] = dict(collections.Counter(e["experiment"] for e in lst if e["interface"] == "wg0"))
    # the same frag-needed seen at both ends: pairs by order on wg0, compared by quoted packet and carrier
    lw = [e for e in res["frag_needed"]["laptop"] if e["interface"] == "wg0"]
    vw = [e for e in res["frag_needed"]["vps"] if e["interface"] == "wg0"]
    res["pairs_laptop_to_vps"] = {"count_equal": len(lw) == len(vw),
        "same_quoted_packet_and_carrier_counter": all(x["quoted"] == y["quoted"] and x.get("carried_by_eth0_frame", {}).get("counter")
                                                      == y.get("carried_by_eth0_frame", {}).get("counter") for x, y in zip(lw, vw)),
        "frames": [{"laptop_wg0": x["frame"], "laptop_eth0": x.get("carried_by_eth0_frame", {}).get("frame"),
                    "vps_eth0": y.get("carried_by_eth0_frame", {}).get("frame"), "vps_wg0": y["frame"],
                    "counter": y.get("carried_by_eth0_frame", {}).get("counter"), "experiment": y["experiment"]} for x, y in zip(lw, vw)]}
    seg_fields = ["frame.number", "sll.ifindex", "ip.src", "ip.dst", "ip.len", "tcp.srcport", "tcp.len", "tcp.seq"]
    for exp, dst, port in (("flow_pmtud", "192.168.50.3", "8000"), ("flow_nopmtud", "192.168.50.4", "8001")):
        flt = f"ip.src==10.0.0.1 && ip.dst=={dst} && tcp.srcport=={port} && tcp.len>0"
        vs = tshark(a, seg_fields, f"sll.ifindex=={aw} && " + flt, ports)
        ls = tshark(b, seg_fields, f"sll.ifindex=={bw} && " + flt, ports)
        ln = tshark(b, seg_fields, f"sll.ifindex=={bl} && " + flt, ports)
        fi = first_icmp_vps.get(exp)
        syn = tshark(a, ["frame.number", "ip.src", "tcp.flags.ack", "tcp.options.mss_val"],
                     f"sll.ifindex=={aw} && tcp.flags.syn==1 && tcp.port=={port} && ip.addr=={dst}", ports)

        def summ(rs):
            c = collections.Counter(int(r["ip.len"]) for r in rs)
            return {"segments": len(rs), "max_inner_len": max(c) if c else None, "inner_sizes": {str(k): c[k] for k in sorted(c)}}
        ent = {"tcp": f"10.0.0.1:{port} -> {dst}", "first_frag_needed_frame_on_vps_wg0": fi,
               "vps_wg0_sent": summ(vs),
               "vps_wg0_before_first_frag_needed": summ([r for r in vs if fi is None or int(r["frame.number"]) < fi]),
               "vps_wg0_after_first_frag_needed": summ([r for r in vs if fi is not None and int(r["frame.number"]) > fi]),
               "laptop_wg0_received": summ(ls), "laptop_lan0_forwarded": summ(ln),
               "syn_mss_on_vps_wg0": [{"frame": int(r["frame.number"]), "from": r["ip.src"], "syn_ack": r["tcp.flags.ack"] in ("1", "True"),
                                       "mss": int(r["tcp.options.mss_val"]) if r["tcp.options.mss_val"] else None} for r in syn]}
        res["tcp_flows"][exp] = ent
    return res


def main(argv):
    if len(argv) >= 5 and argv[0] == "inner":
        print(json.dumps(inner(*argv[1:5])))
    elif len(argv) >= 6 and argv[0] == "outer":
        print(json.dumps(outer(argv[1], argv[2], argv[3], argv[4], argv[5], [argv[1]] + argv[6:])))
    elif len(argv) >= 8 and argv[0] == "innerpmtud":
        print(json.dumps(innerpmtud(*argv[1:8])))
    elif len(argv) >= 4 and argv[0] == "path":
        pts = [a for a in argv[2:] if "=" in a]
        ports = [argv[1]] + [a for a in argv[2:] if "=" not in a]
        print(json.dumps(path(argv[1], pts, ports)))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Seeds the fuzz corpora from the recorded captures (reproducible).

usage: fuzz/seed.py TESTDATA_DIR   (e.g. /work/main/testdata or ../testdata)

capture_file: the head (about 4 KB, cut at a record/block boundary) of each
distinct capture; capture_gzip: the same, gzip-compressed; decode_frame: a
few frames per link type (1 byte link choice, 4 bytes wire length, frame),
including IP packets re-wrapped in the link headers the captures do not use.
"""
import gzip, os, struct, sys, glob

src = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
LINKS = [0, 1, 9, 12, 14, 101, 108, 113, 228, 229, 276, 147]
HEAD = 4096

def pcap_records(b):
    magic = b[:4]
    e = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    link = struct.unpack(e + 'I', b[20:24])[0] & 0xffff
    pos, out = 24, []
    while pos + 16 <= len(b):
        _, _, cap, orig = struct.unpack(e + 'IIII', b[pos:pos + 16])
        if pos + 16 + cap > len(b):
            break
        out.append((pos, pos + 16 + cap, link, orig, b[pos + 16:pos + 16 + cap]))
        pos += 16 + cap
    return out

def pcapng_blocks(b):
    pos, out, links = 0, [], []
    while pos + 12 <= len(b):
        typ, ln = struct.unpack('<II', b[pos:pos + 8])
        if ln < 12 or pos + ln > len(b):
            break
        body = b[pos + 8:pos + ln - 4]
        frame = None
        if typ == 1:
            links.append(struct.unpack('<H', body[:2])[0])
        elif typ == 6:
            iface, _, _, cap, orig = struct.unpack('<IIIII', body[:20])
            frame = (links[iface], orig, body[20:20 + cap])
        out.append((pos, pos + ln, frame))
        pos += ln
    return out

def write(target, name, data):
    with open(os.path.join(here, 'corpus', target, 'seed-' + name), 'wb') as f:
        f.write(data)

def frame_seed(link, wire, data):
    return bytes([LINKS.index(link)]) + struct.pack('<I', wire) + data

ip_packets = []
for path in sorted(glob.glob(os.path.join(src, '*', '*.pcap*'))):
    if path.endswith(('.tsv', '.gz')):
        continue
    b = open(path, 'rb').read()
    name = os.path.relpath(path, src).replace('/', '-')
    if b[:4] == b'\x0a\x0d\x0d\x0a':
        blocks = pcapng_blocks(b)
        end = max([e for (_, e, _) in blocks if e <= HEAD] or [len(b)])
        frames = [f for (_, _, f) in blocks if f]
    else:
        recs = pcap_records(b)
        end = max([e for (_, e, _, _, _) in recs if e <= HEAD] or [24])
        frames = [(l, o, d) for (_, _, l, o, d) in recs]
    head = b[:end]
    write('capture_file', name, head)
    write('capture_gzip', name + '.gz', gzip.compress(head, mtime=0))
    # Frames: the first few, the largest and the smallest of each capture.
    picks = frames[:3] + sorted(frames, key=lambda f: len(f[2]))[:1] + sorted(frames, key=lambda f: -len(f[2]))[:1]
    for i, (link, orig, data) in enumerate(picks):
        if link in LINKS:
            write('decode_frame', f'{name}-{i}', frame_seed(link, orig, data))
        if link == 1 and len(data) > 14 and data[12:14] in (b'\x08\x00', b'\x86\xdd'):
            ip_packets.append(data[14:])
        elif link == 101:
            ip_packets.append(data)

# The link types no capture uses: wrap a few IP packets in their headers.
for i, p in enumerate(ip_packets[:4]):
    v6 = p[0] >> 4 == 6
    et = b'\x86\xdd' if v6 else b'\x08\x00'
    wraps = {
        0: struct.pack('<I', 10 if v6 else 2) + p,
        108: struct.pack('>I', 24 if v6 else 2) + p,
        9: b'\xff\x03' + (b'\x00\x57' if v6 else b'\x00\x21') + p,
        113: b'\x00\x04\x00\x01\x00\x06' + b'\x02' * 8 + et + p,
        228 if not v6 else 229: p,
        12: p,
        1: b'\x02' * 12 + b'\x81\x00\x00\x05' + et + p,  # VLAN-tagged
        147: p,
    }
    for link, data in wraps.items():
        write('decode_frame', f'wrapped-{link}-{i}', frame_seed(link, len(data), data))

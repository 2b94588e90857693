//! Stage 2: frames to compact packet records.
//!
//! [`decode_frame`] is a pure function of one frame; [`decode_capture`]
//! drives the reader and decodes each small batch of frames right after it
//! was read, while its bytes are still in the CPU cache, interning addresses
//! into a per-capture table. Decoding a batch on other cores than the one
//! that just read it was slower (1 GiB capture: 247 ms against 203 ms):
//! reading is bound by memory latency, not by decoding. So parallelism comes
//! from splitting the file instead: a large classic pcap file is cut into
//! pieces at record boundaries, each read and decoded on its own core
//! ([`decode_capture_with`]); the two ends of a pair and the incidents of a
//! batch also decode on separate cores.

mod inner;
mod link;
mod net;
mod record;
pub mod wireguard;

pub use link::network_layer;
pub use record::{
    DecodeIssue, Endpoint, EndpointId, Endpoints, Flags, IcmpError, PacketId, PacketKind,
    PacketRecord, QuotedPacket, TcpFlags,
};
pub use wireguard::{Counter, Message, PeerIndex};

use crate::capture::{
    read_frames_at, read_piece, CaptureError, CaptureInfo, CapturePart, Frame, FrameNo, Input,
    Parser, PieceEnd, Source,
};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A frame decoded, with its endpoints not yet interned.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The record (its `src`/`dst` are [`EndpointId::NONE`] until interned).
    pub record: PacketRecord,
    /// Source and destination, for IP packets.
    pub endpoints: Option<(Endpoint, Endpoint)>,
    /// Records of the other WireGuard messages of a UDP GSO/GRO super-packet
    /// (same frame, same endpoints; see [`Flags::SPLIT`]); empty for most frames.
    pub extra: Vec<PacketRecord>,
}

impl EndpointId {
    /// Placeholder for packets without IP endpoints.
    pub const NONE: EndpointId = EndpointId(u32::MAX);
}

/// A record of nothing: undecodable, no endpoints, all sizes zero.
fn blank_record() -> PacketRecord {
    PacketRecord {
        ts: crate::capture::Timestamp(0),
        kind: PacketKind::Undecodable(DecodeIssue::UnsupportedLinkType),
        frame: FrameNo(0),
        ip_len: 0,
        src: EndpointId::NONE,
        dst: EndpointId::NONE,
        udp_len: 0,
        frag_len: 0,
        ttl: 0,
        flags: Flags::default(),
        iface: 0,
    }
}

/// Decodes one frame. Never fails: what cannot be read becomes [`PacketKind::Undecodable`].
pub fn decode_frame(frame: &Frame<'_>) -> Decoded {
    decode_frame_with(frame, &mut wireguard::Scanner::default())
}

/// [`decode_frame`], keeping `scanner`'s search for super-packets from frame to frame.
pub fn decode_frame_with(frame: &Frame<'_>, scanner: &mut wireguard::Scanner) -> Decoded {
    let base = PacketRecord {
        ts: frame.ts,
        frame: frame.no,
        ip_len: frame.wire_len,
        iface: u8::try_from(frame.iface).unwrap_or(u8::MAX),
        ..blank_record()
    };
    match network_layer(frame.link, frame.data) {
        Err(issue) => Decoded {
            record: PacketRecord {
                kind: PacketKind::Undecodable(issue),
                ..base
            },
            endpoints: None,
            extra: Vec::new(),
        },
        Ok(link::Network::NonIp(ethertype)) => Decoded {
            record: PacketRecord {
                kind: PacketKind::NonIp { ethertype },
                ..base
            },
            endpoints: None,
            extra: Vec::new(),
        },
        Ok(link::Network::Ip { packet, direction }) => {
            let mut d = net::decode_ip(packet, base, scanner);
            d.record.flags.0 |= direction;
            for r in &mut d.extra {
                r.flags.0 |= direction;
            }
            d
        }
    }
}

/// A capture file decoded into records.
#[derive(Debug)]
pub struct DecodedCapture {
    /// The file as the user named it.
    pub path: PathBuf,
    /// Format, interfaces, statistics, damage.
    pub info: CaptureInfo,
    /// One record per frame, in frame order.
    pub records: Vec<PacketRecord>,
    /// The endpoints the records refer to.
    pub endpoints: Endpoints,
}

impl DecodedCapture {
    /// The time of its earliest packet.
    pub fn first_ts(&self) -> Option<crate::capture::Timestamp> {
        self.records.iter().map(|r| r.ts).min()
    }

    /// Leaves out the records outside `[start, end]` (ns since the epoch,
    /// inclusive), before any analysis; frame numbers are kept. Returns the
    /// records kept.
    pub fn retain_between(&mut self, start: i64, end: i64) -> u64 {
        self.records.retain(|r| (start..=end).contains(&r.ts.0));
        self.records.len() as u64
    }
}

/// Joins the decoded files of one capture end (rotated captures) into one
/// capture, as if they were one file: ordered by their first packet's time
/// (ties, and files without packets, by path), frames numbered across the
/// files, the interfaces and endpoints of all files in one table each.
/// `info.parts` says which frames came from which file; `info.damage` is the
/// first damaged file's damage (the files after it are still read).
pub fn concat(path: PathBuf, mut files: Vec<DecodedCapture>) -> DecodedCapture {
    files.sort_by(|a, b| {
        let first = |c: &DecodedCapture| c.records.first().map(|r| r.ts);
        first(a).cmp(&first(b)).then_with(|| a.path.cmp(&b.path))
    });
    let total: usize = files.iter().map(|f| f.records.len()).sum();
    let mut records = Vec::with_capacity(total);
    let mut endpoints = Endpoints::default();
    let mut info = CaptureInfo::default();
    let mut section = 0u32;
    for file in files {
        // Frames, not records: a super-packet's frame holds several records.
        let before = info.frames;
        let iface_base = u8::try_from(info.interfaces.len()).unwrap_or(u8::MAX);
        let ids: Vec<EndpointId> = file.endpoints.iter().map(|e| endpoints.intern(e)).collect();
        let global = |id: EndpointId| ids.get(id.0 as usize).copied().unwrap_or(id);
        records.extend(file.records.into_iter().map(|mut r| {
            r.frame = FrameNo(r.frame.0.saturating_add(before as u32));
            r.src = global(r.src);
            r.dst = global(r.dst);
            r.iface = r.iface.saturating_add(iface_base);
            r
        }));
        let f = file.info;
        let span = f
            .interfaces
            .iter()
            .map(|i| i.section + 1)
            .max()
            .unwrap_or(1);
        info.interfaces
            .extend(f.interfaces.into_iter().map(|mut i| {
                i.section += section;
                i
            }));
        section += span;
        info.format = info.format.or(f.format);
        info.gzip |= f.gzip;
        info.sections += f.sections;
        info.frames += f.frames;
        info.bytes += f.bytes;
        info.parts.push(CapturePart {
            path: file.path,
            before,
            frames: f.frames,
            damaged: f.damage.is_some(),
        });
        if info.damage.is_none() {
            info.damage = f.damage;
        }
    }
    DecodedCapture {
        path,
        info,
        records,
        endpoints,
    }
}

/// Reads and decodes a whole capture, on all the rayon pool's threads.
pub fn decode_capture(input: Input) -> Result<DecodedCapture, CaptureError> {
    decode_capture_with(input, &|_| {}, rayon::current_num_threads())
}

/// [`decode_capture`], calling `progress` with the bytes consumed after each
/// batch, on at most `cores` of the rayon pool's threads.
///
/// A large mapped classic pcap file is read in pieces on those cores; other
/// captures, and any capture with `cores` = 1, are read front to back. Pass
/// the pool size divided by the number of captures decoded at the same
/// time: one file per core is faster than pieces (reading is bound by memory
/// latency and pieces cost an extra counting pass).
pub fn decode_capture_with(
    input: Input,
    progress: &(dyn Fn(u64) + Sync),
    cores: usize,
) -> Result<DecodedCapture, CaptureError> {
    if cores > 1 {
        if let Some(d) = decode_in_pieces(&input, cores * PIECES_PER_THREAD, MIN_PIECE, progress) {
            return Ok(d);
        }
    }
    decode_whole(input, progress)
}

/// A large classic pcap file is read in this many pieces per thread, so that
/// the pieces of two captures balance over the cores.
const PIECES_PER_THREAD: usize = 4;
/// Pieces are no smaller than this (finding a boundary costs a short scan).
const MIN_PIECE: usize = 16 << 20;

/// Endpoints interned as frames are decoded, with the last two pairs looked up.
struct Interner {
    endpoints: Endpoints,
    last: crate::last_two::LastTwo<(Endpoint, Endpoint), (EndpointId, EndpointId)>,
    scanner: wireguard::Scanner,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            endpoints: Endpoints::default(),
            last: Default::default(),
            scanner: wireguard::Scanner::deferring(),
        }
    }
}

/// The further records of a batch's super-packets: (frame's index, records).
type Extras = Vec<(usize, Vec<PacketRecord>)>;

impl Interner {
    /// Decodes a batch of frames: `put(k, record)` for each frame `k`, in
    /// order (and once more for a frame decoded again), and the further
    /// records of its super-packets into `extras` as `(k, records)`, by `k`.
    ///
    /// Transport payloads are first taken for one message each, then those
    /// the batch does not confirm are decoded again with the search for
    /// further messages (see [`wireguard::Scanner::deferring`]).
    fn decode_batch(
        &mut self,
        frames: &[Frame<'_>],
        mut put: impl FnMut(usize, PacketRecord),
        extras: &mut Extras,
    ) {
        let from = extras.len();
        for (k, f) in frames.iter().enumerate() {
            self.scanner.at(k as u32, f.data);
            let (r, extra) = self.decode(f);
            put(k, r);
            if !extra.is_empty() {
                extras.push((k, extra));
            }
        }
        let again = self.scanner.finish();
        if again.is_empty() {
            return;
        }
        self.scanner.set_defer(false);
        let mut more = false;
        for d in again {
            let k = d.index as usize;
            if let Some(f) = frames.get(k).filter(|f| d.may_hold_more(f.data)) {
                let (r, extra) = self.decode(f);
                put(k, r);
                if !extra.is_empty() {
                    extras.push((k, extra));
                    more = true;
                }
            }
        }
        self.scanner.set_defer(true);
        if more {
            if let Some(batch) = extras.get_mut(from..) {
                batch.sort_by_key(|(k, _)| *k);
            }
        }
    }

    /// Decodes a frame and interns its endpoints: its record, and the
    /// records of the other messages of a super-packet (usually none).
    fn decode(&mut self, frame: &Frame<'_>) -> (PacketRecord, Vec<PacketRecord>) {
        let d = decode_frame_with(frame, &mut self.scanner);
        let mut r = d.record;
        let mut extra = d.extra;
        if let Some(pair) = d.endpoints {
            // Packets come in runs of one flow: most need no table lookup.
            let endpoints = &mut self.endpoints;
            let ids = self.last.get_or(pair, || {
                (endpoints.intern(pair.0), endpoints.intern(pair.1))
            });
            (r.src, r.dst) = ids;
            for x in &mut extra {
                (x.src, x.dst) = ids;
            }
        }
        (r, extra)
    }
}

/// Reads and decodes the capture front to back on the calling thread.
fn decode_whole(
    input: Input,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DecodedCapture, CaptureError> {
    let path = input.path.clone();
    let mut interner = Interner::default();
    let mut records: Vec<PacketRecord> = Vec::new();
    let mut extras = Extras::new();
    let info = read_frames_at(input, |frames, consumed| {
        // Grow by a quarter rather than doubling: records are most of what
        // wgtrace allocates, and doubling would leave up to half unused.
        if records.capacity() - records.len() < frames.len() {
            records.reserve_exact(frames.len().max(records.len() / 4));
        }
        let start = records.len();
        interner.decode_batch(
            frames,
            |k, r| match records.get_mut(start + k) {
                Some(slot) => *slot = r,
                None => records.push(r),
            },
            &mut extras,
        );
        if !extras.is_empty() {
            // Each super-packet's further records go right after its own.
            let batch = records.split_off(start);
            let mut more = extras.drain(..).peekable();
            for (k, r) in batch.into_iter().enumerate() {
                records.push(r);
                while let Some((_, v)) = more.next_if(|(at, _)| *at == k) {
                    records.extend(v);
                }
            }
        }
        progress(consumed);
    })?;
    records.shrink_to_fit();
    Ok(DecodedCapture {
        path,
        info,
        records,
        endpoints: interner.endpoints,
    })
}

/// Decodes a large mapped classic pcap file in `pieces` pieces of at least
/// `min_piece` bytes, in parallel; `None` when the input is not one, or when
/// a piece did not end exactly where the next began (damage, or a boundary
/// guessed wrong): the caller then reads it whole, which also places the
/// damage exactly.
///
/// A first parallel pass counts each piece's records (and checks the pieces
/// meet), so the second decodes every piece straight into its place in one
/// exactly sized vector: no concatenation, no growth slack. The result is
/// the one [`decode_whole`] gives: frame numbers continue from piece to
/// piece, and endpoints are interned piece by piece in order, which is their
/// order of first appearance in the file.
fn decode_in_pieces(
    input: &Input,
    pieces: usize,
    min_piece: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Option<DecodedCapture> {
    let data: &[u8] = match &input.source {
        Source::Mapped(m) => m,
        Source::Bytes(b) => b,
        Source::Stream(_) => return None,
    };
    let pieces = pieces.min(data.len() / min_piece.max(1));
    if pieces < 2 {
        return None;
    }
    let mut header = Parser::new();
    let (_, frame) = header.next(data).ok()?;
    if !header.is_pcap() || frame.is_some() {
        return None;
    }
    let cuts = header.pcap_cuts(data, pieces);
    if cuts.len() < 2 {
        return None;
    }
    // 1. Count.
    let counted: Vec<PieceEnd> = cuts
        .par_iter()
        .map(|range| read_piece(&header, data, range.clone(), |_, _| {}))
        .collect();
    if counted.iter().any(|end| !end.clean) {
        return None;
    }
    let counts: Vec<usize> = counted.iter().map(|e| e.info.frames as usize).collect();
    let total: usize = counts.iter().sum();
    // 2. Decode each piece into its slots.
    let placeholder = blank_record();
    let mut records: Vec<PacketRecord> = Vec::new();
    (0..total)
        .into_par_iter()
        .map(|_| placeholder.clone())
        .collect_into_vec(&mut records);
    let consumed = AtomicU64::new(header.offset());
    let mut base = 0u32;
    let bases: Vec<u32> = counts
        .iter()
        .map(|&n| {
            let b = base;
            base = base.saturating_add(n as u32);
            b
        })
        .collect();
    // Per piece: its interner, and the further records of its super-packets
    // (by the slot of their frame), merged in at the end.
    type Piece = (Interner, Extras);
    let decoded: Vec<Option<Piece>> = split_by(&mut records, &counts)
        .into_par_iter()
        .zip(cuts)
        .zip(bases)
        .map(|((slots, range), base)| {
            let mut interner = Interner::default();
            let mut extras = Vec::new();
            let mut k = 0;
            let mut done = 0;
            let end = read_piece(&header, data, range, |frames, at| {
                let from = extras.len();
                let at_k = k;
                let renumber = |mut r: PacketRecord| {
                    r.frame = FrameNo(r.frame.0.saturating_add(base));
                    r
                };
                interner.decode_batch(
                    frames,
                    |i, r| {
                        if let Some(slot) = slots.get_mut(at_k + i) {
                            *slot = renumber(r);
                        }
                    },
                    &mut extras,
                );
                for (i, extra) in extras.get_mut(from..).unwrap_or_default() {
                    *i += at_k;
                    for x in extra {
                        x.frame = FrameNo(x.frame.0.saturating_add(base));
                    }
                }
                k += frames.len();
                let now = consumed.fetch_add(at - done, Ordering::Relaxed) + (at - done);
                done = at;
                progress(now);
            });
            (end.clean && k == slots.len()).then_some((interner, extras))
        })
        .collect();
    let decoded: Vec<Piece> = decoded.into_iter().collect::<Option<_>>()?;
    let (decoded, mut extras): (Vec<Interner>, Vec<Extras>) = decoded.into_iter().unzip();
    // 3. One endpoint table: each piece's new endpoints in order of its ids.
    let mut endpoints = Endpoints::default();
    let maps: Vec<Vec<EndpointId>> = decoded
        .iter()
        .map(|i| i.endpoints.iter().map(|e| endpoints.intern(e)).collect())
        .collect();
    split_by(&mut records, &counts)
        .into_par_iter()
        .zip(maps)
        .zip(&mut extras)
        .for_each(|((slots, ids), extras)| {
            let identity = ids.iter().enumerate().all(|(i, id)| id.0 as usize == i);
            if identity {
                return;
            }
            let global = |id: EndpointId| ids.get(id.0 as usize).copied().unwrap_or(id);
            let more = extras.iter_mut().flat_map(|(_, v)| v.iter_mut());
            for r in slots.iter_mut().chain(more) {
                r.src = global(r.src);
                r.dst = global(r.dst);
            }
        });
    if extras.iter().any(|e| !e.is_empty()) {
        records = merge_extras(records, &counts, extras);
    }
    let mut info = header.into_info();
    info.frames = total as u64;
    for end in &counted {
        for (i, p) in info.interfaces.iter_mut().zip(&end.info.interfaces) {
            i.packets += p.packets;
        }
    }
    info.bytes = data.len() as u64;
    Some(DecodedCapture {
        path: input.path.clone(),
        info,
        records,
        endpoints,
    })
}

/// `records` (pieces of `counts` records each) with each piece's further
/// super-packet records inserted after the record of their frame.
fn merge_extras(
    records: Vec<PacketRecord>,
    counts: &[usize],
    extras: Vec<Vec<(usize, Vec<PacketRecord>)>>,
) -> Vec<PacketRecord> {
    let more: usize = extras.iter().flatten().map(|(_, v)| v.len()).sum();
    let mut out = Vec::with_capacity(records.len() + more);
    let mut at = Vec::with_capacity(extras.len());
    let mut base = 0;
    for (n, e) in counts.iter().zip(extras) {
        at.extend(e.into_iter().map(|(k, v)| (base + k, v)));
        base += n;
    }
    let mut next = at.into_iter().peekable();
    for (i, r) in records.into_iter().enumerate() {
        out.push(r);
        while let Some((_, v)) = next.next_if(|(k, _)| *k == i) {
            out.extend(v);
        }
    }
    out
}

/// `v` cut into consecutive slices of the given lengths.
fn split_by<'a, T>(mut v: &'a mut [T], lens: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(lens.len());
    for &n in lens {
        let (head, tail) = v.split_at_mut(n.min(v.len()));
        out.push(head);
        v = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(rel)
    }

    fn pcaps(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("testdata readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                pcaps(&p, out);
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p);
            }
        }
    }

    /// Reading in pieces gives what reading front to back gives: records,
    /// frame numbers, endpoint ids and counts, for every recorded capture
    /// and with pieces cut as small as a few records.
    #[test]
    fn pieces_decode_like_the_whole_file() {
        let mut files = Vec::new();
        pcaps(&testdata(""), &mut files);
        let mut split = 0;
        for path in files {
            let Ok(input) = Input::open(&path) else {
                continue; // the empty file of testdata/broken
            };
            let whole = decode_whole(input, &|_| {});
            for pieces in [2, 3, 7, 50] {
                let input = Input::open(&path).expect("opened before");
                let Some(p) = decode_in_pieces(&input, pieces, 512, &|_| {}) else {
                    // Not classic pcap, too small, or damaged: read whole.
                    continue;
                };
                split += 1;
                let w = whole.as_ref().expect("a file read in pieces reads whole");
                assert_eq!(p.records, w.records, "{} in {pieces}", path.display());
                assert_eq!(
                    p.endpoints.iter().collect::<Vec<_>>(),
                    w.endpoints.iter().collect::<Vec<_>>()
                );
                assert_eq!(p.info.frames, w.info.frames);
                assert_eq!(p.info.bytes, w.info.bytes);
                assert_eq!(
                    p.info
                        .interfaces
                        .iter()
                        .map(|i| i.packets)
                        .collect::<Vec<_>>(),
                    w.info
                        .interfaces
                        .iter()
                        .map(|i| i.packets)
                        .collect::<Vec<_>>()
                );
                assert!(p.info.damage.is_none());
            }
        }
        assert!(split >= 20, "only {split} splits exercised");
    }

    /// A cut that lands in a packet whose bytes look like pcap records is a
    /// wrong boundary; the check that pieces meet exactly catches it.
    #[test]
    fn a_fake_boundary_inside_a_packet_falls_back() {
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend([0; 8]);
        file.extend(262_144u32.to_le_bytes());
        file.extend(1u32.to_le_bytes());
        let record = |file: &mut Vec<u8>, payload: &[u8]| {
            file.extend(1_700_000_000u32.to_le_bytes());
            file.extend(0u32.to_le_bytes());
            file.extend((payload.len() as u32).to_le_bytes());
            file.extend((payload.len() as u32).to_le_bytes());
            file.extend(payload);
        };
        // One large packet whose payload is a chain of small fake records.
        let mut fake = Vec::new();
        while fake.len() < 60_000 {
            record(&mut fake, &[0xab; 10]);
        }
        record(&mut file, &fake);
        record(&mut file, &[0xcd; 60]);
        let input = Input::from_bytes("fake.pcap", file).expect("input");
        assert!(decode_in_pieces(&input, 2, 64, &|_| {}).is_none());
        let whole = decode_whole(input, &|_| {}).expect("decodes");
        assert_eq!(whole.records.len(), 2);
    }

    fn same(p: &DecodedCapture, w: &DecodedCapture) -> bool {
        p.records == w.records
            && p.endpoints.iter().eq(w.endpoints.iter())
            && p.info.frames == w.info.frames
            && w.info.damage.is_none()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Whatever a damaged byte does, reading in pieces either declines or
        /// gives exactly what reading front to back gives.
        #[test]
        fn pieces_agree_with_whole_on_damaged_input(at in 0usize..1_000_000, byte: u8, pieces in 2usize..9) {
            let mut bytes = std::fs::read(testdata("random-loss/vps.pcap")).expect("testdata");
            let at = at % bytes.len();
            bytes[at] = byte;
            let input = Input::from_bytes("damaged.pcap", bytes.clone()).expect("input");
            let split = decode_in_pieces(&input, pieces, 256, &|_| {});
            let whole = decode_whole(Input::from_bytes("damaged.pcap", bytes).expect("input"), &|_| {});
            if let Some(p) = split {
                let w = whole.expect("read in pieces, so readable whole");
                proptest::prop_assert!(same(&p, &w), "byte {at} set to {byte}");
            }
        }
    }

    /// Damage anywhere makes a piece end unclean: the file is then read whole,
    /// which reports the damage at its exact offset.
    #[test]
    fn damaged_files_are_not_read_in_pieces() {
        for name in [
            "cut-mid-record.pcap",
            "caplen-over-file.pcap",
            "caplen-over-snaplen.pcap",
        ] {
            let input = Input::open(&testdata("broken").join(name)).expect("open");
            assert!(
                decode_in_pieces(&input, 4, 64, &|_| {}).is_none(),
                "{name} read in pieces"
            );
        }
    }

    fn wg_frame(payload: &[u8]) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(51820, 40000);
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("a Vec takes any packet");
        out
    }

    /// A classic pcap file (Ethernet) of `frames`, one a second from `t0`.
    fn pcap(t0: u32, frames: &[Vec<u8>]) -> Vec<u8> {
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend([0; 8]);
        file.extend(262_144u32.to_le_bytes());
        file.extend(1u32.to_le_bytes());
        for (i, frame) in frames.iter().enumerate() {
            file.extend((t0 + i as u32).to_le_bytes());
            file.extend(0u32.to_le_bytes());
            file.extend((frame.len() as u32).to_le_bytes());
            file.extend((frame.len() as u32).to_le_bytes());
            file.extend(frame);
        }
        file
    }

    fn transport(counter: u64, len: usize) -> Vec<u8> {
        let mut m: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8 | 0x80).collect();
        m[..4].copy_from_slice(&[4, 0, 0, 0]);
        m[4..8].copy_from_slice(&0x0102_0304u32.to_le_bytes());
        m[8..16].copy_from_slice(&counter.to_le_bytes());
        m
    }

    fn decode_bytes(data: &[u8]) -> Decoded {
        decode_frame(&Frame {
            no: FrameNo(42),
            ts: crate::capture::Timestamp(7),
            wire_len: data.len() as u32,
            link: crate::capture::LinkType::EN10MB,
            iface: 0,
            data,
        })
    }

    /// A super-packet becomes one record per message, each sized as if sent alone.
    #[test]
    fn a_superpacket_frame_gives_a_record_per_message() {
        let payload = [transport(5, 1452), transport(6, 1452), transport(7, 96)].concat();
        let d = decode_bytes(&wg_frame(&payload));
        let all: Vec<&PacketRecord> = std::iter::once(&d.record).chain(&d.extra).collect();
        assert_eq!(all.len(), 3);
        for (r, (counter, udp)) in all.iter().zip([(5, 1452), (6, 1452), (7, 96)]) {
            assert_eq!(r.frame, FrameNo(42));
            assert_eq!(
                r.kind,
                PacketKind::WgTransport {
                    receiver: PeerIndex(0x0102_0304),
                    counter: Counter(counter)
                }
            );
            assert_eq!(r.udp_len, udp);
            assert_eq!(r.ip_len, 20 + 8 + u32::from(udp));
            assert_eq!(u32::from(r.frag_len), r.ip_len);
            assert!(r.flags.has(Flags::SPLIT) && !r.flags.has(Flags::SUPERPACKET));
        }
        // Not splittable: one record of the whole datagram, flagged.
        let payload = [transport(5, 160), transport(5, 160)].concat();
        let d = decode_bytes(&wg_frame(&payload));
        assert!(d.extra.is_empty());
        assert!(d.record.flags.has(Flags::SUPERPACKET));
        assert_eq!(d.record.udp_len, 320);
        // One message: as before.
        let d = decode_bytes(&wg_frame(&transport(5, 1452)));
        assert!(d.extra.is_empty());
        assert_eq!(d.record.flags.0 & (Flags::SPLIT | Flags::SUPERPACKET), 0);
    }

    /// Length fields that give one segment's size, with the frame holding all of them.
    #[test]
    fn a_superpacket_with_per_segment_lengths_is_split() {
        let first = wg_frame(&transport(5, 200));
        let mut frame = first.clone();
        frame.extend(transport(6, 200));
        frame.extend(transport(7, 64));
        let d = decode_bytes(&frame);
        assert_eq!(d.extra.len(), 2);
        assert_eq!(d.extra[1].udp_len, 64);
        assert_eq!(d.extra[1].ip_len, 92);
        // A trailer that is no WireGuard message changes nothing.
        let mut trailer = first;
        trailer.extend([0u8; 4]);
        let d = decode_bytes(&trailer);
        assert!(d.extra.is_empty());
        assert_eq!(d.record.udp_len, 200);
    }

    /// Super-packets read in pieces: their records land after their frame's, as read whole.
    #[test]
    fn pieces_merge_superpacket_records_in_place() {
        let mut counter = 0;
        let mut frames = Vec::new();
        for i in 0..300u32 {
            let n = [1, 3, 1, 1, 5][i as usize % 5];
            let payload: Vec<u8> = (0..n)
                .flat_map(|_| {
                    counter += 1;
                    transport(counter, 96)
                })
                .collect();
            frames.push(wg_frame(&payload));
        }
        let file = pcap(1_700_000_000, &frames);
        let whole = decode_whole(
            Input::from_bytes("gso.pcap", file.clone()).expect("input"),
            &|_| {},
        )
        .expect("decodes");
        assert_eq!(whole.records.len() as u64, counter);
        assert_eq!(whole.info.frames, 300);
        for pieces in [2, 3, 7] {
            let input = Input::from_bytes("gso.pcap", file.clone()).expect("input");
            let p = decode_in_pieces(&input, pieces, 1024, &|_| {}).expect("pieces");
            assert!(same(&p, &whole), "{pieces} pieces");
        }
    }

    /// Deferring the search for further messages (decode_batch) gives what
    /// searching every payload gives: many sessions (more than the scanner
    /// tracks), gaps, super-packets anywhere in a batch, one at its end.
    #[test]
    fn deferred_search_decodes_like_searching_every_payload() {
        let mut frames = Vec::new();
        let mut counters = [0u64; 11];
        let mut x = 12_345u32;
        for _ in 0..1000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Mostly two sessions, sometimes one of nine others.
            let s = if x % 8 < 6 {
                (x >> 8) as usize % 2
            } else {
                2 + (x >> 8) as usize % 9
            };
            let n = [1, 1, 1, 1, 2, 1, 3, 1][(x >> 16) as usize % 8];
            counters[s] += u64::from((x >> 20).is_multiple_of(13)); // a gap
            let payload: Vec<u8> = (0..n)
                .flat_map(|_| {
                    counters[s] += 1;
                    let mut m = transport(counters[s], 160);
                    m[4..8].copy_from_slice(&(0x1000 + s as u32).to_le_bytes());
                    m
                })
                .collect();
            frames.push(wg_frame(&payload));
        }
        let file = pcap(1_700_000_000, &frames);
        let whole = decode_whole(
            Input::from_bytes("gso.pcap", file.clone()).expect("input"),
            &|_| {},
        )
        .expect("decodes");
        let searched: Vec<PacketRecord> = frames
            .iter()
            .enumerate()
            .flat_map(|(i, data)| {
                let d = decode_frame(&Frame {
                    no: FrameNo(i as u32 + 1),
                    ts: crate::capture::Timestamp((1_700_000_000 + i as i64) * 1_000_000_000),
                    wire_len: data.len() as u32,
                    link: crate::capture::LinkType::EN10MB,
                    iface: 0,
                    data,
                });
                std::iter::once(d.record).chain(d.extra)
            })
            .collect();
        assert!(searched.len() > 1200, "super-packets were made");
        assert_eq!(whole.records.len(), searched.len());
        for (w, s) in whole.records.iter().zip(&searched) {
            assert_eq!(
                (w.frame, &w.kind, w.udp_len, w.flags),
                (s.frame, &s.kind, s.udp_len, s.flags)
            );
        }
        for pieces in [2, 5] {
            let input = Input::from_bytes("gso.pcap", file.clone()).expect("input");
            let p = decode_in_pieces(&input, pieces, 4096, &|_| {}).expect("pieces");
            assert!(same(&p, &whole), "{pieces} pieces");
        }
    }

    /// Frame numbers of a directory end continue from the frames of the
    /// files before, also when a file's super-packets gave more records than frames.
    #[test]
    fn concatenated_frame_numbers_count_frames_not_records() {
        let file = |t0: u32, payloads: &[Vec<u8>]| {
            pcap(
                t0,
                &payloads.iter().map(|p| wg_frame(p)).collect::<Vec<_>>(),
            )
        };
        let gso = [transport(1, 96), transport(2, 96), transport(3, 96)].concat();
        let first = file(1_700_000_000, &[gso, transport(4, 96)]);
        let second = file(1_700_000_100, &[transport(5, 96), transport(6, 96)]);
        let decode = |name: &str, bytes: Vec<u8>| {
            decode_whole(Input::from_bytes(name, bytes).expect("input"), &|_| {}).expect("decodes")
        };
        let a = decode("a.pcap", first);
        assert_eq!((a.records.len(), a.info.frames), (4, 2));
        let c = concat("end".into(), vec![decode("b.pcap", second), a]);
        let frames: Vec<u32> = c.records.iter().map(|r| r.frame.0).collect();
        assert_eq!(frames, [1, 1, 1, 2, 3, 4]);
        assert_eq!(c.info.parts[1].before, 2);
    }

    /// A file header inside a piece (concatenated files mapped as one) makes
    /// the pieces fall back to a whole read, which reads both files.
    #[test]
    fn concatenated_files_are_not_read_in_pieces() {
        let one = std::fs::read(testdata("random-loss/vps.pcap")).expect("testdata");
        let mut two = one.clone();
        two.extend(&one);
        let input = Input::from_bytes("two.pcap", two.clone()).expect("input");
        assert!(decode_in_pieces(&input, 4, 256, &|_| {}).is_none());
        let whole = decode_whole(input, &|_| {}).expect("decodes");
        let single = decode_whole(Input::from_bytes("one.pcap", one).expect("input"), &|_| {})
            .expect("decodes");
        assert_eq!(whole.records.len(), 2 * single.records.len());
        assert!(whole.info.damage.is_none());
    }

    #[test]
    fn records_stay_compact() {
        // Issue budget: under 64 bytes allocated per packet, the record included.
        assert!(std::mem::size_of::<PacketRecord>() <= 48);
        assert!(std::mem::size_of::<PacketKind>() <= 16);
    }
}

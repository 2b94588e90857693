//! WireGuard messages recognised by content (type byte, reserved bytes, exact sizes), on any port.
//!
//! The view [`Packet`] borrows the UDP payload; after [`Packet::new_checked`]
//! no accessor panics. The payload may be shorter than the message (snap
//! length, first fragment): the message size always comes from the UDP
//! length field, and accessors only need the header bytes they read.

use serde::Serialize;
use std::fmt;

/// A WireGuard session index (sender or receiver), as the peers chose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PeerIndex(pub u32);

impl fmt::Display for PeerIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

/// The 64-bit nonce counter of a transport message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Counter(pub u64);

/// WireGuard message type codes.
pub mod msg_type {
    /// Handshake initiation.
    pub const INITIATION: u8 = 1;
    /// Handshake response.
    pub const RESPONSE: u8 = 2;
    /// Cookie reply.
    pub const COOKIE_REPLY: u8 = 3;
    /// Transport data.
    pub const TRANSPORT: u8 = 4;
}

/// Exact UDP payload sizes of the fixed-size messages, and the transport minimum.
pub mod size {
    /// Handshake initiation.
    pub const INITIATION: usize = 148;
    /// Handshake response.
    pub const RESPONSE: usize = 92;
    /// Cookie reply.
    pub const COOKIE_REPLY: usize = 64;
    /// Transport header (16) plus authentication tag (16): a keepalive.
    pub const KEEPALIVE: usize = 32;
}

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const RESERVED: Range<usize> = 1..4;
    /// Sender index of initiation and response; receiver index of cookie and transport.
    pub const INDEX_1: Range<usize> = 4..8;
    /// Receiver index of a response.
    pub const INDEX_2: Range<usize> = 8..12;
    pub const COUNTER: Range<usize> = 8..16;
    /// First bytes of the ephemeral public key (random, so they identify the handshake).
    pub const INIT_EPHEMERAL: Range<usize> = 8..12;
    pub const RESP_EPHEMERAL: Range<usize> = 12..16;
}

/// A WireGuard message, reduced to what identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// Type 1: the initiator's sender index and the first bytes of its ephemeral key.
    Initiation {
        /// Index the initiator chose.
        sender: PeerIndex,
        /// First 4 bytes of the ephemeral public key.
        ephemeral: u32,
    },
    /// Type 2.
    Response {
        /// Index the responder chose.
        sender: PeerIndex,
        /// The initiator's index, echoed.
        receiver: PeerIndex,
        /// First 4 bytes of the responder's ephemeral public key.
        ephemeral: u32,
    },
    /// Type 3.
    CookieReply {
        /// Index of the peer the cookie is for.
        receiver: PeerIndex,
    },
    /// Type 4 (a keepalive when the payload is exactly 32 bytes).
    Transport {
        /// Index of the receiving peer's session.
        receiver: PeerIndex,
        /// Nonce counter, unique per packet within the session.
        counter: Counter,
    },
}

/// A checked view of a UDP payload that holds a WireGuard message.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    msg_type: u8,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that `buffer` (the captured part of a UDP payload of `payload_len`
    /// bytes) is a WireGuard message and that the identifying header bytes are present.
    ///
    /// Returns `None` for anything else: wrong type, impossible size, non-zero
    /// reserved bytes on data messages. Reserved bytes of handshake messages
    /// are not checked, because Cloudflare WARP uses them.
    pub fn new_checked(buffer: T, payload_len: usize) -> Option<Packet<T>> {
        let b = buffer.as_ref();
        let msg_type = *b.get(field::TYPE)?;
        let reserved_zero = b.get(field::RESERVED)? == [0, 0, 0];
        let needed = match msg_type {
            msg_type::INITIATION if payload_len == size::INITIATION => field::INIT_EPHEMERAL.end,
            msg_type::RESPONSE if payload_len == size::RESPONSE => field::RESP_EPHEMERAL.end,
            msg_type::COOKIE_REPLY if payload_len == size::COOKIE_REPLY && reserved_zero => {
                field::INDEX_1.end
            }
            msg_type::TRANSPORT if payload_len >= size::KEEPALIVE && reserved_zero => {
                field::COUNTER.end
            }
            _ => return None,
        };
        if b.len() < needed {
            return None;
        }
        Some(Packet { buffer, msg_type })
    }

    fn u32_at(&self, r: std::ops::Range<usize>) -> u32 {
        let b = self.buffer.as_ref();
        // new_checked guaranteed the range; the fallback is unreachable.
        b.get(r)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// The message type byte (1 to 4).
    pub fn msg_type(&self) -> u8 {
        self.msg_type
    }

    /// The identifying fields of the message.
    pub fn message(&self) -> Message {
        match self.msg_type {
            msg_type::INITIATION => Message::Initiation {
                sender: PeerIndex(self.u32_at(field::INDEX_1)),
                ephemeral: self.u32_at(field::INIT_EPHEMERAL),
            },
            msg_type::RESPONSE => Message::Response {
                sender: PeerIndex(self.u32_at(field::INDEX_1)),
                receiver: PeerIndex(self.u32_at(field::INDEX_2)),
                ephemeral: self.u32_at(field::RESP_EPHEMERAL),
            },
            msg_type::COOKIE_REPLY => Message::CookieReply {
                receiver: PeerIndex(self.u32_at(field::INDEX_1)),
            },
            _ => {
                let b = self.buffer.as_ref();
                let counter = b
                    .get(field::COUNTER)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map_or(0, u64::from_le_bytes);
                Message::Transport {
                    receiver: PeerIndex(self.u32_at(field::INDEX_1)),
                    counter: Counter(counter),
                }
            }
        }
    }
}

/// Recognises a WireGuard message in a UDP payload (see [`Packet::new_checked`]).
pub fn parse(captured: &[u8], payload_len: usize) -> Option<Message> {
    Packet::new_checked(captured, payload_len).map(|p| p.message())
}

/// How a UDP payload holds WireGuard messages: one, or several back to back
/// (a UDP GSO super-packet before the kernel cut it, or a GRO one after the
/// receiving kernel merged it; capturing with offloads on records those).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// One message, or nothing that shows more than one.
    Single,
    /// `count` transport messages (at least 2) of one session, `size` bytes
    /// each, the last one `last` bytes (`32 <= last <= size`), with
    /// increasing counters.
    Split {
        /// Bytes of every message but the last (the GSO segment size).
        size: usize,
        /// Messages.
        count: usize,
        /// Bytes of the last message.
        last: usize,
    },
    /// Visibly several messages that cannot be cut apart: a handshake among
    /// them, sizes or counters that do not line up, or bytes not captured.
    Unsplittable,
}

/// Receiver index and counter of a transport header at `o`, if one is there.
fn transport_at(b: &[u8], o: usize) -> Option<(u32, u64)> {
    let h = b.get(o..o.checked_add(16)?)?;
    if h[0] != msg_type::TRANSPORT || h[1..4] != [0, 0, 0] {
        return None;
    }
    let receiver = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let counter = u64::from_le_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]);
    Some((receiver, counter))
}

/// Whether a WireGuard message header (a known type, zero reserved bytes) starts at `o`.
fn header_at(b: &[u8], o: usize) -> bool {
    match b.get(o..o.saturating_add(4)) {
        Some([ty, 0, 0, 0]) => (msg_type::INITIATION..=msg_type::TRANSPORT).contains(ty),
        _ => false,
    }
}

/// Finds how a UDP payload of `payload_len` bytes, of which `captured` were
/// recorded, holds WireGuard messages. Never panics.
///
/// A super-packet is recognised by a second transport header of the same
/// session (type 4, zero reserved bytes, the same receiver index) at some
/// offset `S >= 32`: `S` is the segment size. It is split when a header of
/// that session with a higher counter sits at every multiple of `S`, the
/// last message is at least 32 bytes, and no other WireGuard header sits at
/// a smaller segment size that divides `S` (a handshake among same-size
/// messages). Counters need only increase: after GRO on the receiving side a
/// message lost upstream leaves a gap. Segment sizes are not required to be
/// multiples of 16: WireGuard pads to 16 but never beyond the tunnel MTU, so
/// full-size messages (1452 bytes with MTU 1420) are not. A payload that
/// starts with a handshake message followed by another message is
/// [`Batch::Unsplittable`].
pub fn batch(captured: &[u8], payload_len: usize) -> Batch {
    batch_with(captured, payload_len, &mut Scanner::default())
}

/// The searches for sessions' next headers, kept from packet to packet:
/// packets come from a few sessions (both directions of a tunnel
/// interleave), and building a searcher costs as much as a search.
#[derive(Default)]
pub struct Scanner {
    /// Receiver indexes and their searchers.
    sessions: Vec<(u32, memchr::memmem::Finder<'static>)>,
    /// The entry to replace next when full.
    next: usize,
    /// Take transport payloads for one message until the session's next
    /// payload tells (see [`Scanner::deferring`]).
    defer: bool,
    /// Index the caller gave the frame being decoded, and where its bytes start.
    at: (u32, usize),
    /// Per session: its last payload taken for one message, not yet
    /// confirmed by the next.
    pending: [Pending; SCANNER_SESSIONS],
    /// How many of `pending` are in use.
    pending_len: usize,
    /// Payloads that may hold more than one message after all.
    redo: Vec<Deferred>,
}

/// Sessions a [`Scanner`] keeps searchers for.
const SCANNER_SESSIONS: usize = 8;

/// A transport payload a deferring [`Scanner`] took for one message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deferred {
    /// The index the caller gave its frame ([`Scanner::at`]).
    pub index: u32,
    /// Where the payload starts in its frame's bytes.
    pub offset: u32,
    /// Its length.
    pub len: u32,
}

impl Deferred {
    /// Whether the payload in `frame` may hold a further message: if not,
    /// it is one message; if so, the frame must be decoded again by a
    /// scanner that searches.
    pub fn may_hold_more(&self, frame: &[u8]) -> bool {
        let from = self.offset as usize;
        frame
            .get(from..from.saturating_add(self.len as usize))
            .is_some_and(maybe_batch)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    receiver: u32,
    counter: u64,
    payload: Deferred,
}

impl Scanner {
    /// A scanner that lets its caller skip the costly search for a further
    /// message in a transport payload ([`Scanner::defer`]) until the next
    /// payload of its session tells.
    ///
    /// Nearly every payload holds one message, and the search costs more
    /// than the rest of its decoding. A payload holding messages `c`,
    /// `c + 1`, ... of a session is never followed by one of that session
    /// starting at `c + 1`, since counters are never reused; every other
    /// case (a gap, reordering, the last payload before [`Scanner::finish`],
    /// a real super-packet) goes back to the caller, who searches it. That
    /// misses only a super-packet whose messages skip counters (GRO across
    /// a loss) directly followed by the skipped message.
    pub fn deferring() -> Self {
        Scanner {
            defer: true,
            ..Scanner::default()
        }
    }

    /// Whether the caller may skip searches ([`Scanner::deferring`]).
    pub fn defers(&self) -> bool {
        self.defer
    }

    /// Makes this scanner defer or not.
    pub fn set_defer(&mut self, defer: bool) {
        self.defer = defer;
    }

    /// Tells a deferring scanner the index of the frame decoded next and its bytes.
    pub fn at(&mut self, index: u32, frame: &[u8]) {
        self.at = (index, frame.as_ptr() as usize);
    }

    /// Takes `payload`, a whole transport payload of `receiver` starting at
    /// `counter` in the current frame, for one message: it confirms the
    /// session's pending payload or sends that one back.
    pub fn defer(&mut self, receiver: u32, counter: u64, payload: &[u8]) {
        let offset = (payload.as_ptr() as usize).saturating_sub(self.at.1);
        let now = Pending {
            receiver,
            counter,
            payload: Deferred {
                index: self.at.0,
                offset: u32::try_from(offset).unwrap_or(u32::MAX),
                len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            },
        };
        let n = self.pending_len;
        let live = self.pending.get_mut(..n).unwrap_or_default();
        match live.iter_mut().find(|p| p.receiver == receiver) {
            Some(p) => {
                if p.counter.checked_add(1) != Some(counter) {
                    self.redo.push(p.payload);
                }
                *p = now;
            }
            None => match self.pending.get_mut(n) {
                Some(slot) => {
                    *slot = now;
                    self.pending_len += 1;
                }
                None => {
                    // Full: the oldest session's payload goes back.
                    if let Some(p) = self.pending.first_mut() {
                        self.redo.push(p.payload);
                        *p = now;
                    }
                    self.pending.rotate_left(1);
                }
            },
        }
    }

    /// Ends a run of frames: the payloads taken for one message that the
    /// run did not confirm, by frame index.
    pub fn finish(&mut self) -> Vec<Deferred> {
        let mut redo = std::mem::take(&mut self.redo);
        let n = std::mem::take(&mut self.pending_len);
        redo.extend(self.pending.iter().take(n).map(|p| p.payload));
        redo.sort_unstable_by_key(|d| d.index);
        redo
    }

    /// The searcher for transport headers of `receiver`.
    fn finder(&mut self, receiver: u32) -> Option<&memchr::memmem::Finder<'static>> {
        let i = match self.sessions.iter().position(|(r, _)| *r == receiver) {
            Some(i) => i,
            None => {
                // Type, reserved bytes and receiver index: eight bytes that
                // random ciphertext matches once in 2^64 offsets.
                let mut needle = [msg_type::TRANSPORT, 0, 0, 0, 0, 0, 0, 0];
                needle[4..].copy_from_slice(&receiver.to_le_bytes());
                let e = (receiver, memchr::memmem::Finder::new(&needle).into_owned());
                if self.sessions.len() < SCANNER_SESSIONS {
                    self.sessions.push(e);
                    self.sessions.len() - 1
                } else {
                    let i = self.next % SCANNER_SESSIONS;
                    self.next = i + 1;
                    *self.sessions.get_mut(i)? = e;
                    i
                }
            }
        };
        self.sessions.get(i).map(|(_, f)| f)
    }
}

/// Payloads up to this size are checked for a second header only at
/// 16-byte offsets: WireGuard pads messages to 16 bytes, except a full-size
/// one capped at the tunnel MTU, and two capped messages of a tunnel MTU
/// above 704 do not fit in this. Larger payloads are searched byte by byte.
const STRIDE_CHECK_MAX: usize = 1472;

/// Whether a transport payload may hold a further message of its session:
/// the first header's eight bytes (type, reserved, receiver index) again in
/// its second half, where the last message of a batch starts.
fn maybe_batch(b: &[u8]) -> bool {
    let Some(head) = b.get(..8) else {
        return false;
    };
    let from = b.len().div_ceil(2);
    if b.len() > STRIDE_CHECK_MAX {
        return memchr::memmem::find(b.get(from..).unwrap_or_default(), head).is_some();
    }
    let Some(head) = head.first_chunk::<8>().map(|w| u64::from_ne_bytes(*w)) else {
        return false;
    };
    // The last message starts at a 16-byte offset in the second half (a
    // malformed one shorter than a keepalive too: it makes the payload
    // unsplittable, not one message).
    let is_head = |c: &[u8]| c.first_chunk::<8>().map(|w| u64::from_ne_bytes(*w)) == Some(head);
    let Some(rest) = b.get(from.next_multiple_of(16)..) else {
        return false;
    };
    let (chunks, tail) = rest.as_chunks::<16>();
    // Branch-free over the chunks (nearly every payload is one message, so
    // the whole half is read anyway): the compiler can vectorise the fold.
    let word = |[w @ .., _, _, _, _, _, _, _, _]: [u8; 16]| u64::from_ne_bytes(w);
    is_head(tail) || chunks.iter().fold(false, |hit, c| hit | (word(*c) == head))
}

/// [`batch`], reusing `scanner`'s searcher.
pub fn batch_with(captured: &[u8], payload_len: usize, scanner: &mut Scanner) -> Batch {
    let b = captured.get(..payload_len).unwrap_or(captured);
    if payload_len < 2 * size::KEEPALIVE {
        return Batch::Single;
    }
    let fixed = match b.first() {
        Some(&msg_type::INITIATION) => size::INITIATION,
        Some(&msg_type::RESPONSE) => size::RESPONSE,
        Some(&msg_type::COOKIE_REPLY) => size::COOKIE_REPLY,
        Some(&msg_type::TRANSPORT) => 0,
        _ => return Batch::Single,
    };
    if fixed > 0 {
        // A handshake message of its exact size, then another message.
        let first = header_at(b, 0) && payload_len > fixed;
        return if first && header_at(b, fixed) {
            Batch::Unsplittable
        } else {
            Batch::Single
        };
    }
    let Some((receiver, first)) = transport_at(b, 0) else {
        return Batch::Single;
    };
    let same = |o: usize| transport_at(b, o).filter(|(r, _)| *r == receiver);
    let Some(tail) = b.get(size::KEEPALIVE..) else {
        return Batch::Single;
    };
    // The last message of a super-packet starts at (count - 1) * size and is
    // at most `size` long: in the second half. Most payloads are one message;
    // looking in that half first rules them out. (A super-packet whose second
    // half holds no message of the first one's session, such as two messages
    // and a handshake, is then taken for one message.)
    if b.len() == payload_len && !maybe_batch(b) {
        return Batch::Single;
    }
    let Some(finder) = scanner.finder(receiver) else {
        return Batch::Single;
    };
    let Some(seg) = finder
        .find_iter(tail)
        .map(|i| i + size::KEEPALIVE)
        .find(|&o| same(o).is_some())
    else {
        return Batch::Single;
    };
    if b.len() < payload_len {
        // Several messages, but the capture does not hold all their headers.
        return Batch::Unsplittable;
    }
    // Another message at a segment size that divides `seg`: mixed messages.
    let mixed = (2..=seg / size::KEEPALIVE)
        .filter(|m| seg % m == 0)
        .any(|m| header_at(b, seg / m));
    let count = payload_len.div_ceil(seg);
    let last = payload_len - (count - 1) * seg;
    if mixed || last < size::KEEPALIVE {
        return Batch::Unsplittable;
    }
    let mut prev = first;
    for k in 1..count {
        match same(k * seg) {
            Some((_, c)) if c > prev => prev = c,
            _ => return Batch::Unsplittable,
        }
    }
    Batch::Split {
        size: seg,
        count,
        last,
    }
}

/// The transport messages of a [`Batch::Split`] payload: (offset, length,
/// receiver, counter) each.
pub fn segments(
    payload: &[u8],
    size: usize,
    count: usize,
    last: usize,
) -> impl Iterator<Item = (usize, usize, PeerIndex, Counter)> + '_ {
    (0..count).filter_map(move |k| {
        let o = k.checked_mul(size)?;
        let len = if k + 1 == count { last } else { size };
        let (r, c) = transport_at(payload, o)?;
        Some((o, len, PeerIndex(r), Counter(c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        v[0] = ty;
        v[4..8].copy_from_slice(&0x1122_3344u32.to_le_bytes());
        v[8..16].copy_from_slice(&7u64.to_le_bytes());
        v
    }

    #[test]
    fn recognises_each_type_by_exact_size() {
        assert!(matches!(
            parse(&msg(1, 148), 148),
            Some(Message::Initiation {
                sender: PeerIndex(0x1122_3344),
                ..
            })
        ));
        assert!(parse(&msg(1, 149), 149).is_none());
        assert!(matches!(
            parse(&msg(2, 92), 92),
            Some(Message::Response { .. })
        ));
        assert!(matches!(
            parse(&msg(3, 64), 64),
            Some(Message::CookieReply { .. })
        ));
        assert_eq!(
            parse(&msg(4, 32), 32),
            Some(Message::Transport {
                receiver: PeerIndex(0x1122_3344),
                counter: Counter(7)
            })
        );
        assert!(parse(&msg(4, 31), 31).is_none());
    }

    #[test]
    fn rejects_lookalikes() {
        // Tailscale disco: 92 bytes starting with "TS".
        let mut disco = vec![0u8; 92];
        disco[..6].copy_from_slice(b"TS\xf0\x9f\x92\xac");
        assert!(parse(&disco, 92).is_none());
        let mut data = msg(4, 96);
        data[2] = 1;
        assert!(
            parse(&data, 96).is_none(),
            "data messages need zero reserved bytes"
        );
        let mut warp = msg(1, 148);
        warp[1] = 0xaa;
        assert!(
            parse(&warp, 148).is_some(),
            "WARP uses handshake reserved bytes"
        );
    }

    #[test]
    fn truncated_payload_keeps_the_size_from_the_udp_header() {
        let data = msg(4, 1452);
        assert!(matches!(
            parse(&data[..16], 1452),
            Some(Message::Transport { .. })
        ));
        assert!(parse(&data[..15], 1452).is_none());
    }

    /// A transport message of `len` bytes with pseudo-random ciphertext.
    fn data(receiver: u32, counter: u64, len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut v: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        v[0] = 4;
        v[1..4].fill(0);
        v[4..8].copy_from_slice(&receiver.to_le_bytes());
        v[8..16].copy_from_slice(&counter.to_le_bytes());
        v
    }

    fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn split_counters(b: &[u8]) -> Option<Vec<(usize, u64)>> {
        match batch(b, b.len()) {
            Batch::Split { size, count, last } => Some(
                segments(b, size, count, last)
                    .map(|(_, len, _, c)| (len, c.0))
                    .collect(),
            ),
            _ => None,
        }
    }

    #[test]
    fn consecutive_full_size_messages_split() {
        // 1452 bytes (tunnel MTU 1420) is not a multiple of 16: still split.
        let b = concat(&[
            data(7, 100, 1452, 1),
            data(7, 101, 1452, 2),
            data(7, 102, 1452, 3),
        ]);
        assert_eq!(
            batch(&b, b.len()),
            Batch::Split {
                size: 1452,
                count: 3,
                last: 1452
            }
        );
        assert_eq!(
            split_counters(&b),
            Some(vec![(1452, 100), (1452, 101), (1452, 102)])
        );
    }

    #[test]
    fn the_last_message_may_be_shorter() {
        let mut parts: Vec<Vec<u8>> = (0..10).map(|k| data(9, 5 + k, 96, k)).collect();
        parts.push(data(9, 15, 32, 99));
        let b = concat(&parts);
        let got = split_counters(&b).expect("split");
        assert_eq!(got.len(), 11);
        assert_eq!(got[10], (32, 15));
        assert!(got[..10].iter().all(|(len, _)| *len == 96));
    }

    #[test]
    fn a_gap_in_the_counters_is_a_message_lost_before_gro() {
        let b = concat(&[data(3, 10, 160, 1), data(3, 12, 160, 2), data(3, 13, 64, 3)]);
        assert_eq!(
            split_counters(&b),
            Some(vec![(160, 10), (160, 12), (64, 13)])
        );
    }

    #[test]
    fn what_does_not_line_up_is_unsplittable() {
        // Counters that repeat or go back.
        let back = concat(&[data(3, 10, 160, 1), data(3, 9, 160, 2)]);
        assert_eq!(batch(&back, back.len()), Batch::Unsplittable);
        let repeat = concat(&[data(3, 10, 160, 1), data(3, 10, 160, 2)]);
        assert_eq!(batch(&repeat, repeat.len()), Batch::Unsplittable);
        // Sizes: a shorter message in the middle.
        let sizes = concat(&[data(3, 1, 160, 1), data(3, 2, 96, 2), data(3, 3, 160, 3)]);
        assert_eq!(batch(&sizes, sizes.len()), Batch::Unsplittable);
        // A last message under 32 bytes.
        let short = concat(&[
            data(3, 1, 96, 1),
            data(3, 2, 96, 2),
            data(3, 3, 96, 3)[..20].to_vec(),
        ]);
        assert_eq!(batch(&short, short.len()), Batch::Unsplittable);
        // Another session's message at a boundary.
        let other = concat(&[
            data(3, 1, 96, 1),
            data(3, 2, 96, 2),
            data(3, 3, 96, 3),
            data(4, 2, 96, 4),
        ]);
        assert_eq!(batch(&other, other.len()), Batch::Unsplittable);
    }

    #[test]
    fn a_handshake_among_the_messages_is_unsplittable() {
        let mut init = msg(1, 148);
        init[16..].fill(0x5a);
        // GSO and GRO batch segments of one size, the last maybe shorter: a
        // handshake can only be last. (Padded transport messages are 32 + 16n.)
        let end = concat(&[
            data(3, 1, 160, 1),
            data(3, 2, 160, 2),
            data(3, 3, 160, 3),
            init.clone(),
        ]);
        assert_eq!(batch(&end, end.len()), Batch::Unsplittable);
        // Not a batch layout (unequal segments before the last): a payload of
        // at most 1472 bytes is only looked at on 16-byte offsets, and taken
        // for one message.
        let mid = concat(&[
            data(3, 1, 160, 1),
            init.clone(),
            data(3, 2, 160, 2),
            data(3, 3, 160, 3),
        ]);
        assert_eq!(batch(&mid, mid.len()), Batch::Single);
        // Above 1472 bytes every offset is searched.
        let big = concat(&[
            data(3, 1, 500, 1),
            init.clone(),
            data(3, 2, 500, 2),
            data(3, 3, 500, 3),
        ]);
        assert_eq!(batch(&big, big.len()), Batch::Unsplittable);
        // Known miss: no message of the session in the second half.
        let miss = concat(&[data(3, 1, 148, 1), data(3, 2, 148, 2), init.clone()]);
        assert_eq!(batch(&miss, miss.len()), Batch::Single);
        // First: a response, then a keepalive.
        let mut resp = msg(2, 92);
        resp[16..].fill(0x33);
        let first = concat(&[resp, data(3, 0, 32, 4)]);
        assert_eq!(batch(&first, first.len()), Batch::Unsplittable);
        // A lone handshake is one message.
        assert_eq!(batch(&init, init.len()), Batch::Single);
    }

    #[test]
    fn one_message_is_single() {
        for len in [32, 64, 96, 1452, 8952] {
            let m = data(3, 1, len, len as u64);
            assert_eq!(batch(&m, len), Batch::Single, "{len}");
        }
        assert_eq!(batch(b"not wireguard at all, just text", 31), Batch::Single);
    }

    #[test]
    fn a_capture_cut_short_shows_only_what_it_holds() {
        let b = concat(&[data(3, 1, 1452, 1), data(3, 2, 1452, 2)]);
        // snaplen 96: the second header is not there, nothing to tell.
        assert_eq!(batch(&b[..96], b.len()), Batch::Single);
        // The second header is there, the rest is not: several, not splittable.
        assert_eq!(batch(&b[..1500], b.len()), Batch::Unsplittable);
    }

    proptest::proptest! {
        /// Any bytes, any claimed length: no panic, and a split covers the payload.
        #[test]
        fn random_bytes_never_panic(mut b in proptest::collection::vec(proptest::num::u8::ANY, 0..3000), len in 0usize..70000, head: bool) {
            if head && b.len() >= 16 {
                b[0] = 4;
                b[1..4].fill(0);
            }
            if let Batch::Split { size, count, last } = batch(&b, len) {
                proptest::prop_assert_eq!((count - 1) * size + last, len);
                proptest::prop_assert_eq!(segments(&b, size, count, last).count(), count);
            }
        }

        /// Any super-packet the generator could make splits into exactly its messages.
        #[test]
        fn generated_superpackets_split_exactly(size in 32usize..1500, count in 2usize..40, last in 32usize..1500, first in 0u64..u64::MAX / 2, gaps in proptest::collection::vec(1u64..3, 40), seed: u64) {
            // Transport messages are 32 + 16n bytes (or capped at a tunnel
            // MTU, which in a batch of at most 1472 bytes is no real MTU).
            let total = (count - 1) * size + last.min(size);
            let size = if total > STRIDE_CHECK_MAX { size } else { 32 + (size - 32) / 16 * 16 };
            let last = last.min(size);
            let mut c = first;
            let mut want = Vec::new();
            let mut parts = Vec::new();
            for (k, gap) in gaps.iter().take(count).enumerate() {
                let len = if k + 1 == count { last } else { size };
                parts.push(data(0xabcd, c, len, seed.wrapping_add(k as u64)));
                want.push((len, c));
                c += gap;
            }
            let b = concat(&parts);
            proptest::prop_assert_eq!(split_counters(&b), Some(want));
        }
    }
}

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
}

//! Identities that survive NAT: what a packet is called in both captures.

use crate::decode::{Counter, PacketKind, PacketRecord, PeerIndex};
use serde::Serialize;
use std::collections::HashMap;

/// The identity of one message, the same in both captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgKey {
    /// Handshake initiation: sender index and ephemeral key bytes.
    Initiation {
        /// Sender index.
        sender: PeerIndex,
        /// Ephemeral key bytes.
        ephemeral: u32,
    },
    /// Handshake response.
    Response {
        /// Sender index.
        sender: PeerIndex,
        /// Receiver index.
        receiver: PeerIndex,
        /// Ephemeral key bytes.
        ephemeral: u32,
    },
    /// Cookie reply: receiver index and size.
    Cookie {
        /// Receiver index.
        receiver: PeerIndex,
        /// UDP payload size.
        len: u16,
    },
    /// Transport data: receiver index and counter (unique per packet).
    Transport {
        /// Receiver index.
        receiver: PeerIndex,
        /// Counter.
        counter: Counter,
    },
    /// Other UDP: payload hash, length and which repetition of that payload it is.
    Udp {
        /// Payload hash.
        hash: u64,
        /// UDP payload length.
        len: u16,
        /// 0 for the first packet with this payload, 1 for the next repetition, ...
        nth: u32,
    },
}

/// Kinds of matched messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgClass {
    /// Handshake initiation.
    Initiation,
    /// Handshake response.
    Response,
    /// Cookie reply.
    Cookie,
    /// Transport data.
    Transport,
    /// Other UDP.
    Udp,
    /// Not matched at all.
    Other,
}

impl MsgClass {
    /// The class of a packet kind.
    pub fn of(kind: &PacketKind) -> MsgClass {
        match kind {
            PacketKind::WgInitiation { .. } => MsgClass::Initiation,
            PacketKind::WgResponse { .. } => MsgClass::Response,
            PacketKind::WgCookieReply { .. } => MsgClass::Cookie,
            PacketKind::WgTransport { .. } => MsgClass::Transport,
            PacketKind::Udp { .. } => MsgClass::Udp,
            _ => MsgClass::Other,
        }
    }
}

impl MsgKey {
    /// The class of the message.
    pub fn class(&self) -> MsgClass {
        match self {
            MsgKey::Initiation { .. } => MsgClass::Initiation,
            MsgKey::Response { .. } => MsgClass::Response,
            MsgKey::Cookie { .. } => MsgClass::Cookie,
            MsgKey::Transport { .. } => MsgClass::Transport,
            MsgKey::Udp { .. } => MsgClass::Udp,
        }
    }
}

/// One message of a capture, counted once however often the capture recorded it.
#[derive(Clone, Copy, Debug)]
pub struct Message {
    /// Identity.
    pub key: MsgKey,
    /// Index of its first record.
    pub rec: usize,
}

/// The messages of one capture, by identity.
#[derive(Clone, Debug, Default)]
pub struct MessageIndex {
    /// Messages in capture order.
    pub messages: Vec<Message>,
    /// Identity -> position in `messages`.
    pub by_key: HashMap<MsgKey, usize>,
    /// Records dropped as copies of an earlier one.
    pub duplicates: u64,
}

/// Two copies of the same UDP payload closer than this are one packet recorded twice.
const UDP_DUP_NS: i64 = 5_000_000;

/// Indexes the WireGuard and UDP messages of a capture; duplicates (`-i any`) count once.
pub fn index_messages(records: &[PacketRecord]) -> MessageIndex {
    let mut idx = MessageIndex::default();
    // (hash, len) -> (occurrences so far, time of the last one)
    let mut udp_seen: HashMap<(u64, u16), (u32, i64)> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let key = match r.kind {
            PacketKind::WgInitiation { sender, ephemeral } => {
                MsgKey::Initiation { sender, ephemeral }
            }
            PacketKind::WgResponse {
                sender,
                receiver,
                ephemeral,
            } => MsgKey::Response {
                sender,
                receiver,
                ephemeral,
            },
            PacketKind::WgCookieReply { receiver } => MsgKey::Cookie {
                receiver,
                len: r.udp_len,
            },
            PacketKind::WgTransport { receiver, counter } => {
                MsgKey::Transport { receiver, counter }
            }
            PacketKind::Udp { payload_hash } => {
                let e = udp_seen
                    .entry((payload_hash, r.udp_len))
                    .or_insert((0, i64::MIN));
                if e.1 != i64::MIN && r.ts.0.saturating_sub(e.1) < UDP_DUP_NS {
                    idx.duplicates += 1;
                    e.1 = r.ts.0;
                    continue;
                }
                let nth = e.0;
                e.0 += 1;
                e.1 = r.ts.0;
                MsgKey::Udp {
                    hash: payload_hash,
                    len: r.udp_len,
                    nth,
                }
            }
            _ => continue,
        };
        if idx.by_key.contains_key(&key) {
            idx.duplicates += 1;
            continue;
        }
        idx.by_key.insert(key, idx.messages.len());
        idx.messages.push(Message { key, rec: i });
    }
    idx
}

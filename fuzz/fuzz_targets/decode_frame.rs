//! One frame of any supported link type (plus USER0, unsupported): decoding never panics.
//! Input: 1 byte choosing the link type, 4 bytes of wire length (little endian), the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgtrace::capture::{Frame, FrameNo, LinkType, Timestamp};

const LINKS: [u16; 12] = [0, 1, 9, 12, 14, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINKS[usize::from(pick) % LINKS.len()]);
    let (wire, frame) = match rest.split_first_chunk::<4>() {
        Some((w, f)) => (u32::from_le_bytes(*w), f),
        None => (0, rest),
    };
    let frame = Frame {
        no: FrameNo(1),
        ts: Timestamp(0),
        wire_len: wire.max(frame.len() as u32),
        link,
        iface: 0,
        data: frame,
    };
    let _ = wgtrace::decode::decode_frame(&frame);
});

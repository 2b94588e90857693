//! Any bytes as a capture file: reader, decoder and facts must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = wgtrace::capture::Input::from_bytes("fuzz", data.to_vec()) else {
        return;
    };
    if let Ok(cap) = wgtrace::decode::decode_capture(input) {
        let _ = wgtrace::flow::facts(&cap);
    }
});

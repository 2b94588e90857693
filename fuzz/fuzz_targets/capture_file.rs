//! Any bytes as a capture file: reader, decoder, facts and report must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgtrace::report::inspect::{CaptureEntry, InspectReport};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = wgtrace::capture::Input::from_bytes("fuzz", data.to_vec()) else {
        return;
    };
    if let Ok(cap) = wgtrace::decode::decode_capture(input) {
        // Render the report too, as `inspect` would (tables and JSON).
        let facts = wgtrace::flow::facts(&cap);
        let report = InspectReport::new(vec![CaptureEntry::Read(Box::new(facts))]);
        let _ = (report.to_json(), report.to_table(80));
    }
});

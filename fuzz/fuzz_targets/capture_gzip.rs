//! Capture bytes behind gzip: inputs that already start with the gzip magic are fed
//! as they are (so the fuzzer mutates the compressed stream and its header); others
//! are compressed first (so it mutates the capture behind a valid stream).
#![no_main]

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use wgtrace::report::inspect::{CaptureEntry, InspectReport};

fuzz_target!(|data: &[u8]| {
    let bytes = if data.starts_with(&[0x1f, 0x8b]) {
        data.to_vec()
    } else {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        if enc.write_all(data).is_err() {
            return;
        }
        match enc.finish() {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    let Ok(input) = wgtrace::capture::Input::from_bytes("fuzz.gz", bytes) else {
        return;
    };
    if let Ok(cap) = wgtrace::decode::decode_capture(input) {
        // Render the report too, as `inspect` would (tables and JSON).
        let facts = wgtrace::flow::facts(&cap);
        let report = InspectReport::new(vec![CaptureEntry::Read(Box::new(facts))]);
        let _ = (report.to_json(), report.to_table(80));
    }
});

//! Peak heap memory of `analyze` per packet, measured with a counting allocator.
//!
//! ```text
//! cargo run --release --example alloc_peak -- A.pcap B.pcap
//! ```
//!
//! Prints packets, peak bytes allocated by wgtrace itself (the mapped capture
//! bytes live in the page cache and are not counted), and bytes per packet.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a measuring tool prints its result

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let now = NOW.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            NOW.fetch_sub(l.size() - new, Relaxed);
        }
        // SAFETY: as for realloc on the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    let analysis = match wgtrace::pipeline::analyze_files(&paths) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let packets: u64 = analysis.report.captures.iter().map(|c| c.packets).sum();
    let peak = PEAK.load(Relaxed) - base;
    println!(
        "packets {packets}  peak heap {:.1} MiB  {:.1} bytes/packet",
        peak as f64 / (1 << 20) as f64,
        peak as f64 / packets.max(1) as f64
    );
}

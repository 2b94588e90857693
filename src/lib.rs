//! wgtrace: diagnose half-working WireGuard tunnels from packet captures.
//!
//! The library is a one-way pipeline; each stage depends only on the ones before it:
//!
//! 1. [`capture`]: pcap / pcapng files (mapped, gzip or stdin) to frames;
//! 2. [`decode`]: frames to compact, typed packet records (WireGuard recognised by content);
//! 3. [`flow`]: records to WireGuard sessions and per-capture facts;
//!
//! The library never prints and never exits; the `wgtrace` binary renders.

pub mod capture;
pub mod correlate;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod report;

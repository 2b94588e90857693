//! wgtrace: diagnose half-working WireGuard tunnels from packet captures.
//!
//! The library is a one-way pipeline; each stage depends only on the ones before it:
//!
//! 1. [`capture`]: pcap / pcapng files (mapped, gzip or stdin) to frames;
//! 2. [`decode`]: frames to compact, typed packet records (WireGuard recognised by content);
//! 3. [`flow`]: records to WireGuard sessions and per-capture facts;
//! 4. [`correlate`]: two captures matched packet by packet (clock, window, NAT, loss by size);
//! 5. [`diagnose`]: facts and correlation to typed findings with evidence and fixes;
//! 6. [`report`]: findings rendered as tables, Markdown and versioned JSON;
//! 7. [`anonymize`]: a finished report's addresses rewritten (Crypto-PAn) before rendering.
//! 8. [`annotate`]: the two captures written back as one pcapng, each packet
//!    commented with its fate and the report in the section header (`--annotate`).
//!
//! [`pipeline`] runs stages 1-7 for one incident; [`batch`] runs it over many
//! incidents (a directory or a manifest, shards, resume) into JSON Lines.
//! The library never prints and never exits; the `wgtrace` binary renders
//! and chooses exit codes.

pub mod annotate;
pub mod anonymize;
pub mod batch;
pub mod capture;
pub mod correlate;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod last_two;
pub mod pipeline;
pub mod report;

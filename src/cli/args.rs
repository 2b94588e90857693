//! Command-line arguments (clap), kept apart from what the commands do.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Diagnose half-working WireGuard tunnels from packet captures.
#[derive(Debug, Parser)]
#[command(name = "wgtrace", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads for decoding (default: one per core). Output does not depend on it.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(usize))]
    pub threads: Option<usize>,

    /// Replace every IP address of the report by a prefix-preserving anonymised one
    /// (Crypto-PAn; consistent across the captures of the run; ports and sizes kept), for tickets.
    #[arg(long, global = true)]
    pub anonymize: bool,

    /// Key for --anonymize (implies it): a file of exactly 32 bytes (AES-128 key, then
    /// pad), so that runs and batch shards map each address the same way; without it
    /// the key is random per run.
    #[arg(long, global = true, value_name = "FILE")]
    pub anonymize_key: Option<PathBuf>,

    /// Colour severities in tables: `auto` only when standard output is a
    /// terminal and NO_COLOR is unset (or empty); never in JSON, Markdown or HTML.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// When to colour the table output.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    /// When standard output is a terminal and NO_COLOR is not set.
    Auto,
    /// Always (also into pipes and files).
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarise captures: format, packets, WireGuard sessions, sizes, ICMP, martians.
    Inspect(InspectArgs),
    /// Match the two ends of a tunnel packet by packet and say what is wrong (one capture: what it alone shows).
    Analyze(AnalyzeArgs),
    /// Analyse many incidents offline (a directory of incident folders, or a manifest) into JSON Lines.
    Batch(BatchArgs),
    /// Print a shell completion script to standard output (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff, section 1) to standard output.
    Man,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Output formats of `inspect`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum InspectFormat {
    /// Tables for a terminal.
    Table,
    /// Versioned JSON (schema `wgtrace.inspect/1`).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Capture files: pcap or pcapng, optionally gzip-compressed; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Table)]
    pub format: InspectFormat,
}

/// Output formats of `analyze`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AnalyzeFormat {
    /// Tables for a terminal.
    Table,
    /// GitHub-flavoured Markdown, to paste into a ticket.
    Markdown,
    /// Versioned JSON (schema `wgtrace.analyze/3`).
    Json,
    /// One self-contained HTML page with plots (no scripts or external resources).
    Html,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Capture of one end of the tunnel (pcap or pcapng, optionally gzip-compressed).
    #[arg(value_name = "A")]
    pub a: PathBuf,

    /// Capture of the other end (optional: without it, wgtrace says what one end alone shows).
    #[arg(value_name = "B")]
    pub b: Option<PathBuf>,

    /// Further captures along the same path, in path order after A and B
    /// (e.g. laptop, router LAN side, router WAN side, vps): each WireGuard
    /// packet is followed from point to point, and the report says per hop
    /// what arrived, what was rewritten and what vanished.
    #[arg(value_name = "C", requires = "b")]
    pub more: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = AnalyzeFormat::Table)]
    pub format: AnalyzeFormat,

    /// Write the output here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write the HTML report (with plots) to FILE, whatever --format is.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Also write both captures merged into one pcapng FILE for Wireshark:
    /// B's packets on A's clock, one interface per capture, each WireGuard
    /// packet commented with its fate (`wgtrace: lost ...`), the findings in
    /// the file's comment. Needs B; not with --anonymize (the packets keep their bytes).
    #[arg(long, value_name = "FILE", requires = "b")]
    pub annotate: Option<PathBuf>,

    /// Analyse only tunnel ID (as numbered in the report), when the captures share several.
    #[arg(long, value_name = "ID", conflicts_with = "peer", requires = "b")]
    pub tunnel: Option<u32>,

    /// Analyse only the tunnels with an endpoint at ADDR (and PORT) in either capture.
    #[arg(long, value_name = "ADDR[:PORT]", requires = "b")]
    pub peer: Option<wgtrace::correlate::TunnelSelect>,

    /// Leave out packets before TIME: RFC 3339 (2026-11-22T03:43:20Z,
    /// 2026-11-22 04:43:20+01:00) or seconds after the earliest first packet
    /// of the captures given (12.5).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,

    /// Leave out packets after TIME (same forms as --from).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,

    /// Print only one line: `healthy`, `problems:` with each kind found (and its
    /// direction) and the MTU to set, or `inconclusive: KIND`; the exit code is
    /// the same as the full report's.
    #[arg(long, short = 'q', conflicts_with = "format")]
    pub quiet: bool,

    /// A capture of A's tunnel interface taken at the same time as A
    /// (`tcpdump -i wg0 -w FILE`): its inner packets are matched to A's outer
    /// ones, to name the inner flows that lost packets and the packets dropped
    /// on the host. A `tcpdump -i any` capture needs none: it holds both.
    #[arg(long, value_name = "FILE")]
    pub inner_a: Option<PathBuf>,

    /// A capture of B's tunnel interface (as --inner-a, for B).
    #[arg(long, value_name = "FILE", requires = "b")]
    pub inner_b: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// A directory with one sub-directory per incident holding its captures, or a
    /// manifest: CSV lines `id,capture,capture` or JSON lines `{"id":..,"captures":[..]}`.
    #[arg(value_name = "DIR|MANIFEST")]
    pub source: PathBuf,

    /// Write the JSON Lines here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Skip incidents whose result is already in the output file, and append.
    /// Without it the output replaces the file only once complete; give it
    /// from the first run for a run that can be resumed after an interruption.
    #[arg(long, requires = "output")]
    pub resume: bool,

    /// Process only shard I of N (0-based), a deterministic slice of the incidents.
    /// Without it, taken from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
    /// SLURM_ARRAY_TASK_ID (Slurm array) when set.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// Number of shards, for the scheduler's index from the environment (or WGTRACE_SHARDS).
    #[arg(long, value_name = "N")]
    pub shards: Option<u64>,
}

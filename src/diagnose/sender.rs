//! Which WireGuard implementation a side's outer packets suggest, from the
//! IPv4 Don't Fragment bit: userspace implementations (wireguard-go,
//! boringtun, ...) do path-MTU discovery and set DF on their packets; the
//! Linux kernel module never sets it.
//!
//! Said only where the report already talks about DF (size loss,
//! fragments, the largest packets), for the side that sent those packets,
//! and only from the DF bits counted on that side's own packets.

use super::finding::{Finding, FindingKind, Implementation, Severity};
use super::Capture;
use crate::correlate::{looks_locally_sent, Correlation, Role, Side};
use crate::decode::{Flags, PacketRecord};

/// At most this share (1 in N) of a side's IPv4 packets may lack DF for a userspace verdict.
const USERSPACE_CLEAR_AT_MOST: u64 = 100;

/// Whether `f` talks about the DF bits or sizes of packets `side` sent.
fn talks_df(f: &Finding, side: Side) -> bool {
    use FindingKind as K;
    match &f.kind {
        K::MtuBlackhole { direction, .. }
        | K::IcmpFragNeededAbsent { direction, .. }
        | K::FragmentsDropped { direction, .. }
        | K::FragmentedPath { direction, .. }
        | K::PmtudWorking { direction, .. } => {
            direction.from_side == side && !direction.from.is_empty()
        }
        K::LargestPackets {
            side: s, sent_here, ..
        } => *s == side && *sent_here,
        _ => false,
    }
}

/// The evidence from the WireGuard packets `side` sent whole (`None`
/// without IPv4 ones). Fragments are left out: they never carry DF, whatever
/// the implementation (a sender's kernel fragments only datagrams it may).
fn evidence<'a>(
    cap: Capture<'_>,
    sent: impl Iterator<Item = &'a PacketRecord>,
) -> Option<FindingKind> {
    let (mut df_set, mut df_clear) = (0u64, 0u64);
    let counted = |r: &&PacketRecord| {
        r.kind.is_wireguard() && !r.flags.has(Flags::IPV6 | Flags::FIRST_FRAGMENT)
    };
    for r in sent.filter(counted) {
        if r.flags.has(Flags::DF) {
            df_set += 1;
        } else {
            df_clear += 1;
        }
    }
    let ipv4_sent = df_set + df_clear;
    if ipv4_sent == 0 {
        return None;
    }
    let likely = if df_set == 0 {
        Implementation::KernelOrNoPmtud
    } else if df_clear.saturating_mul(USERSPACE_CLEAR_AT_MOST) <= ipv4_sent {
        Implementation::Userspace
    } else {
        Implementation::Unknown
    };
    Some(FindingKind::SenderDf {
        side: cap.side,
        file: cap.name.to_string(),
        ipv4_sent,
        df_set,
        df_clear,
        likely,
    })
}

/// Two captures: for each side whose packets a finding talks about, the DF
/// bits of every WireGuard message it sent (matched or not).
pub(super) fn pair(out: &mut Vec<Finding>, caps: [Capture<'_>; 2], c: &Correlation) {
    for side in [Side::A, Side::B] {
        if !out.iter().any(|f| talks_df(f, side)) {
            continue;
        }
        let cap = caps[side.idx()];
        let sent = cap
            .cap
            .records
            .iter()
            .zip(&c.role[side.idx()])
            .filter(|(_, &role)| {
                role == Role::Delivered as u8
                    || role == Role::Missing as u8
                    || role == Role::OutsideWindow as u8
            })
            .map(|(r, _)| r);
        if let Some(k) = evidence(cap, sent) {
            out.push(Finding::new(k, Severity::Info));
        }
    }
}

/// One capture: the DF bits of the WireGuard messages its host sent.
pub(super) fn one_end(out: &mut Vec<Finding>, cap: Capture<'_>) {
    if !out.iter().any(|f| talks_df(f, cap.side)) {
        return;
    }
    let sent = cap.cap.records.iter().filter(|r| looks_locally_sent(r));
    if let Some(k) = evidence(cap, sent) {
        out.push(Finding::new(k, Severity::Info));
    }
}

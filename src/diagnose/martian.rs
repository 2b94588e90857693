//! Martian packets: source == destination after hairpin NAT, and the other
//! sources Linux drops on input. Only WireGuard traffic (or traffic to a
//! port WireGuard uses in the capture) is a problem; the rest is info.

use super::finding::{Finding, FindingKind, FrameRefs, Severity};
use super::Capture;
use crate::decode::Endpoint;
use crate::flow::MartianReason;
use std::collections::HashSet;

/// Martian findings of one capture; `addressed` is the public endpoint the
/// original sender addressed, when the other capture shows it.
pub(super) fn martians(out: &mut Vec<Finding>, cap: Capture<'_>, addressed: Option<Endpoint>) {
    // Ports WireGuard uses in this capture.
    let wg_ports: HashSet<u16> = cap
        .facts
        .directions
        .iter()
        .flat_map(|d| [d.from.port, d.to.port])
        .filter(|p| *p != 0)
        .collect();
    for m in &cap.facts.martians {
        let wireguard = m.wireguard > 0 || wg_ports.contains(&m.dst.port);
        let refs = FrameRefs::new(cap.side, cap.name, m.frames.iter().copied());
        if m.reason == MartianReason::SameSrcDst && wireguard {
            out.push(
                Finding::new(
                    FindingKind::MartianSameSrcDst {
                        side: cap.side,
                        file: cap.name.to_string(),
                        endpoint: m.src,
                        dst: m.dst,
                        packets: m.packets,
                        wg_initiations: m.wg_initiations,
                        response_sent: cap.facts.wireguard.response > 0,
                        addressed,
                    },
                    Severity::Error,
                )
                .with_frames(refs),
            );
        } else {
            out.push(
                Finding::new(
                    FindingKind::MartianSource {
                        side: cap.side,
                        file: cap.name.to_string(),
                        reason: m.reason,
                        src: m.src,
                        dst: m.dst,
                        packets: m.packets,
                        wireguard,
                    },
                    if wireguard {
                        Severity::Warning
                    } else {
                        Severity::Info
                    },
                )
                .with_frames(refs),
            );
        }
    }
}

//! Generates a synthetic pair of captures of one or more WireGuard tunnels, for
//! benchmarks and property tests (the recorded captures in testdata/ are the
//! real-world tests; this is their large, controllable complement).
//!
//! ```text
//! cargo run --release --example gen_pair -- OUT_DIR [--packets N] [--tunnels K]
//!     [--threshold BYTES] [--loss P] [--offset-ms MS] [--seed S] [--gso N]
//! ```
//!
//! Writes `OUT_DIR/vps.pcap` (Ethernet, nanosecond), `OUT_DIR/laptop.pcap`
//! (Ethernet, microsecond) and `OUT_DIR/truth.json` with what was generated:
//! per direction the packets sent inside the far end's capture window, the
//! ones delivered and the ones lost, by UDP payload size.
//!
//! The mix: many 1452-byte and 96-byte transport messages, the rest on the
//! 16-byte padding grid, both directions (60 % vps→laptop), keepalives, a
//! rekey every 120 s (new indexes, a real initiation/response exchange),
//! a size-threshold blackhole vps→laptop plus a little random loss both ways,
//! the laptop's clock `offset-ms` ahead, and capture windows that differ.
//!
//! `--gso N` (N >= 2) models a vps capture taken with UDP GSO on: half of the
//! vps→laptop transport messages come in bursts of N consecutive messages of
//! one session (all of one size but the last, which may be smaller, at most
//! 65,000 bytes together), which the vps capture records as one UDP
//! datagram holding them back to back, while the laptop sees each message
//! as its own packet. `truth.json` then says how many such datagrams and
//! messages the vps capture holds (`superpackets`).

use etherparse::PacketBuilder;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// xorshift64*: deterministic, dependency-free randomness for reproducible data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to generate.
pub struct Args {
    /// Directory for the two captures and `truth.json`.
    pub out: PathBuf,
    /// Transport messages to generate (both directions).
    pub packets: u64,
    /// Tunnels between the vps and that many laptops.
    pub tunnels: u32,
    /// vps→laptop messages of this UDP payload size or more are lost (0: none).
    pub threshold: u16,
    /// Probability of a random loss, each message, both directions.
    pub loss: f64,
    /// How far the laptop's clock is ahead of the vps's.
    pub offset_ns: i64,
    /// Seed of the deterministic random generator.
    pub seed: u64,
    /// Messages per UDP GSO super-packet in the vps capture (0 or 1: none).
    pub gso: usize,
}

#[allow(dead_code)]
fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        out: PathBuf::from(it.next().ok_or("usage: gen_pair OUT_DIR [options]")?),
        packets: 100_000,
        tunnels: 1,
        threshold: 1452,
        loss: 0.002,
        offset_ns: 2_500_000_000,
        seed: 1,
        gso: 0,
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_: std::num::ParseIntError| format!("bad value for {flag}: {v}");
        match flag.as_str() {
            "--packets" => a.packets = v.parse().map_err(bad)?,
            "--tunnels" => a.tunnels = v.parse().map_err(bad)?,
            "--threshold" => a.threshold = v.parse().map_err(bad)?,
            "--loss" => {
                a.loss = v
                    .parse()
                    .map_err(|_| format!("bad value for {flag}: {v}"))?
            }
            "--offset-ms" => a.offset_ns = v.parse::<i64>().map_err(bad)? * 1_000_000,
            "--seed" => a.seed = v.parse().map_err(bad)?,
            "--gso" => a.gso = v.parse().map_err(bad)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

struct PcapWriter {
    out: BufWriter<File>,
    nanos: bool,
}

impl PcapWriter {
    fn create(path: &PathBuf, nanos: bool) -> std::io::Result<PcapWriter> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&magic.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&[0u8; 8])?;
        out.write_all(&262_144u32.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?; // EN10MB
        Ok(PcapWriter { out, nanos })
    }

    fn write(&mut self, ts_ns: i64, frame: &[u8]) -> std::io::Result<()> {
        let sec = ts_ns.div_euclid(1_000_000_000) as u32;
        let ns = ts_ns.rem_euclid(1_000_000_000) as u32;
        let frac = if self.nanos { ns } else { ns / 1000 };
        let len = frame.len() as u32;
        for v in [sec, frac, len, len] {
            self.out.write_all(&v.to_le_bytes())?;
        }
        self.out.write_all(frame)
    }
}

#[derive(Clone, Copy)]
struct Peer {
    ip: [u8; 4],
    port: u16,
    mac: [u8; 6],
}

/// Super-packets the vps capture holds, and the messages in them.
#[derive(Default, serde::Serialize)]
struct GsoTruth {
    capture: &'static str,
    datagrams: u64,
    messages: u64,
    /// First frame number of each super-packet in the capture.
    frames: Vec<u64>,
}

fn frame(from: Peer, to: Peer, ttl: u8, wg: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(from.mac, to.mac)
        .ipv4(from.ip, to.ip, ttl)
        .udp(from.port, to.port);
    let mut out = Vec::with_capacity(b.size(wg.len()));
    // Writing into a Vec cannot fail.
    let _ = b.write(&mut out, wg);
    out
}

fn transport(receiver: u32, counter: u64, len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut m = vec![0u8; len];
    m[0] = 4;
    m[4..8].copy_from_slice(&receiver.to_le_bytes());
    m[8..16].copy_from_slice(&counter.to_le_bytes());
    // Ciphertext looks random; a few random bytes are enough to make it so.
    let r = rng.next().to_le_bytes();
    let end = len.min(24);
    m[16..end].copy_from_slice(&r[..end - 16]);
    m
}

fn handshake(ty: u8, sender: u32, receiver: u32, rng: &mut Rng) -> Vec<u8> {
    let len = if ty == 1 { 148 } else { 92 };
    let mut m: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    m[0] = ty;
    m[1..4].fill(0);
    m[4..8].copy_from_slice(&sender.to_le_bytes());
    if ty == 2 {
        m[8..12].copy_from_slice(&receiver.to_le_bytes());
    }
    m
}

#[derive(Default, serde::Serialize)]
struct DirTruth {
    from: &'static str,
    to: &'static str,
    sent: u64,
    delivered: u64,
    missing: u64,
    missing_by_size: BTreeMap<u16, u64>,
    delivered_by_size: BTreeMap<u16, u64>,
    /// Of `missing`, those sent within 50 ms of an edge of the receiver's
    /// window: an analysis may not tell them from packets sent outside it.
    missing_near_edges: u64,
}

#[allow(dead_code)] // the tests include this file for `generate` only
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args()?;
    generate(&a)?;
    Ok(())
}

/// Writes the pair and its truth into `a.out`; returns the truth.
pub fn generate(a: &Args) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&a.out)?;
    let mut rng = Rng(a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut vps_pcap = PcapWriter::create(&a.out.join("vps.pcap"), true)?;
    let mut laptop_pcap = PcapWriter::create(&a.out.join("laptop.pcap"), false)?;

    let vps = Peer {
        ip: [198, 51, 100, 1],
        port: 51820,
        mac: [2, 0, 0, 0, 0, 1],
    };
    let laptops: Vec<Peer> = (0..a.tunnels)
        .map(|k| Peer {
            ip: [203, 0, 113, 10 + (k % 200) as u8],
            port: 40000 + k as u16,
            mac: [2, 0, 0, 0, 1, k as u8],
        })
        .collect();

    // vps clock is the reference; laptop's reads `offset` more.
    let start: i64 = 1_700_000_000_000_000_000;
    let pps = 2_500.0_f64;
    let duration = (a.packets as f64 / pps * 1e9) as i64;
    let (vps_window, laptop_window) = (
        (start, start + duration),
        (start + 500_000_000, start + duration - 500_000_000),
    );
    let delay = 20_000_000i64;
    let (ttl_sent, ttl_recv) = (64u8, 57u8);
    let mut truth = [
        DirTruth {
            from: "vps.pcap",
            to: "laptop.pcap",
            ..Default::default()
        },
        DirTruth {
            from: "laptop.pcap",
            to: "vps.pcap",
            ..Default::default()
        },
    ];
    struct Tunnel {
        idx_vps: u32,
        idx_laptop: u32,
        ctr: [u64; 2],
        next_rekey: i64,
    }
    let mut tunnels: Vec<Tunnel> = (0..a.tunnels)
        .map(|_| Tunnel {
            idx_vps: 0,
            idx_laptop: 0,
            ctr: [0, 0],
            next_rekey: start,
        })
        .collect();

    let mut gso = GsoTruth {
        capture: "vps.pcap",
        ..Default::default()
    };
    let mut vps_frames = 0u64;
    let mut t = start;
    let mut sent = 0u64;
    let gap = (1e9 / pps) as i64;
    while sent < a.packets {
        t += 1 + (rng.next() % (2 * gap as u64)) as i64;
        let k = (rng.next() % u64::from(a.tunnels)) as usize;
        let laptop = laptops[k];
        let tun = &mut tunnels[k];
        let mut msgs: Vec<(usize, Vec<u8>)> = Vec::new();
        if t >= tun.next_rekey {
            // The laptop initiates; the vps responds: new indexes on both sides.
            let (il, iv) = (rng.next() as u32, rng.next() as u32);
            msgs.push((1, handshake(1, il, 0, &mut rng)));
            msgs.push((0, handshake(2, iv, il, &mut rng)));
            *tun = Tunnel {
                idx_vps: iv,
                idx_laptop: il,
                ctr: [0, 0],
                next_rekey: t + 120_000_000_000,
            };
        }
        let dir = usize::from(rng.unit() >= 0.6);
        let r = rng.unit();
        let len: usize = if r < 0.001 {
            32
        } else if r < 0.40 {
            1452
        } else if r < 0.70 {
            96
        } else {
            32 + 16 * (1 + (rng.next() % 88) as usize)
        };
        let receiver = if dir == 0 {
            tun.idx_laptop
        } else {
            tun.idx_vps
        };
        let c = tun.ctr[dir];
        tun.ctr[dir] += 1;
        msgs.push((dir, transport(receiver, c, len, &mut rng)));
        // A GSO burst: more messages of this session, sent at once, that the
        // vps capture records as one datagram (from index `burst`).
        let (mut burst, mut burst_len) = (usize::MAX, 0);
        if a.gso > 1 && dir == 0 && rng.unit() < 0.5 {
            let n = a.gso.min(65_000 / len);
            if n >= 2 {
                burst = msgs.len() - 1;
                for k in 1..n {
                    let size = if k + 1 == n && rng.unit() < 0.5 {
                        len.min(32 + 16 * (rng.next() % 8) as usize)
                    } else {
                        len
                    };
                    let c = tun.ctr[dir];
                    tun.ctr[dir] += 1;
                    msgs.push((dir, transport(receiver, c, size, &mut rng)));
                }
                sent += n as u64 - 1;
                burst_len = n;
            }
        }
        let mut super_payload: Vec<u8> = Vec::new();

        for (m, (dir, wg)) in msgs.into_iter().enumerate() {
            let (from, to) = if dir == 0 {
                (vps, laptop)
            } else {
                (laptop, vps)
            };
            let size = wg.len() as u16;
            let is_data = wg[0] == 4;
            let lost = (is_data && dir == 0 && a.threshold > 0 && size >= a.threshold)
                || rng.unit() < a.loss;
            let t_recv = t + delay + (rng.next() % 2_000_000) as i64;
            // Sender time in its own clock, receiver time in its own.
            let (send_clock, recv_clock) = if dir == 0 {
                (t, t_recv + a.offset_ns)
            } else {
                (t + a.offset_ns, t_recv)
            };
            let (send_window, recv_window) = if dir == 0 {
                (vps_window, laptop_window)
            } else {
                (laptop_window, vps_window)
            };
            let (w_send, w_recv) = if dir == 0 {
                (&mut vps_pcap, &mut laptop_pcap)
            } else {
                (&mut laptop_pcap, &mut vps_pcap)
            };
            let sent_in = t >= send_window.0 && t <= send_window.1;
            if sent_in && m >= burst {
                super_payload.extend_from_slice(&wg);
                if super_payload.len() == wg.len() {
                    vps_frames += 1;
                    gso.datagrams += 1;
                    gso.frames.push(vps_frames);
                }
                gso.messages += 1;
            } else if sent_in {
                w_send.write(send_clock, &frame(from, to, ttl_sent, &wg))?;
                if dir == 0 {
                    vps_frames += 1;
                }
            }
            // Only data packets the far end could have seen count in the truth.
            let countable = sent_in && t_recv >= recv_window.0 && t_recv <= recv_window.1;
            if !lost && t_recv >= recv_window.0 && t_recv <= recv_window.1 {
                w_recv.write(recv_clock, &frame(from, to, ttl_recv, &wg))?;
                if dir == 1 {
                    vps_frames += 1;
                }
            }
            if countable && is_data {
                let d = &mut truth[dir];
                d.sent += 1;
                if lost {
                    d.missing += 1;
                    let near = |edge: i64| (t - edge).abs() < 50_000_000;
                    if near(recv_window.0) || near(recv_window.1) {
                        d.missing_near_edges += 1;
                    }
                    *d.missing_by_size.entry(size).or_default() += 1;
                } else {
                    d.delivered += 1;
                    *d.delivered_by_size.entry(size).or_default() += 1;
                }
            }
        }
        if !super_payload.is_empty() {
            // Sent at `t` from the vps, whose clock is the reference.
            vps_pcap.write(t, &frame(vps, laptop, ttl_sent, &super_payload))?;
        }
        if burst_len > 1 {
            // What follows waits as long as the burst's packets would have taken.
            t += (burst_len as i64 - 1) * gap;
        }
        sent += 1;
    }
    vps_pcap.out.flush()?;
    laptop_pcap.out.flush()?;
    let truth_json = serde_json::json!({
        "generator": "examples/gen_pair.rs",
        "packets": a.packets,
        "tunnels": a.tunnels,
        "blackhole_threshold_udp_payload": a.threshold,
        "random_loss": a.loss,
        "clock_offset_ns": a.offset_ns,
        "one_way_delay_ns": [delay, delay + 2_000_000],
        "hops": ttl_sent - ttl_recv,
        "directions": truth,
        "gso": a.gso,
        "superpackets": gso,
    });
    std::fs::write(
        a.out.join("truth.json"),
        serde_json::to_string_pretty(&truth_json)?,
    )?;
    Ok(truth_json)
}

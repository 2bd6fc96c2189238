//! The TCP segment of the black-box scripts' frames (a submodule of `common/packets.rs`, whose
//! items it re-exports): [`Tcp`], its header fields, options ([`TcpOpt`]: MSS, window scale,
//! SACK-permitted, SACK, timestamps, RFC 9293 §3.1, RFC 7323, RFC 2018) and payload, emitted
//! with its checksum and parsed with the checksum checked; [`flag_str`], flags as tcpdump
//! writes them (ECE and CWR of RFC 3168 included).

use std::fmt;
use std::net::IpAddr;

use super::{ACK, CWR, ECE, FIN, PROTO_TCP, PSH, RST, SYN, URG, l4_checksum};

/// A TCP option (RFC 9293 §3.1, RFC 7323, RFC 2018). NOP and End of Option List are layout,
/// not content: the parser leaves them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOpt {
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Timestamps { val: u32, ecr: u32 },
    Sack(Vec<(u32, u32)>),
    Nop,
    Other(u8, Vec<u8>),
}

impl TcpOpt {
    fn emit(&self, out: &mut Vec<u8>) {
        match self {
            TcpOpt::Mss(m) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&m.to_be_bytes());
            }
            TcpOpt::WindowScale(s) => out.extend_from_slice(&[3, 3, *s]),
            TcpOpt::SackPermitted => out.extend_from_slice(&[4, 2]),
            TcpOpt::Timestamps { val, ecr } => {
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            TcpOpt::Sack(blocks) => {
                out.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            TcpOpt::Nop => out.push(1),
            TcpOpt::Other(kind, data) => {
                out.extend_from_slice(&[*kind, (2 + data.len()) as u8]);
                out.extend_from_slice(data);
            }
        }
    }

    /// Parses an options area; `None` if an option runs past it or has a bad length.
    fn parse_all(mut b: &[u8]) -> Option<Vec<TcpOpt>> {
        let mut v = Vec::new();
        while let Some(&kind) = b.first() {
            match kind {
                0 => break,
                1 => {
                    b = &b[1..];
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*b.get(1)?);
            if len < 2 || len > b.len() {
                return None;
            }
            let d = &b[2..len];
            let be32 = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
            v.push(match (kind, len) {
                (2, 4) => TcpOpt::Mss(u16::from_be_bytes([d[0], d[1]])),
                (3, 3) => TcpOpt::WindowScale(d[0]),
                (4, 2) => TcpOpt::SackPermitted,
                (8, 10) => TcpOpt::Timestamps {
                    val: be32(0),
                    ecr: be32(4),
                },
                (5, l) if l >= 10 && (l - 2) % 8 == 0 => TcpOpt::Sack(
                    (0..(l - 2) / 8)
                        .map(|i| (be32(8 * i), be32(8 * i + 4)))
                        .collect(),
                ),
                _ => TcpOpt::Other(kind, d.to_vec()),
            });
            b = &b[len..];
        }
        Some(v)
    }
}

impl fmt::Display for TcpOpt {
    /// As tcpdump writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOpt::Mss(m) => write!(f, "mss {m}"),
            TcpOpt::WindowScale(s) => write!(f, "wscale {s}"),
            TcpOpt::SackPermitted => write!(f, "sackOK"),
            TcpOpt::Timestamps { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            TcpOpt::Sack(b) => write!(f, "sack {b:?}"),
            TcpOpt::Nop => write!(f, "nop"),
            TcpOpt::Other(k, d) => write!(f, "opt-{k} {d:02x?}"),
        }
    }
}

/// A TCP segment: header fields, options (in order, NOPs left out when parsed), payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub urgent: u16,
    pub options: Vec<TcpOpt>,
    pub payload: Vec<u8>,
}

impl Tcp {
    /// The segment's bytes (header, options padded with End of Option List to a multiple of
    /// 4, payload) with its checksum over the pseudo-header of `src` and `dst`.
    pub fn emit(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut opts = Vec::new();
        for o in &self.options {
            o.emit(&mut opts);
        }
        while opts.len() % 4 != 0 {
            opts.push(0);
        }
        let doff = ((20 + opts.len()) / 4) as u8;
        let mut s = Vec::with_capacity(20 + opts.len() + self.payload.len());
        s.extend_from_slice(&self.sport.to_be_bytes());
        s.extend_from_slice(&self.dport.to_be_bytes());
        s.extend_from_slice(&self.seq.to_be_bytes());
        s.extend_from_slice(&self.ack.to_be_bytes());
        s.extend_from_slice(&[doff << 4, self.flags]);
        s.extend_from_slice(&self.window.to_be_bytes());
        s.extend_from_slice(&[0, 0]);
        s.extend_from_slice(&self.urgent.to_be_bytes());
        s.extend_from_slice(&opts);
        s.extend_from_slice(&self.payload);
        let c = l4_checksum(src, dst, PROTO_TCP, &s);
        s[16..18].copy_from_slice(&c.to_be_bytes());
        s
    }

    /// Parses a segment; the bool says whether its checksum is right. `None` if truncated.
    pub(super) fn parse(b: &[u8], src: IpAddr, dst: IpAddr) -> Option<(Tcp, bool)> {
        let doff = usize::from(b.get(12)? >> 4) * 4;
        if doff < 20 || doff > b.len() {
            return None;
        }
        let be16 = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let t = Tcp {
            sport: be16(0),
            dport: be16(2),
            seq: be32(4),
            ack: be32(8),
            flags: b[13],
            window: be16(14),
            urgent: be16(18),
            options: TcpOpt::parse_all(&b[20..doff])?,
            payload: b[doff..].to_vec(),
        };
        Some((t, l4_checksum(src, dst, PROTO_TCP, b) == 0))
    }

    pub fn has(&self, flags: u8) -> bool {
        self.flags & flags == flags
    }

    /// The MSS option's value.
    pub fn mss(&self) -> Option<u16> {
        self.options.iter().find_map(|o| match o {
            TcpOpt::Mss(m) => Some(*m),
            _ => None,
        })
    }

    /// The window scale option's shift count.
    pub fn window_scale(&self) -> Option<u8> {
        self.options.iter().find_map(|o| match o {
            TcpOpt::WindowScale(s) => Some(*s),
            _ => None,
        })
    }

    pub fn sack_permitted(&self) -> bool {
        self.options.contains(&TcpOpt::SackPermitted)
    }

    /// The timestamps option: (TSval, TSecr).
    pub fn timestamps(&self) -> Option<(u32, u32)> {
        self.options.iter().find_map(|o| match o {
            TcpOpt::Timestamps { val, ecr } => Some((*val, *ecr)),
            _ => None,
        })
    }

    /// Whether the segment carries SACK blocks.
    pub fn has_sack_blocks(&self) -> bool {
        self.options.iter().any(|o| matches!(o, TcpOpt::Sack(_)))
    }

    /// The sequence space the segment occupies: payload, plus one each for SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }
}

/// The flags as tcpdump writes them: `S.` for SYN,ACK, `R` for RST, `P.` for PSH,ACK, `E` for
/// ECE and `W` for CWR (`SEW`: an ECN-setup SYN; `S.E`: an ECN-setup SYN-ACK).
pub fn flag_str(flags: u8) -> String {
    let mut s: String = [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (URG, 'U')]
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, c)| *c)
        .collect();
    if flags & ACK != 0 {
        s.push('.');
    }
    for (f, c) in [(ECE, 'E'), (CWR, 'W')] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    if s.is_empty() { "none".into() } else { s }
}

impl fmt::Display for Tcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} [{}] seq {} ack {} win {} len {}",
            self.sport,
            self.dport,
            flag_str(self.flags),
            self.seq,
            self.ack,
            self.window,
            self.payload.len()
        )?;
        if !self.options.is_empty() {
            let o: Vec<String> = self.options.iter().map(|o| o.to_string()).collect();
            write!(f, " [{}]", o.join(","))?;
        }
        Ok(())
    }
}

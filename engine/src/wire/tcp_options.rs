//! TCP options (RFC 9293 §3.2 and §3.7.1 MSS, RFC 7323 §2 window scale and §3 timestamps,
//! RFC 2018 SACK): reading them ([`TcpOptions`]) and laying them out for [`TcpRepr`].
//!
//! Reading follows RFC 9293 §3.2 (MUST-6, MUST-7): every option except End of Option List and
//! No-Operation has a length byte; unknown kinds are skipped by that length; an illegal length
//! (below 2, past the end of the option space, or wrong for a known kind) is an error, after
//! which the iterator stops. Nothing is allocated: SACK blocks live in the fixed
//! [`SackBlocks`].
//!
//! Writing uses Linux's order and packing (`tcp_options_write`), every piece a multiple of four
//! bytes so no padding is needed: `MSS`, then `SACKOK TS` or `NOP NOP TS` or `NOP NOP SACKOK`,
//! then `NOP WS`, then `NOP NOP SACK`. Invariant: the options never exceed the 40 bytes a
//! 60-byte header leaves; SACK blocks that do not fit are left out, last ones first (RFC 2018
//! §4: the first block reports the most recent segment, so it is the one to keep).

use std::fmt;
use std::iter::FusedIterator;

use super::seq::SeqNum;
use super::tcp::TcpRepr;
use super::{Error, Result};

/// The most option bytes a TCP header can carry (data offset 15 → 60 bytes, minus 20).
pub(super) const MAX_OPTIONS_LEN: usize = 40;

mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// Up to four SACK blocks `(left edge, right edge)` (RFC 2018 §3), without allocation.
#[derive(Clone, Copy, Default)]
pub struct SackBlocks {
    blocks: [(SeqNum, SeqNum); SackBlocks::CAPACITY],
    len: u8,
}

impl SackBlocks {
    /// Four blocks fill the 40-byte option space (2 + 4 × 8 = 34 bytes).
    pub const CAPACITY: usize = 4;

    pub const fn new() -> SackBlocks {
        SackBlocks {
            blocks: [(SeqNum(0), SeqNum(0)); SackBlocks::CAPACITY],
            len: 0,
        }
    }

    /// Appends a block; `false` (and nothing stored) when all four slots are taken.
    pub fn push(&mut self, block: (SeqNum, SeqNum)) -> bool {
        let Some(slot) = self.blocks.get_mut(usize::from(self.len)) else {
            return false;
        };
        *slot = block;
        self.len += 1;
        true
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n.min(Self::CAPACITY) as u8);
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.blocks[..self.len()]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (SeqNum, SeqNum)> + '_ {
        self.as_slice().iter().copied()
    }
}

/// Equal when the stored blocks are equal (unused slots do not count).
impl PartialEq for SackBlocks {
    fn eq(&self, other: &SackBlocks) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackBlocks {}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption {
    EndOfList,
    NoOp,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(SackBlocks),
    Timestamps {
        tsval: u32,
        tsecr: u32,
    },
    /// A kind this engine does not know; its bytes were skipped.
    Unknown {
        kind: u8,
    },
}

/// An iterator over the options in a TCP header's option bytes.
///
/// Yields `Err(Error::Malformed)` at most once and then stops; stops after `EndOfList`.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// Iterates over `bytes` (a header's option area, e.g. `TcpPacket::options()`).
    pub const fn new(bytes: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: bytes }
    }

    fn next_option(&mut self) -> Result<TcpOption> {
        let (kind, body, rest) = split(self.rest)?;
        self.rest = rest;
        match kind {
            // RFC 9293 §3.2: what follows End of Option List is padding.
            kind::END => {
                self.rest = &[];
                Ok(TcpOption::EndOfList)
            }
            kind::NOP => Ok(TcpOption::NoOp),
            _ => parse_body(kind, body),
        }
    }
}

/// The first option of non-empty `data`: its kind, its body (the bytes after kind and length;
/// empty for End of Option List and No-Operation, which have no length byte), and the bytes
/// after it.
#[inline]
fn split(data: &[u8]) -> Result<(u8, &[u8], &[u8])> {
    let (kind, len) = match data {
        [k @ (kind::END | kind::NOP), rest @ ..] => return Ok((*k, &[], rest)),
        [kind, len, ..] => (*kind, usize::from(*len)),
        _ => return Err(Error::Malformed),
    };
    // RFC 9293 §3.2 MUST-7: be prepared for an illegal option length (e.g. zero).
    if len < 2 || len > data.len() {
        return Err(Error::Malformed);
    }
    Ok((kind, &data[2..len], &data[len..]))
}

impl Iterator for TcpOptions<'_> {
    type Item = Result<TcpOption>;

    fn next(&mut self) -> Option<Result<TcpOption>> {
        if self.rest.is_empty() {
            return None;
        }
        let option = self.next_option();
        if option.is_err() {
            self.rest = &[];
        }
        Some(option)
    }
}

impl FusedIterator for TcpOptions<'_> {}

/// Decodes the bytes after kind and length; a known kind must have its exact length.
#[inline]
fn parse_body(kind: u8, body: &[u8]) -> Result<TcpOption> {
    let option = match (kind, body) {
        (kind::MSS, &[a, b]) => TcpOption::Mss(u16::from_be_bytes([a, b])),
        (kind::WINDOW_SCALE, &[shift]) => TcpOption::WindowScale(shift),
        (kind::SACK_PERMITTED, &[]) => TcpOption::SackPermitted,
        (kind::SACK, _) => TcpOption::Sack(parse_sack(body)?),
        (kind::TIMESTAMPS, &[a, b, c, d, e, f, g, h]) => TcpOption::Timestamps {
            tsval: u32::from_be_bytes([a, b, c, d]),
            tsecr: u32::from_be_bytes([e, f, g, h]),
        },
        (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::TIMESTAMPS, _) => {
            return Err(Error::Malformed);
        }
        (kind, _) => TcpOption::Unknown { kind },
    };
    Ok(option)
}

/// RFC 2018 §3: `8n` bytes of edges, 1 <= n <= 4.
fn parse_sack(body: &[u8]) -> Result<SackBlocks> {
    if body.is_empty() || !body.len().is_multiple_of(8) || body.len() / 8 > SackBlocks::CAPACITY {
        return Err(Error::Malformed);
    }
    let mut blocks = SackBlocks::new();
    for b in body.chunks_exact(8) {
        let left = SeqNum(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let right = SeqNum(u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
        blocks.push((left, right));
    }
    Ok(blocks)
}

/// Applies the options in `bytes` to `repr` (which starts with none). `Malformed` on an illegal
/// option; unknown options are ignored; a repeated option overrides the earlier one.
pub(super) fn parse_into(bytes: &[u8], repr: &mut TcpRepr) -> Result<()> {
    // The iterator's steps without its `Option<Result<TcpOption>>` hand-offs (this runs for
    // every SYN).
    let mut rest = bytes;
    while !rest.is_empty() {
        let (kind, body, next) = split(rest)?;
        rest = next;
        match kind {
            kind::END => break,
            kind::NOP => {}
            _ => apply(parse_body(kind, body)?, repr),
        }
    }
    Ok(())
}

/// Sets the field of `repr` that `option` carries (End of Option List and No-Operation carry
/// none; the caller stops at the former).
#[inline]
fn apply(option: TcpOption, repr: &mut TcpRepr) {
    match option {
        TcpOption::EndOfList | TcpOption::NoOp | TcpOption::Unknown { .. } => {}
        TcpOption::Mss(mss) => repr.mss = Some(mss),
        // RFC 7323 §2.3: a shift above 14 MUST be logged and 14 used instead.
        TcpOption::WindowScale(shift) => repr.window_scale = Some(shift.min(14)),
        TcpOption::SackPermitted => repr.sack_permitted = true,
        TcpOption::Sack(blocks) => repr.sack = blocks,
        TcpOption::Timestamps { tsval, tsecr } => repr.timestamps = Some((tsval, tsecr)),
    }
}

/// The bytes of every option except SACK blocks (each piece a multiple of 4).
fn fixed_len(repr: &TcpRepr) -> usize {
    let mss = if repr.mss.is_some() { 4 } else { 0 };
    let ts_sackok = match (repr.timestamps.is_some(), repr.sack_permitted) {
        (true, _) => 12,
        (false, true) => 4,
        (false, false) => 0,
    };
    let ws = if repr.window_scale.is_some() { 4 } else { 0 };
    mss + ts_sackok + ws
}

/// How many of `repr.sack` fit next to the other options: `NOP NOP kind len` + 8 per block.
pub(super) fn sack_blocks_that_fit(repr: &TcpRepr) -> usize {
    let room = MAX_OPTIONS_LEN - fixed_len(repr);
    let fit = room.saturating_sub(4) / 8;
    repr.sack.len().min(fit)
}

/// The length of the options `emit` writes: a multiple of 4, at most 40.
pub(super) fn options_len(repr: &TcpRepr) -> usize {
    let n = sack_blocks_that_fit(repr);
    let sack = if n > 0 { 4 + 8 * n } else { 0 };
    fixed_len(repr) + sack
}

/// Writes the options into `buf` (exactly `options_len(repr)` bytes) in Linux's layout.
pub(super) fn emit(repr: &TcpRepr, buf: &mut [u8]) {
    let mut w = Writer { buf, at: 0 };
    if let Some(mss) = repr.mss {
        w.put(&[kind::MSS, 4]);
        w.put(&mss.to_be_bytes());
    }
    match (repr.timestamps, repr.sack_permitted) {
        (Some((tsval, tsecr)), sack_permitted) => {
            // Linux packs SACK-permitted into the two bytes a NOP pair would otherwise take.
            let lead = if sack_permitted {
                [kind::SACK_PERMITTED, 2]
            } else {
                [kind::NOP; 2]
            };
            w.put(&lead);
            w.put(&[kind::TIMESTAMPS, 10]);
            w.put(&tsval.to_be_bytes());
            w.put(&tsecr.to_be_bytes());
        }
        (None, true) => w.put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]),
        (None, false) => {}
    }
    if let Some(shift) = repr.window_scale {
        w.put(&[kind::NOP, kind::WINDOW_SCALE, 3, shift]);
    }
    let n = sack_blocks_that_fit(repr);
    if n > 0 {
        w.put(&[kind::NOP, kind::NOP, kind::SACK, (2 + 8 * n) as u8]);
        for (left, right) in repr.sack.iter().take(n) {
            w.put(&left.0.to_be_bytes());
            w.put(&right.0.to_be_bytes());
        }
    }
}

/// A cursor over the option area being written.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Vec<Result<TcpOption>> {
        TcpOptions::new(bytes).collect()
    }

    #[test]
    fn reads_linux_syn_options() {
        // MSS 1460, SACK permitted, TS val 0x9f3c2a51 ecr 0, NOP, window scale 7.
        let bytes = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0x9f, 0x3c, 0x2a, 0x51, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let options = collect(&bytes);
        assert_eq!(
            options,
            [
                Ok(TcpOption::Mss(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamps {
                    tsval: 0x9f3c2a51,
                    tsecr: 0
                }),
                Ok(TcpOption::NoOp),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    #[test]
    fn skips_unknown_and_stops_at_end() {
        // An unknown kind 30 (MPTCP) of length 4, a SACK block, then EOL and junk.
        let bytes = [
            30, 4, 0xaa, 0xbb, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0xff, 0xff,
        ];
        let mut blocks = SackBlocks::new();
        blocks.push((SeqNum(1), SeqNum(9)));
        assert_eq!(
            collect(&bytes),
            [
                Ok(TcpOption::Unknown { kind: 30 }),
                Ok(TcpOption::Sack(blocks)),
                Ok(TcpOption::EndOfList)
            ]
        );
    }

    #[test]
    fn illegal_lengths_are_malformed_once() {
        let cases: [&[u8]; 9] = [
            &[2],                // no length byte
            &[30, 0],            // length 0
            &[30, 1, 0],         // length 1
            &[30, 5, 0, 0],      // runs past the end
            &[2, 3, 0],          // MSS of length 3
            &[3, 4, 0, 0],       // window scale of length 4
            &[4, 3, 0],          // SACK permitted of length 3
            &[8, 6, 0, 0, 0, 0], // timestamps of length 6
            &[5, 3, 0],          // SACK not 8n + 2
        ];
        for bytes in cases {
            assert_eq!(collect(bytes), [Err(Error::Malformed)], "{bytes:?}");
        }
        assert_eq!(
            collect(&[1, 5, 2, 0]),
            [Ok(TcpOption::NoOp), Err(Error::Malformed)]
        );
        let mut five = vec![5, 42];
        five.resize(42, 0);
        assert_eq!(collect(&five), [Err(Error::Malformed)], "five SACK blocks");
    }

    /// What applying the iterator's options one by one gives (the reference for parse_into).
    fn via_iterator(bytes: &[u8]) -> Result<TcpRepr> {
        let mut r = TcpRepr::default();
        for option in TcpOptions::new(bytes) {
            match option? {
                TcpOption::EndOfList => break,
                option => apply(option, &mut r),
            }
        }
        Ok(r)
    }

    #[test]
    fn parse_into_agrees_with_the_iterator() {
        let cases: [&[u8]; 8] = [
            &[
                2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 20,
            ],
            &[1, 1, 8, 10, 0, 0, 1, 2, 0xff, 0, 0, 3],
            &[
                30, 4, 0xaa, 0xbb, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0xff, 0xff,
            ],
            &[1, 1, 8, 9, 0, 0, 1, 2, 0xff, 0, 0],
            &[0, 1, 8, 10, 0, 0, 1, 2, 0xff, 0, 0, 3],
            &[1, 5, 2, 0],
            &[2, 4, 1, 0, 2, 4, 2, 0],
            &[],
        ];
        for bytes in cases {
            let mut r = TcpRepr::default();
            let got = parse_into(bytes, &mut r).map(|()| r);
            assert_eq!(got, via_iterator(bytes), "{bytes:?}");
        }
        let mut r = TcpRepr::default();
        parse_into(cases[0], &mut r).unwrap();
        assert_eq!(
            (r.mss, r.sack_permitted, r.timestamps, r.window_scale),
            (Some(1460), true, Some((0x0102_0304, 0)), Some(14))
        );
    }

    #[test]
    fn sack_blocks_capacity_and_equality() {
        let mut a = SackBlocks::new();
        for i in 0..4 {
            assert!(a.push((SeqNum(i), SeqNum(i + 1))));
        }
        assert!(!a.push((SeqNum(9), SeqNum(10))));
        assert_eq!(a.len(), 4);
        let mut b = a;
        b.truncate(2);
        assert_eq!(
            b.iter().collect::<Vec<_>>(),
            [(SeqNum(0), SeqNum(1)), (SeqNum(1), SeqNum(2))]
        );
        a.clear();
        assert!(a.is_empty());
        b.clear();
        assert_eq!(a, b, "unused slots do not count");
        assert_eq!(format!("{b:?}"), "[]");
    }
}

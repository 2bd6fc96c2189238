//! TCP segment headers (RFC 9293 §3.1), their checksum over the IPv4 pseudo-header
//! (RFC 9293 §3.1 "Checksum"), and the header form the engine works with, [`TcpRepr`]. Options
//! are read and laid out in `tcp_options.rs`.
//!
//! Invariants of a checked packet: the buffer holds at least 20 bytes and the data offset is
//! between 5 and 15 words and within the buffer, so `options()` and `payload()` are in bounds.
//! The view's buffer is exactly the segment (the IPv4 payload): its length is the TCP length of
//! the pseudo-header.
//!
//! [`TcpRepr`] carries no payload: the payload stays in the packet buffer at offset
//! `header_len()`, so received data is queued without a copy (style-models §7.3). Parsing does
//! not check the checksum, which the NIC may have verified already; [`TcpPacket::verify_checksum`]
//! does it in software.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use super::checksum::{self, Checksum};
use super::seq::SeqNum;
use super::tcp_options::{self, SackBlocks};
use super::{Error, Field, Result, read_u16, read_u32, write_u16, write_u32};

/// The IP protocol number of TCP, for the pseudo-header.
const PROTOCOL_TCP: u8 = 6;

/// The control bits (RFC 9293 §3.1; ECE and CWR from RFC 3168 §6.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    pub const EMPTY: TcpFlags = TcpFlags(0);

    const NAMES: [(TcpFlags, &'static str); 8] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];

    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// At least one flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

/// `SYN|ACK`; `(empty)` when no flag is set.
impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(empty)");
        }
        let mut sep = "";
        for (flag, name) in TcpFlags::NAMES {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        Ok(())
    }
}

mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ: Field = 4..8;
    pub const ACK: Field = 8..12;
    /// Data offset in the high nibble; the low nibble is reserved.
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
    pub const OPTIONS: usize = 20;
}

/// A view of a TCP segment (header and payload).
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const MIN_HEADER_LEN: usize = field::OPTIONS;
    /// Data offset 15.
    pub const MAX_HEADER_LEN: usize = 60;

    /// Wraps a buffer without checks: getters may panic on a short or inconsistent buffer.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a received segment, checking every length the getters rely on.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let packet = TcpPacket::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Truncated` under 20 bytes; `BadHeaderLen` for a data offset below 5 or a header that
    /// runs past the buffer (RFC 9293 §3.1 "Data Offset").
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::OPTIONS {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < field::OPTIONS || header_len > len {
            return Err(Error::BadHeaderLen);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    pub fn seq(&self) -> SeqNum {
        SeqNum(read_u32(self.buffer.as_ref(), field::SEQ))
    }

    pub fn ack(&self) -> SeqNum {
        SeqNum(read_u32(self.buffer.as_ref(), field::ACK))
    }

    /// The header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// The window field as sent, not scaled.
    pub fn window(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn urgent(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The option bytes (iterate them with [`super::TcpOptions`]).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// The checksum over the pseudo-header and the whole buffer (header and payload) verifies.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.compute(src, dst) == 0
    }

    /// The inverted sum over pseudo-header and buffer (0 for a buffer whose checksum verifies).
    fn compute(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut sum = Checksum::with_sum(checksum::pseudo_header(src, dst, PROTOCOL_TCP, len));
        sum.add(data);
        sum.finish()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_seq(&mut self, seq: SeqNum) {
        write_u32(self.buffer.as_mut(), field::SEQ, seq.0);
    }

    pub fn set_ack(&mut self, ack: SeqNum) {
        write_u32(self.buffer.as_mut(), field::ACK, ack.0);
    }

    /// Sets the data offset to `len / 4` (a multiple of 4 from 20 to 60) and clears the
    /// reserved bits.
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }

    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    pub fn set_window(&mut self, window: u16) {
        write_u16(self.buffer.as_mut(), field::WINDOW, window);
    }

    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_urgent(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, v);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..end]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes and stores the checksum over the pseudo-header and the whole buffer. For a
    /// segment whose payload sits in other mbufs, sum the pieces with [`Checksum`] instead.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let v = self.compute(src, dst);
        self.set_checksum(v);
    }
}

/// A TCP header as the engine sees it: fields and the options it understands, no payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// The window field as sent: scaling (RFC 7323 §2.3) is the connection's business.
    pub window: u16,
    pub urgent: u16,
    /// RFC 9293 §3.7.1; only meaningful on a SYN.
    pub mss: Option<u16>,
    /// The shift count, at most 14 after `parse` (RFC 7323 §2.3); only meaningful on a SYN.
    pub window_scale: Option<u8>,
    /// RFC 2018 §2; only meaningful on a SYN.
    pub sack_permitted: bool,
    pub sack: SackBlocks,
    /// `(TSval, TSecr)`, RFC 7323 §3.2.
    pub timestamps: Option<(u32, u32)>,
}

impl TcpRepr {
    /// Reads the header and options. Length errors as [`TcpPacket::check_len`]; `Malformed` for
    /// an illegal option (RFC 9293 §3.2 MUST-7). The checksum is not checked here.
    pub fn parse<T: AsRef<[u8]>>(packet: &TcpPacket<T>) -> Result<TcpRepr> {
        packet.check_len()?;
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq(),
            ack: packet.ack(),
            flags: packet.flags(),
            window: packet.window(),
            urgent: packet.urgent(),
            ..TcpRepr::default()
        };
        let opts = packet.options();
        // The layout nearly every segment of a connection with timestamps carries
        // (`NOP NOP TS`, RFC 7323 appendix A): read it directly, as Linux's
        // tcp_parse_aligned_timestamp does; anything else goes through the full parser.
        if opts.len() == 12 && opts[..4] == [1, 1, 8, 10] {
            let tsval = u32::from_be_bytes([opts[4], opts[5], opts[6], opts[7]]);
            let tsecr = u32::from_be_bytes([opts[8], opts[9], opts[10], opts[11]]);
            repr.timestamps = Some((tsval, tsecr));
            return Ok(repr);
        }
        tcp_options::parse_into(opts, &mut repr)?;
        Ok(repr)
    }

    /// 20 bytes plus the options `emit` writes: a multiple of 4, at most 60.
    pub fn header_len(&self) -> usize {
        field::OPTIONS + tcp_options::options_len(self)
    }

    /// Header plus `payload_len` bytes.
    pub fn buffer_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len
    }

    /// How many SACK blocks `emit` writes: the first ones of `sack` that fit in the 40 option
    /// bytes next to the other options (3 with timestamps alone, 2 with every SYN option).
    pub fn sack_blocks_emitted(&self) -> usize {
        tcp_options::sack_blocks_that_fit(self)
    }

    /// Writes the header and options into `buf[..header_len()]`, with a zero checksum: the
    /// caller fills it, in software over header and payload (see [`TcpPacket::fill_checksum`],
    /// [`Checksum`]), or with the pseudo-header sum alone for offload. SACK blocks that do not
    /// fit are left out (see [`TcpRepr::sack_blocks_emitted`]).
    ///
    /// # Panics
    /// If `buf` is shorter than `header_len()`.
    pub fn emit(&self, buf: &mut [u8]) {
        let header_len = self.header_len();
        let mut packet = TcpPacket::new_unchecked(&mut buf[..header_len]);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq(self.seq);
        packet.set_ack(self.ack);
        packet.set_header_len(header_len);
        packet.set_flags(self.flags);
        packet.set_window(self.window);
        packet.set_checksum(0);
        packet.set_urgent(self.urgent);
        tcp_options::emit(self, packet.options_mut());
    }

    /// A tcpdump-style line for this header carrying `payload_len` bytes of data.
    pub fn display(&self, payload_len: usize) -> impl fmt::Display + '_ {
        TcpLine {
            repr: self,
            payload_len,
        }
    }
}

/// Like tcpdump without `-S` relative numbers, for a header without data:
/// `47318 > 80: S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0,wscale 7>`.
impl fmt::Display for TcpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.display(0), f)
    }
}

struct TcpLine<'a> {
    repr: &'a TcpRepr,
    payload_len: usize,
}

impl fmt::Display for TcpLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.repr;
        write!(
            f,
            "{} > {}: {}",
            r.src_port,
            r.dst_port,
            flag_letters(r.flags)
        )?;
        if self.payload_len > 0
            || r.flags
                .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
        {
            let end = r.seq + self.payload_len as u32;
            write!(f, " {}:{}({})", r.seq, end, self.payload_len)?;
        }
        if r.flags.contains(TcpFlags::ACK) {
            write!(f, " ack {}", r.ack)?;
        }
        write!(f, " win {}", r.window)?;
        if r.flags.contains(TcpFlags::URG) {
            write!(f, " urg {}", r.urgent)?;
        }
        write_options(f, r)
    }
}

/// tcpdump's letters: S F R P, W (CWR), E (ECE), or `.` when none of them is set.
fn flag_letters(flags: TcpFlags) -> String {
    let letters = [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::CWR, 'W'),
        (TcpFlags::ECE, 'E'),
    ];
    let s: String = letters
        .iter()
        .filter(|(flag, _)| flags.contains(*flag))
        .map(|(_, c)| c)
        .collect();
    if s.is_empty() { ".".to_string() } else { s }
}

fn write_options(f: &mut fmt::Formatter<'_>, r: &TcpRepr) -> fmt::Result {
    let mut parts: Vec<String> = Vec::new();
    if let Some(mss) = r.mss {
        parts.push(format!("mss {mss}"));
    }
    if r.sack_permitted {
        parts.push("sackOK".to_string());
    }
    if let Some((tsval, tsecr)) = r.timestamps {
        parts.push(format!("TS val {tsval} ecr {tsecr}"));
    }
    if let Some(shift) = r.window_scale {
        parts.push(format!("wscale {shift}"));
    }
    if !r.sack.is_empty() {
        let blocks: Vec<String> = r.sack.iter().map(|(l, r)| format!("{{{l}:{r}}}")).collect();
        parts.push(format!("sack {} {}", r.sack.len(), blocks.join("")));
    }
    if parts.is_empty() {
        return Ok(());
    }
    write!(f, " <{}>", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A Linux SYN 10.0.0.1:47318 > 10.0.0.2:80 with MSS, SACK-permitted, TS and WS.
    const LINUX_SYN: [u8; 40] = [
        0xb8, 0xd6, 0x00, 0x50, 0x6b, 0x1e, 0x4c, 0x2d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0xff, 0x0c, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x9f, 0x3c,
        0x2a, 0x51, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn linux_syn_repr() -> TcpRepr {
        TcpRepr {
            src_port: 47318,
            dst_port: 80,
            seq: SeqNum(0x6b1e4c2d),
            flags: TcpFlags::SYN,
            window: 64240,
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((0x9f3c2a51, 0)),
            ..TcpRepr::default()
        }
    }

    #[test]
    fn parses_a_linux_syn() {
        let packet = TcpPacket::new_checked(&LINUX_SYN[..]).unwrap();
        assert_eq!((packet.src_port(), packet.dst_port()), (47318, 80));
        assert_eq!(packet.seq(), SeqNum(0x6b1e4c2d));
        assert_eq!(packet.ack(), SeqNum(0));
        assert_eq!(packet.header_len(), 40);
        assert_eq!(packet.flags(), TcpFlags::SYN);
        assert_eq!(packet.window(), 64240);
        assert_eq!(packet.checksum(), 0xff0c);
        assert_eq!(packet.urgent(), 0);
        assert_eq!(packet.options().len(), 20);
        assert!(packet.payload().is_empty());
        assert!(packet.verify_checksum(SRC, DST));
        assert!(!packet.verify_checksum(SRC, Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(TcpRepr::parse(&packet), Ok(linux_syn_repr()));
    }

    #[test]
    fn emits_the_linux_syn_layout() {
        let repr = linux_syn_repr();
        assert_eq!(repr.header_len(), 40);
        let mut buf = [0u8; 40];
        repr.emit(&mut buf);
        let mut packet = TcpPacket::new_checked(&mut buf[..]).unwrap();
        packet.fill_checksum(SRC, DST);
        assert_eq!(buf, LINUX_SYN);
    }

    #[test]
    fn rejects_bad_lengths_and_options() {
        assert_eq!(
            TcpPacket::new_checked(&LINUX_SYN[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&LINUX_SYN[..39]).unwrap_err(),
            Error::BadHeaderLen
        );
        let mut low = LINUX_SYN;
        low[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&low[..]).unwrap_err(),
            Error::BadHeaderLen
        );
        let mut bad_option = LINUX_SYN;
        bad_option[21] = 0; // MSS length 0
        let packet = TcpPacket::new_checked(&bad_option[..]).unwrap();
        assert_eq!(TcpRepr::parse(&packet), Err(Error::Malformed));
        let mut big_shift = LINUX_SYN;
        big_shift[39] = 200;
        let packet = TcpPacket::new_checked(&big_shift[..]).unwrap();
        assert_eq!(TcpRepr::parse(&packet).unwrap().window_scale, Some(14));
    }

    #[test]
    fn ack_with_timestamps_and_sack() {
        let mut sack = SackBlocks::new();
        for i in 1..=4u32 {
            sack.push((SeqNum(i * 1000), SeqNum(i * 1000 + 500)));
        }
        let repr = TcpRepr {
            flags: TcpFlags::ACK,
            timestamps: Some((5, 6)),
            sack,
            ..TcpRepr::default()
        };
        // NOP NOP TS (12) + NOP NOP SACK with 3 blocks (28): 40 bytes of options.
        assert_eq!((repr.header_len(), repr.sack_blocks_emitted()), (60, 3));
        let mut buf = [0u8; 64];
        repr.emit(&mut buf);
        assert_eq!(buf[20..24], [1, 1, 8, 10]);
        assert_eq!(buf[32..36], [1, 1, 5, 26]);
        let parsed = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        let mut expected = repr;
        expected.sack.truncate(3);
        assert_eq!(parsed, expected);
        let all = TcpRepr {
            mss: Some(1),
            window_scale: Some(1),
            sack_permitted: true,
            ..repr
        };
        assert_eq!((all.header_len(), all.sack_blocks_emitted()), (60, 2));
        let bare = TcpRepr {
            timestamps: None,
            ..repr
        };
        assert_eq!((bare.header_len(), bare.sack_blocks_emitted()), (56, 4));
    }

    #[test]
    fn checksum_covers_payload() {
        let repr = TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::PSH,
            ..linux_syn_repr()
        };
        let mut buf = vec![0u8; repr.buffer_len(5)];
        repr.emit(&mut buf);
        let header_len = repr.header_len();
        buf[header_len..].copy_from_slice(b"hello");
        let mut packet = TcpPacket::new_checked(&mut buf[..]).unwrap();
        packet.fill_checksum(SRC, DST);
        assert!(packet.verify_checksum(SRC, DST));
        assert_eq!(packet.payload(), b"hello");
        // The same sum from pieces, with an odd-length split, as mbuf segments give it.
        let mut c = Checksum::with_sum(checksum::pseudo_header(SRC, DST, 6, buf.len() as u32));
        c.add(&buf[..header_len + 3]).add(&buf[header_len + 3..]);
        assert_eq!(c.finish(), 0);
        buf[header_len] ^= 0x20;
        assert!(
            !TcpPacket::new_checked(&buf[..])
                .unwrap()
                .verify_checksum(SRC, DST)
        );
    }

    #[test]
    fn flags_and_display() {
        let flags = TcpFlags::SYN | TcpFlags::ACK;
        assert!(flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(format!("{flags:?}"), "SYN|ACK");
        assert_eq!(format!("{:?}", TcpFlags::EMPTY), "(empty)");
        assert_eq!(
            linux_syn_repr().to_string(),
            "47318 > 80: S 1797147693:1797147693(0) win 64240 \
             <mss 1460,sackOK,TS val 2671520337 ecr 0,wscale 7>"
        );
        let ack = TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::PSH,
            ack: SeqNum(7),
            ..TcpRepr::default()
        };
        assert_eq!(
            ack.display(100).to_string(),
            "0 > 0: P 0:100(100) ack 7 win 0"
        );
        assert_eq!(
            TcpRepr {
                flags: TcpFlags::ACK,
                ..ack
            }
            .to_string(),
            "0 > 0: . ack 7 win 0"
        );
    }
}

//! Checksum and segmentation offloads, typed: the one place that turns the port's receive
//! verdicts into an enum ([`Pkt::rx_csum`]) and a transmit wish into `ol_flags` and
//! `tx_offload` ([`Pkt::request_tx_offload`]), by the rules of DPDK 22.11's `rte_mbuf_core.h`
//! and `rte_validate_tx_offload`.
//!
//! Receive: each layer's two flag bits (`RTE_MBUF_F_RX_IP_CKSUM_MASK`,
//! `RTE_MBUF_F_RX_L4_CKSUM_MASK`) mean UNKNOWN (no information), BAD, GOOD, or NONE (the
//! checksum field in the packet is not correct but the data's integrity was verified, as
//! virtio reports for a packet from a local guest). NONE is reported as
//! [`CsumVerdict::Good`]: the data is intact, and verifying the field in software would wrongly
//! fail. Whether the link is trusted (`DeviceCaps::trusted`) is the caller's business.
//!
//! Transmit rules enforced by [`TxRequest`] (a request that breaks one is refused and the mbuf
//! left unchanged):
//! - any offload sets `RTE_MBUF_F_TX_IPV4` or `RTE_MBUF_F_TX_IPV6` (the port must know the L3);
//! - the IP header checksum (`RTE_MBUF_F_TX_IP_CKSUM`) exists only for IPv4;
//! - TSO (`RTE_MBUF_F_TX_TCP_SEG`) is TCP only and implies the TCP checksum (`TCP_CKSUM` is set
//!   with it), needs `tso_segsz > 0` and `l4_len`, and for IPv4 also the IP checksum offload
//!   (every segment gets its own header; `rte_validate_tx_offload` refuses it otherwise);
//! - checksum offloads need `l2_len` and `l3_len` (for IPv6, `l3_len` counts the extension
//!   headers); the lengths must fit the packed `tx_offload` fields (7, 9, 8 and 16 bits).
//!
//! What the caller still does in the headers (the port's side of the contract): the L4
//! checksum field holds the pseudo-header sum (`rte_ipv4_phdr_cksum` / `rte_ipv6_phdr_cksum`),
//! which leaves out the length when segmenting; with the IPv4 checksum offloaded, the IP
//! checksum field is 0.

use std::fmt;

use super::{Pkt, TxOffload};
use dpdk_sys as sys;

/// What the port says about one layer's checksum of a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CsumVerdict {
    /// Verified good (DPDK's GOOD, or NONE: data verified, field not meaningful).
    Good,
    /// Verified bad: drop the frame.
    Bad,
    /// The port did not check (UNKNOWN): verify in software.
    Unknown,
}

impl CsumVerdict {
    /// The verdict encoded in `flags & mask`, given the GOOD and BAD values of that field.
    fn from_bits(flags: u64, mask: u64, good: u64, bad: u64) -> CsumVerdict {
        match flags & mask {
            0 => CsumVerdict::Unknown,
            f if f == bad => CsumVerdict::Bad,
            // GOOD, or NONE (both bits): the integrity of the data was verified.
            f if f == good || f == mask => CsumVerdict::Good,
            _ => CsumVerdict::Unknown,
        }
    }
}

/// The port's receive checksum verdicts for a frame, per layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RxCsum {
    /// The IPv4 header checksum (IPv6 has none: the port reports Unknown or Good).
    pub ip: CsumVerdict,
    /// The TCP or UDP checksum.
    pub l4: CsumVerdict,
}

impl RxCsum {
    /// The verdicts encoded in a received mbuf's `ol_flags`.
    pub fn from_ol_flags(flags: u64) -> RxCsum {
        RxCsum {
            ip: CsumVerdict::from_bits(
                flags,
                sys::RTE_MBUF_F_RX_IP_CKSUM_MASK,
                sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                sys::RTE_MBUF_F_RX_IP_CKSUM_BAD,
            ),
            l4: CsumVerdict::from_bits(
                flags,
                sys::RTE_MBUF_F_RX_L4_CKSUM_MASK,
                sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                sys::RTE_MBUF_F_RX_L4_CKSUM_BAD,
            ),
        }
    }
}

/// The transport whose checksum the port is asked to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp,
    Udp,
}

/// What a frame asks of the port on transmit. `TxRequest::default()` asks for nothing (IPv4,
/// no offload). See the module documentation for the rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TxRequest {
    /// The packet is IPv6 (else IPv4).
    pub ipv6: bool,
    /// Have the port compute the IPv4 header checksum. IPv4 only.
    pub ipv4_cksum: bool,
    /// Have the port compute this transport checksum.
    pub l4_cksum: Option<L4>,
    /// Have the port cut the TCP payload into segments of this size (TSO); 0 for none.
    pub tso_segsz: u16,
    /// Bytes of link-layer header (14 for Ethernet; at most 127).
    pub l2_len: u8,
    /// Bytes of IP header, IPv6 extension headers included (at most 511).
    pub l3_len: u16,
    /// Bytes of TCP header, options included (needed for TSO).
    pub l4_len: u8,
}

/// Why a [`TxRequest`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxRequestError {
    /// IPv6 has no header checksum to offload.
    IpCksumOnIpv6,
    /// TSO segments TCP only (`l4_cksum` was `Some(Udp)`).
    TsoNotTcp,
    /// IPv4 TSO needs the IP checksum offload too (`rte_validate_tx_offload`).
    Ipv4TsoWithoutIpCksum,
    /// An offload needs this length and it is zero (or below the smallest header).
    MissingLength(&'static str),
    /// This length does not fit its `tx_offload` field.
    LengthTooLarge(&'static str),
}

impl fmt::Display for TxRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxRequestError::IpCksumOnIpv6 => write!(f, "IPv6 has no header checksum to offload"),
            TxRequestError::TsoNotTcp => write!(f, "TSO segments TCP only"),
            TxRequestError::Ipv4TsoWithoutIpCksum => {
                write!(f, "IPv4 TSO needs the IPv4 checksum offload as well")
            }
            TxRequestError::MissingLength(what) => {
                write!(f, "the offload needs {what}, which is missing or too small")
            }
            TxRequestError::LengthTooLarge(what) => {
                write!(f, "{what} does not fit the mbuf's tx_offload field")
            }
        }
    }
}

impl std::error::Error for TxRequestError {}

/// The `ol_flags` bits that [`Pkt::request_tx_offload`] owns: cleared, then set as requested.
pub(super) const TX_REQUEST_BITS: u64 = sys::RTE_MBUF_F_TX_IPV4
    | sys::RTE_MBUF_F_TX_IPV6
    | sys::RTE_MBUF_F_TX_IP_CKSUM
    | sys::RTE_MBUF_F_TX_L4_MASK
    | sys::RTE_MBUF_F_TX_TCP_SEG;

/// Smallest IPv4, IPv6, TCP and Ethernet headers.
const IPV4_MIN: u16 = 20;
const IPV6_MIN: u16 = 40;
const TCP_MIN: u8 = 20;
const ETH_MIN: u8 = 14;

impl TxRequest {
    /// Whether any offload is asked for.
    pub fn any(&self) -> bool {
        self.ipv4_cksum || self.l4_cksum.is_some() || self.tso_segsz > 0
    }

    /// The transmit `ol_flags` bits and `tx_offload` lengths this request becomes, or why it
    /// cannot be made. [`Pkt::request_tx_offload`] applies them.
    pub fn encode(&self) -> Result<(u64, TxOffload), TxRequestError> {
        if !self.any() {
            return Ok((0, TxOffload::default()));
        }
        let tso = self.tso_segsz > 0;
        if self.ipv6 && self.ipv4_cksum {
            return Err(TxRequestError::IpCksumOnIpv6);
        }
        if tso && self.l4_cksum == Some(L4::Udp) {
            return Err(TxRequestError::TsoNotTcp);
        }
        if tso && !self.ipv6 && !self.ipv4_cksum {
            return Err(TxRequestError::Ipv4TsoWithoutIpCksum);
        }
        if self.l2_len > 0x7f {
            return Err(TxRequestError::LengthTooLarge("l2_len"));
        }
        if self.l3_len > 0x1ff {
            return Err(TxRequestError::LengthTooLarge("l3_len"));
        }
        if self.l2_len < ETH_MIN {
            return Err(TxRequestError::MissingLength("l2_len"));
        }
        if self.l3_len < if self.ipv6 { IPV6_MIN } else { IPV4_MIN } {
            return Err(TxRequestError::MissingLength("l3_len"));
        }
        if tso && self.l4_len < TCP_MIN {
            return Err(TxRequestError::MissingLength("l4_len"));
        }
        let mut flags = if self.ipv6 {
            sys::RTE_MBUF_F_TX_IPV6
        } else {
            sys::RTE_MBUF_F_TX_IPV4
        };
        if self.ipv4_cksum {
            flags |= sys::RTE_MBUF_F_TX_IP_CKSUM;
        }
        flags |= match (self.l4_cksum, tso) {
            (Some(L4::Tcp), _) | (None, true) => sys::RTE_MBUF_F_TX_TCP_CKSUM,
            (Some(L4::Udp), _) => sys::RTE_MBUF_F_TX_UDP_CKSUM,
            (None, false) => 0,
        };
        if tso {
            flags |= sys::RTE_MBUF_F_TX_TCP_SEG;
        }
        let lens = TxOffload {
            l2_len: self.l2_len,
            l3_len: self.l3_len,
            l4_len: self.l4_len,
            tso_segsz: self.tso_segsz,
        };
        Ok((flags, lens))
    }
}

impl Pkt {
    /// The port's verdicts on this received frame's IP and L4 checksums (from `ol_flags`).
    pub fn rx_csum(&self) -> RxCsum {
        RxCsum::from_ol_flags(self.ol_flags())
    }

    /// Asks the port for the offloads in `req`: sets the head's transmit offload flags
    /// (`RTE_MBUF_F_TX_IPV4`/`IPV6`/`IP_CKSUM`/`TCP_CKSUM`/`UDP_CKSUM`/`TCP_SEG`, replacing any
    /// set before; other `ol_flags` bits are kept) and its `tx_offload` lengths. A request for
    /// nothing clears them. On error nothing changes. The port must have the offloads enabled
    /// (`DeviceCaps::tx`); the headers must be prepared as the module documentation says.
    pub fn request_tx_offload(&mut self, req: TxRequest) -> Result<(), TxRequestError> {
        let (flags, lens) = req.encode()?;
        let kept = self.ol_flags() & !TX_REQUEST_BITS;
        self.set_ol_flags(kept | flags);
        self.set_tx_offload(lens);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP_GOOD: u64 = sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    const IP_BAD: u64 = sys::RTE_MBUF_F_RX_IP_CKSUM_BAD;
    const L4_GOOD: u64 = sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    const L4_BAD: u64 = sys::RTE_MBUF_F_RX_L4_CKSUM_BAD;

    fn verdicts(flags: u64) -> (CsumVerdict, CsumVerdict) {
        let c = RxCsum::from_ol_flags(flags);
        (c.ip, c.l4)
    }

    #[test]
    fn rx_verdicts_follow_the_two_bit_fields() {
        use CsumVerdict::*;
        assert_eq!(verdicts(0), (Unknown, Unknown));
        // What net_tap reported for a good and a bad frame from the kernel (note §3).
        assert_eq!(verdicts(0x180), (Good, Good));
        assert_eq!(verdicts(0x88), (Good, Bad));
        assert_eq!(verdicts(IP_BAD | L4_GOOD), (Bad, Good));
        // NONE (both bits): data verified, field not meaningful.
        assert_eq!(verdicts(IP_GOOD | IP_BAD | L4_GOOD | L4_BAD), (Good, Good));
        // Other bits do not matter.
        let noise = !(sys::RTE_MBUF_F_RX_IP_CKSUM_MASK | sys::RTE_MBUF_F_RX_L4_CKSUM_MASK);
        assert_eq!(verdicts(noise), (Unknown, Unknown));
        assert_eq!(verdicts(noise | IP_BAD | L4_BAD), (Bad, Bad));
    }

    fn v4_tcp() -> TxRequest {
        TxRequest {
            ipv4_cksum: true,
            l4_cksum: Some(L4::Tcp),
            l2_len: 14,
            l3_len: 20,
            l4_len: 32,
            ..TxRequest::default()
        }
    }

    #[test]
    fn nothing_requested_encodes_to_nothing() {
        assert_eq!(TxRequest::default().encode(), Ok((0, TxOffload::default())));
        // Lengths alone ask for nothing.
        let lens_only = TxRequest {
            ipv4_cksum: false,
            l4_cksum: None,
            ..v4_tcp()
        };
        assert_eq!(lens_only.encode(), Ok((0, TxOffload::default())));
    }

    #[test]
    fn ipv4_checksums_and_tso_set_the_dpdk_flags() {
        let (flags, lens) = v4_tcp().encode().unwrap();
        assert_eq!(
            flags,
            sys::RTE_MBUF_F_TX_IPV4 | sys::RTE_MBUF_F_TX_IP_CKSUM | sys::RTE_MBUF_F_TX_TCP_CKSUM
        );
        assert_eq!(
            (lens.l2_len, lens.l3_len, lens.l4_len, lens.tso_segsz),
            (14, 20, 32, 0)
        );
        let tso = TxRequest {
            tso_segsz: 1448,
            ..v4_tcp()
        };
        let (flags, lens) = tso.encode().unwrap();
        assert_eq!(
            flags,
            sys::RTE_MBUF_F_TX_IPV4
                | sys::RTE_MBUF_F_TX_IP_CKSUM
                | sys::RTE_MBUF_F_TX_TCP_CKSUM
                | sys::RTE_MBUF_F_TX_TCP_SEG
        );
        assert_eq!(lens.tso_segsz, 1448);
        // TSO implies the TCP checksum even when l4_cksum is left out.
        let implied = TxRequest {
            l4_cksum: None,
            ..tso
        };
        assert_eq!(implied.encode().unwrap().0, flags);
        // Only the IP checksum: no L4 bits.
        let ip_only = TxRequest {
            l4_cksum: None,
            ..v4_tcp()
        };
        assert_eq!(
            ip_only.encode().unwrap().0,
            sys::RTE_MBUF_F_TX_IPV4 | sys::RTE_MBUF_F_TX_IP_CKSUM
        );
    }

    #[test]
    fn ipv6_sets_ipv6_and_never_the_ip_checksum() {
        let v6 = TxRequest {
            ipv6: true,
            ipv4_cksum: false,
            l3_len: 40,
            tso_segsz: 1428,
            ..v4_tcp()
        };
        let (flags, _) = v6.encode().unwrap();
        assert_eq!(
            flags,
            sys::RTE_MBUF_F_TX_IPV6 | sys::RTE_MBUF_F_TX_TCP_CKSUM | sys::RTE_MBUF_F_TX_TCP_SEG
        );
        assert_eq!(
            TxRequest {
                ipv4_cksum: true,
                ..v6
            }
            .encode(),
            Err(TxRequestError::IpCksumOnIpv6)
        );
        assert_eq!(
            TxRequest { l3_len: 20, ..v6 }.encode(),
            Err(TxRequestError::MissingLength("l3_len"))
        );
        let udp = TxRequest {
            l4_cksum: Some(L4::Udp),
            tso_segsz: 0,
            l4_len: 0,
            ..v6
        };
        assert_eq!(
            udp.encode().unwrap().0,
            sys::RTE_MBUF_F_TX_IPV6 | sys::RTE_MBUF_F_TX_UDP_CKSUM
        );
    }

    #[test]
    fn requests_dpdk_would_refuse_are_refused() {
        let tso = TxRequest {
            tso_segsz: 1448,
            ..v4_tcp()
        };
        assert_eq!(
            TxRequest {
                ipv4_cksum: false,
                ..tso
            }
            .encode(),
            Err(TxRequestError::Ipv4TsoWithoutIpCksum)
        );
        assert_eq!(
            TxRequest {
                l4_cksum: Some(L4::Udp),
                ..tso
            }
            .encode(),
            Err(TxRequestError::TsoNotTcp)
        );
        assert_eq!(
            TxRequest { l4_len: 0, ..tso }.encode(),
            Err(TxRequestError::MissingLength("l4_len"))
        );
        assert_eq!(
            TxRequest { l2_len: 0, ..tso }.encode(),
            Err(TxRequestError::MissingLength("l2_len"))
        );
        assert_eq!(
            TxRequest { l2_len: 128, ..tso }.encode(),
            Err(TxRequestError::LengthTooLarge("l2_len"))
        );
        assert_eq!(
            TxRequest { l3_len: 512, ..tso }.encode(),
            Err(TxRequestError::LengthTooLarge("l3_len"))
        );
    }
}

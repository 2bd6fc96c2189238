//! Option negotiation as pure functions: what our SYN offers and what the two SYNs agree on
//! (RFC 9293 §3.7.1 MSS, RFC 7323 window scale and timestamps, RFC 2018 SACK-permitted).
//!
//! Nothing here touches a TCB or sends anything: `handshake` applies the results.

use super::segment::PathCaps;
use super::types::TcpConfig;
use crate::wire::TcpRepr;

/// The MSS assumed when the peer's SYN carries none (RFC 9293 §3.7.1, RFC 1122 §4.2.2.6):
/// 536 over IPv4 (576-byte datagrams less 40), and over IPv6 the minimum MTU of 1,280
/// (RFC 8200 §5) less the 40-byte IPv6 and 20-byte TCP headers: 1,220.
pub const fn default_mss(ipv6: bool) -> u16 {
    if ipv6 { 1220 } else { 536 }
}

/// Bytes of the timestamp option in every segment once negotiated (10 + 2 NOPs).
pub const TS_OPTION_LEN: u16 = 12;

/// The TCP header without options.
pub const TCP_HEADER_LEN: u16 = 20;

/// The smallest MSS we accept from a peer or offer (Linux's `TCP_MIN_MSS` is 88; 64 keeps
/// room for tiny test links).
const MIN_MSS: u16 = 64;

/// The MSS we advertise on a path: its largest segment less the TCP header, clamped by the
/// configuration (RFC 9293 §3.7.1: based on the MTU, not on any option).
pub fn our_mss(path: &PathCaps, clamp: Option<u16>) -> u16 {
    let mss = path.max_segment.saturating_sub(TCP_HEADER_LEN).max(MIN_MSS);
    clamp.map_or(mss, |c| mss.min(c))
}

/// The smallest window-scale shift that lets the window field express `rcvbuf`, but at least
/// 7 (Linux's usual value, leaving room to grow the buffer later), at most 14 (RFC 7323 §2.3).
pub fn wscale_for(rcvbuf: u32) -> u8 {
    let mut s = 0u8;
    while s < 14 && (rcvbuf >> s) > u32::from(u16::MAX) {
        s += 1;
    }
    s.max(7)
}

/// What the two SYNs agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// Payload bytes per segment we send: the smaller of both MSS values, less the option
    /// bytes every segment carries.
    pub snd_mss: u16,
    /// Shift of the peer's window field (0 when scaling is off).
    pub snd_wscale: u8,
    /// Shift of our window field (0 when scaling is off).
    pub rcv_wscale: u8,
    /// Both sides send timestamps: the peer's SYN TSval, to echo.
    pub ts_recent: Option<u32>,
    pub sack: bool,
    /// The peer's window, in bytes (a SYN's window is never scaled, RFC 7323 §2.2).
    pub snd_wnd: u32,
}

/// Negotiates from the peer's SYN (or SYN-ACK) `peer`, given the MSS we advertise and the
/// window-scale shift we offer, over IPv6 or IPv4 (for the default MSS).
pub fn negotiate(
    cfg: &TcpConfig,
    rcv_mss: u16,
    rcv_wscale: u8,
    peer: &TcpRepr,
    ipv6: bool,
) -> Agreed {
    let peer_mss = peer.mss.unwrap_or(default_mss(ipv6)).max(MIN_MSS);
    // RFC 7323 §2.2: scaling only when both sides offer it; §2.3: a shift above 14 is 14.
    let (snd_wscale, rcv_wscale) = match (cfg.window_scaling, peer.window_scale) {
        (true, Some(shift)) => (shift.min(14), rcv_wscale),
        _ => (0, 0),
    };
    let ts_recent = peer
        .timestamps
        .filter(|_| cfg.timestamps)
        .map(|(tsval, _)| tsval);
    let opt = if ts_recent.is_some() {
        TS_OPTION_LEN
    } else {
        0
    };
    Agreed {
        snd_mss: peer_mss.min(rcv_mss).saturating_sub(opt).max(32),
        snd_wscale,
        rcv_wscale,
        ts_recent,
        sack: cfg.sack && peer.sack_permitted,
        snd_wnd: u32::from(peer.window),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(mss: Option<u16>, ws: Option<u8>, ts: bool, sack: bool) -> TcpRepr {
        TcpRepr {
            mss,
            window_scale: ws,
            timestamps: ts.then_some((77, 0)),
            sack_permitted: sack,
            window: 29200,
            ..TcpRepr::default()
        }
    }

    #[test]
    fn everything_offered_is_agreed() {
        let a = negotiate(
            &TcpConfig::default(),
            1460,
            7,
            &syn(Some(1460), Some(9), true, true),
            false,
        );
        assert_eq!(
            a,
            Agreed {
                snd_mss: 1448,
                snd_wscale: 9,
                rcv_wscale: 7,
                ts_recent: Some(77),
                sack: true,
                snd_wnd: 29200,
            }
        );
    }

    #[test]
    fn missing_mss_defaults_by_family() {
        let cfg = TcpConfig::default();
        let bare = syn(None, None, false, false);
        assert_eq!(negotiate(&cfg, 1460, 7, &bare, false).snd_mss, 536);
        assert_eq!(negotiate(&cfg, 1440, 7, &bare, true).snd_mss, 1220);
        // Our own MSS bounds it too.
        assert_eq!(negotiate(&cfg, 1000, 7, &bare, true).snd_mss, 1000);
    }

    #[test]
    fn scaling_needs_both_sides_and_is_capped_at_14() {
        let cfg = TcpConfig::default();
        let a = negotiate(&cfg, 1460, 7, &syn(Some(1460), None, false, false), false);
        assert_eq!((a.snd_wscale, a.rcv_wscale), (0, 0));
        let a = negotiate(
            &cfg,
            1460,
            7,
            &syn(Some(1460), Some(200), false, false),
            false,
        );
        assert_eq!((a.snd_wscale, a.rcv_wscale), (14, 7));
        let off = TcpConfig {
            window_scaling: false,
            timestamps: false,
            sack: false,
            ..TcpConfig::default()
        };
        let a = negotiate(&off, 1460, 7, &syn(Some(1460), Some(9), true, true), false);
        assert_eq!(
            (a.snd_wscale, a.rcv_wscale, a.ts_recent, a.sack),
            (0, 0, None, false)
        );
        assert_eq!(a.snd_mss, 1460);
    }

    #[test]
    fn our_mss_follows_the_path_and_the_clamp() {
        assert_eq!(our_mss(&PathCaps::plain(1500, 20), None), 1460);
        assert_eq!(our_mss(&PathCaps::plain(1500, 40), None), 1440);
        assert_eq!(our_mss(&PathCaps::plain(1500, 20), Some(1000)), 1000);
        assert_eq!(our_mss(&PathCaps::plain(60, 20), None), 64);
    }

    #[test]
    fn wscale_covers_the_buffer() {
        assert_eq!(wscale_for(65_535), 7);
        assert_eq!(wscale_for(1 << 20), 7);
        assert_eq!(wscale_for(1 << 24), 9);
        assert_eq!(wscale_for(u32::MAX), 14);
    }
}

//! The TCP layer's public vocabulary: handles, events, errors, configuration and
//! per-connection options.
//!
//! Defaults follow ARCHITECTURE decision 10 (low latency): no Nagle, no delayed ACK (ACKs are
//! still coalesced within one poll: one ACK per connection per received burst), every poll
//! flushes. [`ConnOptions::linux_like`] gives Linux's defaults instead.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::congestion::CcKind;
use super::flow::FourTuple;
use super::rtt::RttConfig;
use super::slab::Handle;
use super::state::State;
use crate::rss::FlowSteer;

/// A connection, as the application holds it. Stale after `close`/`abort`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub(crate) Handle);

impl ConnId {
    /// A small dense index (below `TcpConfig::max_connections`), unique among the live
    /// connections of one stack: applications can index their own per-connection state by
    /// it instead of hashing the handle. A later connection may reuse the index.
    pub fn index(self) -> u32 {
        self.0.index
    }
}

/// A listening port: a listener slot and its generation, so a handle kept after `unlisten`
/// never names a later listener in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// What happened, for the application to act on. Readiness events are edge-triggered: read
/// (or write) until `WouldBlock` to re-arm them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// An active open completed: the connection is established.
    Connected(ConnId),
    /// The listener's accept queue went from empty to non-empty.
    Acceptable(ListenerId),
    /// Data arrived, or the peer closed its side (a read returns `Ok(0)`), or an error is
    /// pending.
    Readable(ConnId),
    /// Send-buffer space freed after a send came up short.
    Writable(ConnId),
    /// The connection is over: `None` after a graceful close of both sides, else why it ended.
    /// The handle stays valid until the application calls `close`.
    Closed(ConnId, Option<TcpError>),
}

/// Errors of the TCP API, with messages a user can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TcpError {
    #[error("connection refused: the peer answered the SYN with a reset (nothing listens there)")]
    Refused,
    #[error("connection reset by the peer")]
    Reset,
    #[error("connection timed out: the peer stopped answering")]
    TimedOut,
    #[error("would block: no data to read or no room to send; wait for the readiness event")]
    WouldBlock,
    #[error("invalid connection handle (already closed, or never opened on this core)")]
    InvalidHandle,
    #[error("the connection is not established yet")]
    NotConnected,
    #[error("the sending side is shut down")]
    Shutdown,
    #[error("port {0} is in use on this stack (a listener, or a connection to the same peer)")]
    AddrInUse(u16),
    #[error("no free ephemeral port toward this peer (all in use or in TIME_WAIT)")]
    NoPorts,
    #[error("connection table full: raise TcpConfig::max_connections")]
    TableFull,
    #[error("no route to host: off-link address and no gateway configured")]
    NoRoute,
    #[error("address not available: connect from one of the stack's own addresses")]
    AddrNotAvailable,
    #[error("mbuf pool exhausted: raise the pool sizes or read received data faster")]
    NoBufs,
}

/// Keepalive settings (RFC 1122 §4.2.3.6; Linux's defaults are 7200 s, 75 s, 9).
///
/// Times are kept in whole milliseconds in 32 bits (every connection carries a copy in its
/// options: 12 bytes instead of 40); up to 49 days, longer ones are clamped (Linux takes whole
/// seconds, at most 32,767 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    idle_ms: u32,
    interval_ms: u32,
    /// Unanswered probes before the connection is declared dead.
    pub probes: u8,
}

impl Keepalive {
    /// Probes after `idle` without a segment from the peer, every `interval`, `probes` of
    /// them unanswered before the connection is declared dead.
    pub const fn new(idle: Duration, interval: Duration, probes: u8) -> Keepalive {
        Keepalive {
            idle_ms: ms_u32(idle),
            interval_ms: ms_u32(interval),
            probes,
        }
    }

    /// Idle time before the first probe.
    pub const fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms as u64)
    }

    /// Time between unanswered probes.
    pub const fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms as u64)
    }
}

/// `d` in whole milliseconds, clamped to `u32::MAX`.
const fn ms_u32(d: Duration) -> u32 {
    let ms = d.as_millis();
    if ms > u32::MAX as u128 {
        u32::MAX
    } else {
        ms as u32
    }
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive::new(Duration::from_secs(7200), Duration::from_secs(75), 9)
    }
}

/// Explicit Congestion Notification (RFC 3168) for a connection, as Linux's `tcp_ecn` sysctl
/// chooses it (0, 2, 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EcnMode {
    /// Neither ask for ECN nor accept it: an ECN-setup SYN gets a SYN-ACK without ECE.
    Off,
    /// Accept ECN when the peer's SYN asks for it (RFC 3168 §6.1.1), never ask: Linux's
    /// default (`tcp_ecn=2`).
    #[default]
    Accept,
    /// Ask for ECN on active opens (an ECN-setup SYN: ECE and CWR) and accept it on passive
    /// ones (`tcp_ecn=1`).
    On,
}

/// Per-connection options (set at connect/accept time or changed later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnOptions {
    /// Disable Nagle's algorithm (RFC 896): send small segments at once.
    pub nodelay: bool,
    /// Hold partial segments until uncorked (Linux TCP_CORK).
    pub cork: bool,
    /// Delay ACKs up to `TcpConfig::delayed_ack` (RFC 1122 §4.2.3.2, RFC 5681 §4.2).
    pub delayed_ack: bool,
    /// Keepalive probes (off when `None`).
    pub keepalive: Option<Keepalive>,
    /// Send buffer limit, bytes of payload queued (sent and unsent).
    pub sndbuf: u32,
    /// Receive buffer limit, bytes held (in order and out of order); sets the window.
    pub rcvbuf: u32,
    /// Congestion control of this connection (`None`: the stack's `TcpConfig::congestion`).
    /// Taken when the connection is opened (connect, or the listener's options for an
    /// accepted one); changing it later with `set_options` does not switch algorithms.
    pub congestion: Option<CcKind>,
    /// ECN (RFC 3168): asked for on active opens with [`EcnMode::On`], accepted on passive
    /// opens unless [`EcnMode::Off`]. Read when the connection opens (a listener's options
    /// decide for its children).
    pub ecn: EcnMode,
}

impl Default for ConnOptions {
    /// Low latency: no Nagle, no delayed ACK, 1 MiB buffers; ECN accepted, not asked for.
    fn default() -> Self {
        ConnOptions {
            nodelay: true,
            cork: false,
            delayed_ack: false,
            keepalive: None,
            sndbuf: 1 << 20,
            rcvbuf: 1 << 20,
            congestion: None,
            ecn: EcnMode::Accept,
        }
    }
}

impl ConnOptions {
    /// Linux's defaults: Nagle on, delayed ACKs on.
    pub fn linux_like() -> Self {
        ConnOptions {
            nodelay: false,
            delayed_ack: true,
            ..ConnOptions::default()
        }
    }
}

/// Configuration of one core's TCP layer.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Most connections (all states, TIME_WAIT included) this core holds. A bound, not a
    /// reservation: the tables grow as connections open (`tcp::slab`).
    pub max_connections: usize,
    /// Options new connections start with.
    pub default_options: ConnOptions,
    /// Length of TIME_WAIT, 2·MSL (RFC 9293 §3.4.2; Linux: 60 s).
    pub time_wait: Duration,
    /// Orphaned FIN_WAIT_2 lifetime (Linux tcp_fin_timeout: 60 s).
    pub fin_timeout: Duration,
    /// Active opens may reuse a 4-tuple in TIME_WAIT this long after it entered TIME_WAIT, if
    /// both sides used timestamps (PAWS then rejects old duplicates; Linux tcp_tw_reuse).
    /// `None` disables reuse.
    pub tw_reuse_after: Option<Duration>,
    /// RTO bounds and initial value (RFC 6298).
    pub rtt: RttConfig,
    /// SYN retransmissions before connect fails (Linux tcp_syn_retries: 6).
    pub syn_retries: u8,
    /// SYN-ACK retransmissions before a half-open connection is dropped (Linux: 5).
    pub synack_retries: u8,
    /// Retransmissions of data before the connection times out (Linux tcp_retries2: 15).
    pub max_retries: u8,
    /// Delayed-ACK timeout when delayed ACKs are on (Linux: 40 ms minimum).
    pub delayed_ack: Duration,
    /// Segments acknowledged at once after the handshake before ACKs may be delayed
    /// (Linux quickack mode).
    pub quickack_segments: u8,
    /// Offer and accept timestamps (RFC 7323).
    pub timestamps: bool,
    /// Offer and accept selective acknowledgments (RFC 2018).
    pub sack: bool,
    /// Offer and accept window scaling (RFC 7323); our shift follows `rcvbuf`.
    pub window_scaling: bool,
    /// Clamp on the MSS we advertise and use (None: the MTU's).
    pub mss_clamp: Option<u16>,
    /// Congestion control of connections whose options name none (default: CUBIC).
    pub congestion: CcKind,
    /// Ephemeral port range (Linux: 32768–60999).
    pub ephemeral_ports: RangeInclusive<u16>,
    /// Out-of-order segments held per connection before new ones are dropped: a floor; a
    /// connection may always hold two per MSS of its receive buffer (`input::max_ooo_segments`).
    pub max_ooo_segments: usize,
    /// Timer-wheel tick.
    pub timer_tick: Duration,
    /// Minimum interval between ACKs answering data-less out-of-window segments, per
    /// connection (RFC 5961 §7; Linux tcp_invalid_ratelimit: 500 ms).
    pub oow_ack_interval: Duration,
    /// Multi-core steering: this core's view of flow ownership (`crate::rss::FlowSteer`); active
    /// opens choose a local port whose flow it says is this core's, so replies come back here.
    /// `Stack::set_steering` sets it from the steering mesh.
    pub steering: Option<FlowSteer>,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_connections: 65_536,
            default_options: ConnOptions::default(),
            time_wait: Duration::from_secs(60),
            fin_timeout: Duration::from_secs(60),
            tw_reuse_after: Some(Duration::from_secs(1)),
            rtt: RttConfig::default(),
            syn_retries: 6,
            synack_retries: 5,
            max_retries: 15,
            delayed_ack: Duration::from_millis(40),
            quickack_segments: 16,
            timestamps: true,
            sack: true,
            window_scaling: true,
            mss_clamp: None,
            congestion: CcKind::default(),
            ephemeral_ports: 32768..=60999,
            max_ooo_segments: 512,
            timer_tick: Duration::from_micros(100),
            oow_ack_interval: Duration::from_millis(500),
            steering: None,
        }
    }
}

/// A snapshot of one connection's state, for diagnostics and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnInfo {
    pub state: State,
    pub tuple: FourTuple,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Effective send MSS (payload bytes per segment).
    pub mss: u16,
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    /// Peer's window, scaled, in bytes.
    pub snd_wnd: u32,
    /// Window we advertise, in bytes.
    pub rcv_wnd: u32,
    pub cwnd: u32,
    pub ssthresh: u32,
    /// The congestion control algorithm, as Linux spells it (`cubic`, `reno`).
    pub congestion: &'static str,
    pub srtt: Option<Duration>,
    pub rto: Duration,
    pub timestamps: bool,
    pub sack: bool,
    /// ECN negotiated (RFC 3168 §6.1.1).
    pub ecn: bool,
    /// Our and the peer's window-scale shifts.
    pub rcv_wscale: u8,
    pub snd_wscale: u8,
    pub unsent_bytes: usize,
    pub unacked_bytes: usize,
    pub readable_bytes: usize,
    pub retransmits: u64,
}

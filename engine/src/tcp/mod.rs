//! TCP (RFC 9293), one instance per core, run to completion.
//!
//! ```text
//!                 listen                         connect
//!   CLOSED ───────────────► LISTEN     CLOSED ─────────────► SYN-SENT
//!   LISTEN ──rcv SYN/snd SYN,ACK──► SYN-RECEIVED ◄──rcv SYN── SYN-SENT   (simultaneous open)
//!   SYN-RECEIVED ──rcv ACK of SYN──► ESTABLISHED ◄──rcv SYN,ACK/snd ACK── SYN-SENT
//!   ESTABLISHED ──close/snd FIN──► FIN-WAIT-1 ──rcv ACK of FIN──► FIN-WAIT-2 ──rcv FIN──► TIME-WAIT
//!   FIN-WAIT-1 ──rcv FIN──► CLOSING ──rcv ACK of FIN──► TIME-WAIT ──2·MSL──► CLOSED
//!   ESTABLISHED ──rcv FIN──► CLOSE-WAIT ──close/snd FIN──► LAST-ACK ──rcv ACK of FIN──► CLOSED
//! ```
//!
//! Where each part lives (and the RFC it implements):
//! The core stops at the segment (ARCHITECTURE decision 13): [`segment`] is its whole boundary.
//! Segments come in parsed ([`segment::Segment`], IPv4 or IPv6 addresses, the header as a
//! `TcpRepr`, the payload mbufs) and go out to a [`segment::SegmentSink`] the layer below
//! implements (the IP layer for a stack, an in-memory sink in tests). Nothing in `tcp/` names
//! a device, a neighbour table, an Ethernet or IP header, or a DPDK constant.
//!
//! Where each part lives (and the RFC it implements), top to bottom (each module uses only
//! modules below it):
//! - [`layer`]: the per-core `Tcp`: demux to connections and listeners, timers, reaping,
//!   events; [`api`]: what applications call (on `Tcp`);
//! - [`listen`]: passive opens (RFC 9293 §3.10.7.2); [`timeout`]: RTO, delayed ACK, persist,
//!   keepalive, TIME_WAIT, FIN_WAIT_2;
//! - [`input`]: segment arrival, one function per step of RFC 9293 §3.10.7; [`ack`]: the ACK
//!   step, RTT (RFC 6298), NewReno recovery (RFC 5681, RFC 6582);
//! - [`handshake`]: creating a TCB, SYN and SYN-ACK; [`output`]: `write_xmit` and its gates
//!   (congestion window, peer window, Nagle, cork), ACKs, probes and RSTs;
//! - [`ecn`]: Explicit Congestion Notification (RFC 3168): negotiation, the CE echo, the window
//!   reduction and CWR, called from `handshake`, `input`, `ack` and `output`;
//! - [`ctx`]: the per-core context (`Shared`, `Out`) and the operations every step needs:
//!   `set_state` (every state change, and the gauges), timers, pending output, events,
//!   `close_tcb`;
//! - vocabulary and building blocks: [`segment`] (the boundary), [`options`] (negotiation, pure
//!   functions), [`tcb`], [`state`], [`types`] (handles, events, errors, options, config),
//!   [`listener`], [`events`] (the bounded event queue), [`send_queue`], [`recv_queue`],
//!   [`timer`], [`rtt`], [`congestion`], [`isn`] (RFC 6528), [`ports`] (RFC 6056),
//!   [`siphash`], [`slab`], [`spare`] (queue storage reused across connections), [`flow`],
//!   [`counters`], [`memory`] (pressure and hard limit).

pub mod ack;
pub mod api;
pub mod congestion;
pub mod counters;
pub mod ctx;
pub mod deque;
pub mod ecn;
pub mod events;
pub mod flow;
pub mod handshake;
pub mod input;
pub mod isn;
pub mod layer;
pub mod listen;
pub mod listener;
pub mod loss;
pub mod memory;
pub mod options;
pub mod output;
pub mod ports;
pub mod probe;
pub mod recovery;
pub mod recv_queue;
pub mod rtt;
pub mod segment;
pub mod send_queue;
pub mod siphash;
pub mod slab;
pub mod spare;
pub mod state;
pub mod tcb;
pub mod timeout;
pub mod timer;
pub mod types;

pub use counters::TcpCounters;
pub use ctx::Out;
pub use flow::FourTuple;
pub use layer::Tcp;
pub use segment::{Ecn, FlowId, LinkCaps, OutSegment, PathCaps, Segment, SegmentSink, TsoCaps};
pub use state::State;
pub use types::{
    ConnId, ConnInfo, ConnOptions, EcnMode, Event, Keepalive, ListenerId, TcpConfig, TcpError,
};

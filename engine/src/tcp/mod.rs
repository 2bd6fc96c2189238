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
//! - [`layer`]: the per-core `Tcp` (connection slab, flow table, listeners, timer wheel, events),
//!   demux and reaping; [`listen`]: passive opens, SYN and accept queues;
//! - [`input`]: segment arrival, one function per step of RFC 9293 §3.10.7; [`ack`]: the ACK
//!   step, RTT (RFC 6298), NewReno recovery (RFC 5681, RFC 6582);
//! - [`output`]: `write_xmit` and its gates (congestion window, peer window, Nagle, cork), ACKs
//!   and RSTs; [`frame`]: headers on a clone of the queued payload (ARCHITECTURE decision 5),
//!   TSO and checksum offload (decision 6); [`template`]: a connection's header bytes, built
//!   once and patched per segment;
//! - [`timeout`]: RTO, delayed ACK, persist, keepalive, TIME_WAIT, FIN_WAIT_2;
//! - [`api`]: what applications call; [`types`]: handles, events, errors, options, config;
//! - building blocks: [`send_queue`], [`recv_queue`], [`timer`], [`rtt`], [`congestion`],
//!   [`isn`] (RFC 6528), [`ports`] (RFC 6056), [`slab`], [`spare`] (queue storage reused
//!   across connections), [`flow`], [`counters`], [`memory`] (pressure and hard limit).

pub mod ack;
pub mod api;
pub mod congestion;
pub mod counters;
pub mod flow;
pub mod frame;
pub mod handshake;
pub mod input;
pub mod isn;
pub mod layer;
pub mod listen;
pub mod memory;
pub mod output;
pub mod ports;
pub mod recv_queue;
pub mod rtt;
pub mod send_queue;
pub mod slab;
pub mod spare;
pub mod tcb;
pub mod template;
pub mod timeout;
pub mod timer;
pub mod types;

pub use counters::TcpCounters;
pub use flow::FourTuple;
pub use layer::{Out, Tcp};
pub use tcb::State;
pub use types::{ConnId, ConnInfo, ConnOptions, Event, Keepalive, ListenerId, TcpConfig, TcpError};

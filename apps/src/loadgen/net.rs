//! The small interface every workload is written against, once, and that both stacks
//! implement: the engine ([`super::engine::EngineNet`]) and Linux sockets
//! ([`super::kernel::KernelNet`]).
//!
//! A workload opens connections with a *token* (its own small slot index) and receives
//! [`NetEvent`]s carrying that token back, so its per-connection state lives in a `Vec` indexed
//! by token: no lookup structure of its own and no allocation per request.
//!
//! Readiness is edge-triggered on both stacks: after `Readable`, read until `WouldBlock` (or end
//! of file); after a short `send`, wait for `Writable`. A connection that failed reports it once,
//! either as `Closed(token, Some(kind))` or as an error from a call; the workload then releases
//! it with [`Net::close`] or [`Net::abort`], after which no event carries its token any more.

use std::fmt;

/// Why a connection failed, as the report groups errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrKind {
    /// The peer answered the SYN with a reset (nothing listens there).
    Refused,
    /// The connection was reset.
    Reset,
    /// The peer stopped answering (SYN or data retransmissions exhausted).
    TimedOut,
    /// No ephemeral port left toward the target (all in use or in TIME_WAIT).
    NoPorts,
    /// Anything else: the peer closed unexpectedly, a protocol error, a full table, no mbufs.
    Other,
}

impl ErrKind {
    /// Every kind, in report order.
    pub const ALL: [ErrKind; 5] = [
        ErrKind::Refused,
        ErrKind::Reset,
        ErrKind::TimedOut,
        ErrKind::NoPorts,
        ErrKind::Other,
    ];

    /// The name used in the JSON report and the table.
    pub fn name(self) -> &'static str {
        match self {
            ErrKind::Refused => "refused",
            ErrKind::Reset => "reset",
            ErrKind::TimedOut => "timed_out",
            ErrKind::NoPorts => "no_ports",
            ErrKind::Other => "other",
        }
    }

    /// Index into per-kind counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a `send` or `recv` that did not transfer data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoErr {
    /// Nothing to read, or no room to send: wait for the next readiness event.
    WouldBlock,
    /// The connection is dead; release it.
    Failed(ErrKind),
}

/// What happened to a connection, by the token it was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// The connection is established.
    Connected(u32),
    /// Data (or end of file, or an error) is waiting.
    Readable(u32),
    /// Send-buffer room freed after a short send.
    Writable(u32),
    /// The connection ended: `None` after a graceful close of both sides, else why.
    Closed(u32, Option<ErrKind>),
}

/// One core's network, as a workload sees it. All connections go to one target.
pub trait Net {
    /// The stack's connection handle.
    type Conn: Copy + fmt::Debug;

    /// Starts a connection to the target; its events carry `token`.
    fn connect(&mut self, token: u32) -> Result<Self::Conn, ErrKind>;

    /// Queues bytes for sending; returns how many were taken (may be fewer than offered).
    fn send(&mut self, c: Self::Conn, data: &[u8]) -> Result<usize, IoErr>;

    /// Copies received bytes into `buf`; `Ok(0)` is end of file.
    fn recv(&mut self, c: Self::Conn, buf: &mut [u8]) -> Result<usize, IoErr>;

    /// Consumes everything readable now without looking at it (the engine frees the mbufs,
    /// no copy). Returns the bytes consumed and whether end of file was reached.
    fn discard(&mut self, c: Self::Conn) -> Result<(usize, bool), ErrKind>;

    /// Shuts down the sending side (FIN after the queued data).
    fn shutdown(&mut self, c: Self::Conn);

    /// Releases the connection gracefully (FIN).
    fn close(&mut self, c: Self::Conn);

    /// Releases the connection with a reset.
    fn abort(&mut self, c: Self::Conn);
}

//! Loss recovery's algorithms and per-connection state, as plain data and pure functions over
//! the send queue; `tcp::loss` drives them from ACKs and timers (the split keeps this folder
//! free of the stack's context, so the TCB can hold its state without an import cycle).
//!
//! - Loss detection: with SACK, RACK (RFC 8985, [`rack`]) over the scoreboard the received
//!   SACK blocks fill ([`sack`], RFC 2018, RFC 2883), plus tail loss probes ([`tlp`]); without
//!   SACK, three duplicate ACKs (RFC 5681 §3.2) and NewReno partial ACKs (RFC 6582).
//! - States (Linux's `icsk_ca_state` names, `CaState`): Open; Recovery from the first loss
//!   detected until `snd.una` passes `recover` (the `snd.nxt` of that moment); Loss after an
//!   RTO, likewise.
//! - The reduction in Recovery is PRR's (RFC 6937, [`prr`]): `cwnd = pipe + sndcnt` on each
//!   ACK, `cwnd = ssthresh` at the end. The congestion controller only chooses `ssthresh`
//!   (`congestion`): it never learns how the loss was found.
//! - Undo ([`undo`]): a reduction shown spurious by D-SACK (RFC 3708), timestamps (RFC 3522,
//!   RFC 4015) or F-RTO (RFC 5682) is reverted.
//!
//! Invariant: nothing SACKed is ever marked lost (the scoreboard refuses it).

pub mod prr;
pub mod rack;
pub mod sack;
pub mod tlp;
pub mod undo;

use self::prr::Prr;
use self::rack::Rack;
use self::sack::SackState;
use self::tlp::Tlp;
use self::undo::Undo;

/// Duplicate ACKs (or SACKed segments) that signal a loss (RFC 5681 §3.2, RFC 6675 §2).
pub const DUPTHRESH: u32 = 3;

/// A connection's loss-recovery state beyond `CaState` and `recover` (kept in the TCB).
#[derive(Clone, Copy, Debug, Default)]
pub struct Recovery {
    pub rack: Rack,
    pub prr: Prr,
    pub sack: SackState,
    pub undo: Undo,
    pub tlp: Tlp,
    /// Where F-RTO (RFC 5682) is in judging the last RTO.
    pub frto: Frto,
}

impl Recovery {
    pub fn new() -> Recovery {
        Recovery {
            rack: Rack::new(),
            ..Recovery::default()
        }
    }
}

/// F-RTO's steps (RFC 5682 §3.1, SACK-enhanced as Linux has it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Frto {
    /// Not judging an RTO.
    #[default]
    Off,
    /// The RTO's retransmission is out; the next ACK that advances decides (step 2).
    AwaitAck,
    /// It was acknowledged: new data goes out instead of retransmissions, and the ACK after it
    /// judges the RTO (steps 2.b and 3).
    SendNew,
}

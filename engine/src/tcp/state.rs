//! The connection states of RFC 9293 §3.3.2 and the predicates the rest of `tcp` asks of them.
//!
//! A connection's state changes only through `ctx::set_state`, which also keeps the per-core
//! gauges (`TcpCurrEstab`, TIME-WAIT count): one place for a trace, a gauge or a freeze to hook.

/// The eleven states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    /// States in which data may still be sent (our FIN not yet queued).
    pub fn can_send(self) -> bool {
        matches!(self, State::Established | State::CloseWait)
    }

    /// States in which the peer may still send data (its FIN not yet received).
    pub fn can_receive(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }

    /// States in which queued data and FIN may be (re)transmitted.
    pub fn may_transmit(self) -> bool {
        matches!(
            self,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// The synchronized states (after the handshake), RFC 9293 §3.5.2.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

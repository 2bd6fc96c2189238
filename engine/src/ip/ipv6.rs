//! IPv6 input (RFC 8200). Placeholder until the IPv6 wire formats land: every IPv6 frame is
//! counted and dropped.

use super::IpLayer;
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::tcp::Segment;
use crate::time::Instant;
use crate::wire::MacAddr;

impl IpLayer {
    pub(super) fn ipv6_input(
        &mut self,
        _now: Instant,
        _frame: Pkt,
        _pools: &Pools,
        _tx: &mut TxBatch,
    ) -> Option<Segment> {
        self.counters.eth_in_unknown_type += 1;
        None
    }

    /// Whether we listen to the Ethernet multicast group `mac`.
    pub(super) fn wants_multicast(&self, _mac: MacAddr) -> bool {
        false
    }
}

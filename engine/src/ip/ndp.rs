//! Neighbor Discovery (RFC 4861). Placeholder until the IPv6 wire formats land.

use std::net::Ipv6Addr;

use super::{IpLayer, Ping};
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::wire::MacAddr;

impl IpLayer {
    pub(super) fn send_neighbor_solicitation(
        &mut self,
        _target: Ipv6Addr,
        _known: Option<MacAddr>,
        _pools: &Pools,
        _tx: &mut TxBatch,
    ) {
    }

    pub(super) fn send_unsolicited_na(
        &mut self,
        _ours: Ipv6Addr,
        _pools: &Pools,
        _tx: &mut TxBatch,
    ) {
    }

    pub(super) fn echo_request_v6(
        &mut self,
        _src: Ipv6Addr,
        _dst: Ipv6Addr,
        _dst_mac: MacAddr,
        _ping: Ping,
        _pools: &Pools,
    ) -> Option<Pkt> {
        None
    }
}

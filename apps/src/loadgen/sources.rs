//! Sizing an engine client for its connection count: the source addresses it connects from
//! (`--source-ips`), its connection table, and its pools.
//!
//! A TCP connection is named by its 4-tuple, so toward one target (one address and port) a
//! client address has only its ephemeral ports: 28,232 in Linux's default range
//! (32768-60999), and with `--cores N` each core may use only the ports that steer back to it,
//! a N-th of them. More connections need more client addresses: `--source-ips N` takes N
//! consecutive addresses from the first `--ip` of the target's family, and connection `t` of a
//! core connects from address `t mod N`. The embedded set-up computes N itself from `--conns`,
//! filling each address's ports to at most [`FILL`] (the port allocator walks past used ports,
//! and a nearly full range makes each walk long), and skips the embedded server's address.
//!
//! Invariants: every source address is on the first address's prefix (so the target's
//! neighbour resolution and the return route need nothing new), is unicast, and is not the
//! target's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

use engine::buf::{HDR_DATA_ROOM, HEADROOM, PoolSizes};
use engine::tcp::ports::DEFAULT_RANGE;

use crate::setup::{IpCidr, SetupError};

/// Share of an address's ephemeral ports the embedded set-up plans to use: 7/8.
pub const FILL: (usize, usize) = (7, 8);

/// Most source addresses: enough for 1,000,000 connections on one core at the default range
/// (about 41), with room for smaller `--local-ports` ranges.
pub const MAX_SOURCES: usize = 4096;

/// The ephemeral range a client core uses: `--local-ports`, else Linux's default.
pub fn port_range(local_ports: Option<(u16, u16)>) -> RangeInclusive<u16> {
    local_ports.map_or(DEFAULT_RANGE, |(lo, hi)| lo..=hi)
}

/// Source addresses one core needs for `conns` connections to one target with `range`
/// ports per address, of which it may use one in `cores` (steering).
pub fn needed(conns: usize, range: &RangeInclusive<u16>, cores: usize) -> usize {
    let ports = (usize::from(*range.end()) + 1).saturating_sub(usize::from(*range.start()));
    let usable = (ports / cores.max(1)) * FILL.0 / FILL.1;
    conns.div_ceil(usable.max(1)).max(1)
}

/// `n` consecutive addresses from `first`, skipping `skip` (the target), all on `first`'s
/// prefix. An error names the fix when they do not fit.
pub fn consecutive(first: IpCidr, n: usize, skip: IpAddr) -> Result<Vec<IpCidr>, SetupError> {
    if n == 0 || n > MAX_SOURCES {
        return Err(SetupError::Other(format!(
            "--source-ips {n}: give between 1 and {MAX_SOURCES} addresses"
        )));
    }
    let mut out = Vec::with_capacity(n);
    let mut k: u128 = 0;
    while out.len() < n {
        let Some(a) = nth_after(first.addr, k) else {
            break;
        };
        k += 1;
        let c = IpCidr::new(a, first.prefix_len);
        if a == skip {
            continue;
        }
        if !first.contains(a) || !unicast_host(a, &first) {
            break;
        }
        out.push(c);
    }
    if out.len() < n {
        return Err(SetupError::Other(format!(
            "--source-ips {n}: only {} addresses from {first} fit in its prefix (use a shorter \
             prefix, fewer addresses, or more --local-ports)",
            out.len()
        )));
    }
    Ok(out)
}

/// `a` plus `k`, in its family, if that does not overflow.
fn nth_after(a: IpAddr, k: u128) -> Option<IpAddr> {
    match a {
        IpAddr::V4(v) => {
            let k = u32::try_from(k).ok()?;
            v.to_bits()
                .checked_add(k)
                .map(|b| IpAddr::V4(Ipv4Addr::from_bits(b)))
        }
        IpAddr::V6(v) => v
            .to_bits()
            .checked_add(k)
            .map(|b| IpAddr::V6(Ipv6Addr::from_bits(b))),
    }
}

/// Not the broadcast address of an IPv4 prefix shorter than /31.
fn unicast_host(a: IpAddr, net: &IpCidr) -> bool {
    match a {
        IpAddr::V4(v) if net.prefix_len < 31 => {
            let host = u32::MAX >> net.prefix_len;
            v.to_bits() & host != host
        }
        _ => true,
    }
}

/// The client's addresses: `addrs` with the addresses after the first of `family`'s
/// family replaced by `n` consecutive ones from it (skipping `target`); also the list of
/// source addresses to connect from (empty when `n` is 1: the stack chooses).
pub fn with_sources(
    addrs: &[IpCidr],
    target: IpAddr,
    n: usize,
) -> Result<(Vec<IpCidr>, Vec<IpAddr>), SetupError> {
    let same = |c: &IpCidr| c.addr.is_ipv4() == target.is_ipv4();
    let Some(first) = addrs.iter().copied().find(same) else {
        return Err(SetupError::Other(format!(
            "--source-ips needs an --ip of the target's family ({target})"
        )));
    };
    if n <= 1 {
        return Ok((addrs.to_vec(), Vec::new()));
    }
    let sources = consecutive(first, n, target)?;
    let mut all: Vec<IpCidr> = addrs.iter().copied().filter(|c| !same(c)).collect();
    all.extend(sources.iter().copied());
    Ok((all, sources.iter().map(|c| c.addr).collect()))
}

/// A connection table for `conns` connections of one core: the default, or room for all
/// of them and an eighth more (connections closing while others open, TIME-WAIT).
pub fn max_connections(conns: usize, default: usize) -> usize {
    default.max(conns + conns / 8 + 1024)
}

/// Pools for a client core (and, embedded, its server core, which shares them) with
/// `conns` connections sending `request`-byte requests. Every connection holds payload at
/// all times: the client's request, copied by `send`, stays queued until the response
/// acknowledges it; the embedded echo server sends back the very mbuf the request arrived in
/// (a header mbuf, the request being small enough to be copied into its frame's header
/// mbuf), queued until the next request acknowledges it. A request that fits a header mbuf
/// is copied into one (`SendQueue::append`), so then the header pool grows by one mbuf per
/// connection (two embedded) and the data pool not at all; a larger request takes a data
/// mbuf. The rest is per frame in flight, bounded by the rings and TX batches.
pub fn pool_sizes(base: &PoolSizes, conns: usize, request: usize, embedded: bool) -> PoolSizes {
    let extra = u32::try_from(conns).unwrap_or(u32::MAX / 4);
    let small = request <= usize::from(HDR_DATA_ROOM) - HEADROOM;
    let (data, hdr) = match (small, embedded) {
        (true, true) => (0, extra.saturating_mul(2)),
        (true, false) => (0, extra),
        (false, true) => (extra, extra),
        (false, false) => (extra, 0),
    };
    PoolSizes {
        data: base.data.saturating_add(data),
        hdr: base.hdr.saturating_add(hdr),
        indirect: base.indirect,
    }
}

/// Bytes one mbuf of each pool takes, with its header and the mempool's own overhead
/// (rounded up: data room 2 KiB + headroom, 512 B header mbufs, data-less indirect ones).
const MBUF_BYTES: (u64, u64, u64) = (2560, 768, 256);

/// MiB of EAL memory `cores` sets of pools of `sizes` need, with room for the rest of the
/// EAL's own (rings, the ports' pools): `--memory-mb` is raised to this when it is less.
pub fn eal_memory_mb(sizes: &PoolSizes, cores: usize) -> u32 {
    let (d, h, i) = MBUF_BYTES;
    let bytes =
        u64::from(sizes.data) * d + u64::from(sizes.hdr) * h + u64::from(sizes.indirect) * i;
    let mb = bytes * cores as u64 / (1 << 20) + 512;
    u32::try_from(mb).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_per_core_cover_the_connections() {
        assert_eq!(needed(16, &DEFAULT_RANGE, 1), 1);
        assert_eq!(needed(28_000, &DEFAULT_RANGE, 1), 2);
        // 24,703 usable ports per address: 1,000,000 / 24,703 = 40.5.
        assert_eq!(needed(1_000_000, &DEFAULT_RANGE, 1), 41);
        assert_eq!(needed(3_000, &(40_000..=40_999), 1), 4);
        assert_eq!(needed(10_000, &DEFAULT_RANGE, 2), 1);
    }

    #[test]
    fn consecutive_addresses_skip_the_target_and_stay_on_the_prefix() {
        let first: IpCidr = "10.0.0.1/24".parse().unwrap();
        let target: IpAddr = "10.0.0.2".parse().unwrap();
        let got = consecutive(first, 3, target).unwrap();
        let want: Vec<IpAddr> = ["10.0.0.1", "10.0.0.3", "10.0.0.4"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got.iter().map(|c| c.addr).collect::<Vec<_>>(), want);
        // .1 to .254 less the target: 253 hosts; .255 is the broadcast address.
        assert!(consecutive(first, 253, target).is_ok());
        assert!(consecutive(first, 254, target).is_err());
        let v6: IpCidr = "fd00::1/64".parse().unwrap();
        let got = consecutive(v6, 2, "fd00::2".parse().unwrap()).unwrap();
        assert_eq!(got[1].addr, "fd00::3".parse::<IpAddr>().unwrap());
    }
}

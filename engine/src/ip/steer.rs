//! Steering of received frames between the stacks of one port (ARCHITECTURE decision 8), and
//! the control path that keeps every core's view of flow ownership the same.
//!
//! Each core's stack owns one receive queue. Who owns a flow is [`FlowSteer::owner_of`]
//! (`crate::rss`), the same function the active open asks when it chooses a source port:
//! - [`Spread::Nic`] and [`Spread::Software`]: a TCP segment (IPv4 or IPv6) belongs to the core
//!   its Toeplitz hash and redirection table name. On a port with RSS (key and table read back
//!   from it) frames already arrive there; on one that cannot steer (net_tap, af_packet: the
//!   kernel picks the queue) about `(N-1)/N` of them arrive elsewhere and are handed over.
//!   (With RSS, steering trusts the NIC and hashes nothing: it only looks overrides up.)
//!   ARP and Neighbor Discovery (ICMPv6 types 133–137: RS, RA, NS, NA, Redirect) reach every
//!   core: each keeps its own neighbour cache, so the receiving core hands a copy to each other.
//! - [`Spread::Sender`] (net_ring, memif: the peer chose the queue): everything stays where it
//!   arrived; the mesh only carries overrides.
//! - Overrides (a connection moved to another core) win in every mode.
//!
//! **Rings.** Between every ordered pair of cores there is one bounded lock-free queue of
//! [`Msg`] that the receiving core drains in its own poll, in order: frames handed over, ARP/ND
//! copies, and override updates. A full queue drops a frame and counts it; an override is
//! never dropped: it is refused up front when a queue lacks room ([`SteerError::Busy`]).
//!
//! **Overrides reach every core consistently.** `Stack::override_flow` / `clear_override` run
//! on the core that owns the flow at that moment (refused elsewhere: [`SteerError::NotOwner`]).
//! It updates its own view at once and queues the update to every other core. A core applies
//! it in its next drain, before any frame queued after it by the same core. Frames taken from
//! the rings are steered again by the receiving core's view, so a frame sent along by a core
//! whose view was still old goes through the issuing core (which knows) and reaches the new
//! owner after the update: at most three hops, none lost, and no core ever processes a frame of
//! a flow it does not own by its own view.
//!
//! Per frame nothing allocates except ARP/ND copies (an mbuf each); overrides allocate (their
//! message, each core's table entry) on the control path. A queue slot is two words.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::buf::{Mempool, Pkt};
use crate::rss::{FlowSteer, Spread};
use crate::tcp::FourTuple;
use crate::wire::{IpProtocol, walk_ext_headers};

/// Messages a cross-core queue holds.
pub const QUEUE_LEN: usize = 4096;

/// Which core a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Process it here.
    Here,
    /// Another core owns it.
    Core(u16),
    /// Every core wants it (ARP, Neighbor Discovery).
    All,
}

/// What one core hands another.
#[derive(Debug)]
pub enum Msg {
    /// A frame the sender does not own: steer it again by the receiver's view.
    Steered(Pkt),
    /// A copy of an ARP or ND frame: process it.
    Copy(Pkt),
    /// Set (`Some`) or clear (`None`) the owner of a flow (boxed: the control path may
    /// allocate, and the frames' slots stay two words).
    Override(Box<(FourTuple, Option<u16>)>),
}

/// Why an override was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SteerError {
    #[error("the stack is not part of a steering mesh (Stack::set_steering)")]
    NoMesh,
    #[error("there is no core {0}")]
    NoSuchCore(u16),
    #[error("core {owner} owns the flow: change its owner there")]
    NotOwner { owner: u16 },
    #[error("a cross-core queue is full: try again after a poll")]
    Busy,
}

type Queue = Arc<ArrayQueue<Msg>>;

/// One core's end of the steering mesh.
pub struct Steering {
    core: u16,
    cores: u16,
    /// The ownership view this core starts with (`Stack::set_steering` gives it to TCP).
    view: FlowSteer,
    /// `to[c]`: what this core hands to core `c` (None for itself).
    to: Vec<Option<Queue>>,
    /// `from[c]`: what core `c` handed to this core.
    from: Vec<Option<Queue>>,
    /// Frames dropped because a queue was full (or an ARP/ND copy could not be made).
    pub dropped: u64,
    /// Frames handed to other cores.
    pub forwarded: u64,
}

/// Builds the steering ends for `cores` stacks sharing one port whose frames reach queues as
/// `spread` says (e.g. `Port::spread()`); end `i` belongs to the stack on queue `i`.
pub fn mesh(cores: u16, spread: Spread) -> Vec<Steering> {
    let n = usize::from(cores);
    let queues: Vec<Vec<Option<Queue>>> = (0..n)
        .map(|a| {
            (0..n)
                .map(|b| (a != b).then(|| Arc::new(ArrayQueue::new(QUEUE_LEN))))
                .collect()
        })
        .collect();
    (0..n)
        .map(|c| Steering {
            core: c as u16,
            cores,
            view: FlowSteer::new(c as u16, spread.clone()),
            to: queues[c].clone(),
            from: (0..n).map(|a| queues[a][c].clone()).collect(),
            dropped: 0,
            forwarded: 0,
        })
        .collect()
}

/// What steering needs to know of a frame.
enum Kind {
    Tcp(FourTuple),
    Neighbor,
    Other,
}

/// Looks at `d` without full validation: a malformed frame is `Other` and stays where it
/// arrived, where the input path drops and counts it.
fn classify(d: &[u8]) -> Kind {
    match d.get(12..14) {
        Some([0x08, 0x06]) => Kind::Neighbor,
        Some([0x08, 0x00]) => classify_v4(d).unwrap_or(Kind::Other),
        Some([0x86, 0xdd]) => classify_v6(d).unwrap_or(Kind::Other),
        _ => Kind::Other,
    }
}

fn classify_v4(d: &[u8]) -> Option<Kind> {
    let ip = d.get(14..34)?;
    // A fragment carries no ports (or not in every piece): the IP layer drops it.
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if ip[9] != 6 || frag != 0 {
        return Some(Kind::Other);
    }
    let l4 = 14 + usize::from(ip[0] & 0x0f) * 4;
    let p = d.get(l4..l4 + 4)?;
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    Some(Kind::Tcp(flow(src, dst, p)))
}

fn classify_v6(d: &[u8]) -> Option<Kind> {
    let ip = d.get(14..54)?;
    // Extension headers are walked as the IP layer walks them (RFC 8200 §4); a fragment
    // carries no ports in every piece, and the IP layer drops it.
    let (proto, l4) = match ip[6] {
        6 | 58 => (ip[6], 54),
        nh => match walk_ext_headers(IpProtocol::from(nh), d.get(54..)?) {
            Ok(ext) if !ext.is_fragment() => (u8::from(ext.protocol), 54 + ext.offset),
            _ => return Some(Kind::Other),
        },
    };
    match proto {
        6 => {
            let p = d.get(l4..l4 + 4)?;
            let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?));
            let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).ok()?));
            Some(Kind::Tcp(flow(src, dst, p)))
        }
        // RFC 4861 §4: Router Solicitation 133 … Redirect 137.
        58 if (133..=137).contains(d.get(l4)?) => Some(Kind::Neighbor),
        _ => Some(Kind::Other),
    }
}

/// The engine's flow of a received segment from `src` to `dst` with ports `p`.
fn flow(src: IpAddr, dst: IpAddr, p: &[u8]) -> FourTuple {
    let sport = u16::from_be_bytes([p[0], p[1]]);
    let dport = u16::from_be_bytes([p[2], p[3]]);
    FourTuple::new((dst, dport), (src, sport))
}

impl Steering {
    pub fn core(&self) -> u16 {
        self.core
    }

    pub fn cores(&self) -> u16 {
        self.cores
    }

    /// The ownership view this end was built with.
    pub fn view(&self) -> &FlowSteer {
        &self.view
    }

    /// Which core owns `frame`, by `view` (this core's current one).
    pub fn owner(&self, frame: &Pkt, view: &FlowSteer) -> Owner {
        let sender = matches!(view.spread(), Spread::Sender);
        if sender && !view.has_overrides() {
            return Owner::Here;
        }
        let nic = matches!(view.spread(), Spread::Nic(_));
        let owner = match classify(frame.data()) {
            // The NIC already delivered by the hash: only an override can say otherwise.
            Kind::Tcp(f) if nic => view.override_of(&f),
            Kind::Tcp(f) => view.owner_of(&f),
            Kind::Neighbor if !sender => return Owner::All,
            Kind::Neighbor | Kind::Other => return Owner::Here,
        };
        match owner {
            Some(c) if c != self.core && c < self.cores => Owner::Core(c),
            _ => Owner::Here,
        }
    }

    /// Hands `frame` to core `c`; drops and counts it if that queue is full.
    pub fn forward(&mut self, c: u16, frame: Pkt) {
        if self.push(c, Msg::Steered(frame)) {
            self.forwarded += 1;
        }
    }

    /// Gives every other core a copy of `frame` (ARP, ND).
    pub fn broadcast(&mut self, frame: &Pkt, pool: &Mempool) {
        for c in 0..self.cores {
            if c == self.core {
                continue;
            }
            match frame.deep_copy(pool) {
                Some(copy) => {
                    self.push(c, Msg::Copy(copy));
                }
                None => self.dropped += 1,
            }
        }
    }

    /// Pushes `m` to core `c`; false (counted) when the queue is full or `c` is not a peer.
    fn push(&mut self, c: u16, m: Msg) -> bool {
        let ok = self
            .to
            .get(usize::from(c))
            .and_then(Option::as_ref)
            .is_some_and(|q| q.push(m).is_ok());
        if !ok {
            self.dropped += 1;
        }
        ok
    }

    /// Checks an override of `flow` to `core` (`None`: clear it) issued here against `view`.
    pub fn check_override(
        &self,
        view: &FlowSteer,
        flow: &FourTuple,
        core: Option<u16>,
    ) -> Result<(), SteerError> {
        if let Some(c) = core.filter(|&c| c >= self.cores) {
            return Err(SteerError::NoSuchCore(c));
        }
        if let Some(owner) = view.owner_of(flow).filter(|&o| o != self.core) {
            return Err(SteerError::NotOwner { owner });
        }
        let full = self.to.iter().flatten().any(|q| q.is_full());
        if full {
            return Err(SteerError::Busy);
        }
        Ok(())
    }

    /// Queues an override already checked by [`Steering::check_override`] to every other
    /// core (only this core pushes into its queues, so the room checked is still there).
    pub fn announce_override(&mut self, flow: FourTuple, core: Option<u16>) {
        for q in self.to.iter().flatten() {
            let pushed = q.push(Msg::Override(Box::new((flow, core)))).is_ok();
            debug_assert!(pushed, "room was checked");
        }
    }

    /// Moves up to `max` messages other cores handed us into `out`, each queue in order.
    pub fn drain(&mut self, out: &mut Vec<Msg>, max: usize) -> usize {
        let mut n = 0;
        for q in self.from.iter().flatten() {
            while n < max {
                match q.pop() {
                    Some(m) => {
                        out.push(m);
                        n += 1;
                    }
                    None => break,
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: [u8; 2], rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype);
        f.extend_from_slice(rest);
        f
    }

    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 40, 0, 0];
        ip.extend_from_slice(&frag.to_be_bytes());
        ip.extend_from_slice(&[64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&[0; 16]);
        eth([0x08, 0x00], &ip)
    }

    fn ip6(next: u8, src: Ipv6Addr, dst: Ipv6Addr, l4: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x60, 0, 0, 0, 0, l4.len() as u8, next, 64];
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&dst.octets());
        ip.extend_from_slice(l4);
        eth([0x86, 0xdd], &ip)
    }

    #[test]
    fn random_frames_never_panic() {
        let mut rng = crate::rand::Rng::new(4);
        for i in 0..20_000 {
            let len = rng.next_u32() as usize % 120;
            let mut f: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            if len >= 14 {
                let types = [[0x08, 0x00], [0x86, 0xdd], [0x08, 0x06]];
                f[12..14].copy_from_slice(&types[i % 3]);
                if i % 3 == 1 && len > 20 {
                    f[20] = [0, 6, 43, 44, 58, 60][i % 6];
                }
            }
            let _ = classify(&f);
        }
    }

    #[test]
    fn a_message_is_two_words() {
        assert!(std::mem::size_of::<Msg>() <= 16);
    }

    #[test]
    fn classifies_tcp_of_both_families_arp_and_nd() {
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 80, 40000, 0);
        let want = FourTuple::new(
            ("10.0.0.2".parse().unwrap(), 40000),
            ("10.0.0.1".parse().unwrap(), 80),
        );
        assert!(matches!(classify(&f), Kind::Tcp(t) if t == want));
        assert!(matches!(
            classify(&tcp4([10, 0, 0, 1], [10, 0, 0, 2], 80, 1, 0x2000)),
            Kind::Other
        ));
        let (a, b) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let mut l4 = 443u16.to_be_bytes().to_vec();
        l4.extend_from_slice(&50000u16.to_be_bytes());
        let want6 = FourTuple::new((IpAddr::V6(b), 50000), (IpAddr::V6(a), 443));
        assert!(matches!(classify(&ip6(6, a, b, &l4)), Kind::Tcp(t) if t == want6));
        // After a Destination Options header (8 bytes of PadN), as the IP layer accepts it.
        let mut opts = vec![6, 0, 1, 4, 0, 0, 0, 0];
        opts.extend_from_slice(&l4);
        assert!(matches!(classify(&ip6(60, a, b, &opts)), Kind::Tcp(t) if t == want6));
        // A first fragment (more to come): no ports to steer by in every piece.
        let frag = [6, 0, 0, 1, 0, 0, 0, 1, 1, 187, 195, 80];
        assert!(matches!(classify(&ip6(44, a, b, &frag)), Kind::Other));
        for ty in [133, 134, 135, 136, 137] {
            assert!(matches!(classify(&ip6(58, a, b, &[ty, 0])), Kind::Neighbor));
        }
        assert!(matches!(classify(&ip6(58, a, b, &[128, 0])), Kind::Other));
        assert!(matches!(
            classify(&eth([0x08, 0x06], &[0; 28])),
            Kind::Neighbor
        ));
        for cut in 0..f.len() {
            // Truncated frames never panic and never look like TCP.
            assert!(!matches!(classify(&f[..cut]), Kind::Tcp(_)) || cut >= 38);
        }
    }
}

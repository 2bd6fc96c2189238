//! Software steering of received frames between the stacks of one port (ARCHITECTURE
//! decision 8), for ports that cannot steer by themselves (net_tap and af_packet pick the rx
//! queue by a kernel hash that ignores which core opened the connection).
//!
//! The rule every core shares: a TCP segment whose local (destination) port lies in the
//! ephemeral range belongs to core `port % cores` — active opens choose such ports
//! (`TcpConfig::steering`). Anything else stays on the core that received it: passive opens
//! belong to the core that received the SYN, and the kernel's flow hash keeps delivering that
//! flow there. ARP is processed by every core (each keeps its own neighbour cache): the
//! receiving core hands a copy to each other core.
//!
//! Frames cross cores through bounded lock-free queues (one per ordered pair of cores) that the
//! owning core drains in its own poll; a full queue drops the frame and counts it. Nothing here
//! allocates per frame except the ARP copies.

use std::ops::RangeInclusive;
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::buf::{Mempool, Pkt};

/// Frames a cross-core queue holds.
pub const QUEUE_LEN: usize = 4096;

/// Which core a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Process it here.
    Here,
    /// Another core owns it.
    Core(u16),
    /// Every core wants it (ARP).
    All,
}

/// One core's end of the steering mesh.
pub struct Steering {
    core: u16,
    cores: u16,
    ephemeral: RangeInclusive<u16>,
    /// `to[c]`: frames this core hands to core `c` (None for itself).
    to: Vec<Option<Arc<ArrayQueue<Pkt>>>>,
    /// `from[c]`: frames core `c` handed to this core.
    from: Vec<Option<Arc<ArrayQueue<Pkt>>>>,
    /// Frames dropped because a queue was full (or an ARP copy could not be made).
    pub dropped: u64,
    /// Frames handed to other cores.
    pub forwarded: u64,
}

/// Builds the steering ends for `cores` stacks sharing one port.
pub fn mesh(cores: u16, ephemeral: RangeInclusive<u16>) -> Vec<Steering> {
    let n = usize::from(cores);
    let queues: Vec<Vec<Option<Arc<ArrayQueue<Pkt>>>>> = (0..n)
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
            ephemeral: ephemeral.clone(),
            to: queues[c].clone(),
            from: (0..n).map(|a| queues[a][c].clone()).collect(),
            dropped: 0,
            forwarded: 0,
        })
        .collect()
}

impl Steering {
    pub fn core(&self) -> u16 {
        self.core
    }

    pub fn cores(&self) -> u16 {
        self.cores
    }

    /// Which core owns `frame` (looked at without full validation: a malformed frame stays
    /// here, where the input path drops and counts it).
    pub fn owner(&self, frame: &Pkt) -> Owner {
        let d = frame.data();
        let ethertype = d.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match ethertype {
            Some(0x0806) => return Owner::All,
            Some(0x0800) => {}
            _ => return Owner::Here,
        }
        let Some(&ver_ihl) = d.get(14) else {
            return Owner::Here;
        };
        if d.get(23) != Some(&6) {
            return Owner::Here;
        }
        let l4 = 14 + usize::from(ver_ihl & 0x0f) * 4;
        let Some(p) = d.get(l4 + 2..l4 + 4) else {
            return Owner::Here;
        };
        let dport = u16::from_be_bytes([p[0], p[1]]);
        if !self.ephemeral.contains(&dport) {
            return Owner::Here;
        }
        match dport % self.cores {
            c if c == self.core => Owner::Here,
            c => Owner::Core(c),
        }
    }

    /// Hands `frame` to core `c`; drops and counts it if that queue is full.
    pub fn forward(&mut self, c: u16, frame: Pkt) {
        match self.to.get(usize::from(c)).and_then(Option::as_ref) {
            Some(q) => match q.push(frame) {
                Ok(()) => self.forwarded += 1,
                Err(_) => self.dropped += 1,
            },
            None => self.dropped += 1,
        }
    }

    /// Gives every other core a copy of `frame` (ARP).
    pub fn broadcast(&mut self, frame: &Pkt, pool: &Mempool) {
        for c in 0..self.cores {
            if c == self.core {
                continue;
            }
            match frame.deep_copy(pool) {
                Some(copy) => self.forward(c, copy),
                None => self.dropped += 1,
            }
        }
    }

    /// Moves up to `max` frames other cores handed us into `out`.
    pub fn drain(&mut self, out: &mut Vec<Pkt>, max: usize) -> usize {
        let mut n = 0;
        for q in self.from.iter().flatten() {
            while n < max {
                match q.pop() {
                    Some(p) => {
                        out.push(p);
                        n += 1;
                    }
                    None => break,
                }
            }
        }
        n
    }
}

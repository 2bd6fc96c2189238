//! Memory levels (ARCHITECTURE decision 11), after Linux's `tcp_mem`: the free share of the
//! payload pools decides how TCP treats new data.
//!
//! - **Normal**: no limit but the per-connection buffers.
//! - **Pressure** (fewer than 1/[`PRESSURE_FRACTION`] of the data or indirect pool free; Linux
//!   `tcp_mem[1]`): `send` takes no more bytes from the application and `Writable` waits for
//!   the level to drop (Linux `sk_stream_memory_free` / `sk_wmem_schedule`); windows do not
//!   grow (`tcp_clamp_window`); out-of-order payload that we alone hold is refused. Data inside
//!   the window already offered is still accepted: it is what lets the peer free its send
//!   queue and our reader make progress. Over net_ring (and any link that passes mbufs by
//!   reference) received payload is an indirect clone of the *sender's* mbuf, so refusing it
//!   frees nothing, and two stacks sharing a pool that both refuse wait for each other's ACKs
//!   forever.
//! - **Hard** (fewer than 1/[`HARD_FRACTION`] free; Linux `tcp_mem[2]`, where
//!   `tcp_try_rmem_schedule` fails and `tcp_prune_queue` drops): out-of-order queues are
//!   pruned, and received payload that is the only reference to its data room (a NIC's receive
//!   mbuf: dropping it returns the room at once) is dropped and counted; payload sharing its
//!   room with the sender is still accepted. Every ACK field is processed at every level.
//!
//! What stays below the hard line is the reserve for what must always go out: ACKs, window
//! updates, retransmissions (a header mbuf and an indirect clone of data already queued) and
//! control segments. Only `send` (a copy) allocates payload room on the application's behalf,
//! so `send` is the one gate; `send_pkt` queues mbufs that exist already (for an echo or a
//! proxy, the very mbufs just received) and allocates at most indirect clones, so refusing it
//! would free nothing.
//!
//! Pressure is noticed at allocation: every data mbuf drawn from the pool is charged to a
//! budget, half the room left above the pressure line when the pools were last counted (under
//! pressure, half the room above the hard line; at it, [`RECOUNT_FRAMES`]). The draws are
//! `send`'s copies and the received frames (each received frame made the port take a fresh
//! mbuf to refill its ring: `Stack` charges every burst, O(1)). When the budget is spent the
//! pools are counted again. So the pool cannot move from "normal" past the pressure line
//! between two counts by more than half the room that was left, nor from the hard line to
//! empty by more than a few bursts; the idle
//! re-count every `memory_check_every` polls (`Stack`) notices memory coming back. Counting
//! free mbufs walks every lcore cache, which is why it is not done per frame (Linux batches
//! `tcp_memory_allocated` per CPU for the same reason). Two stacks may share a pool, as the
//! embedded loadgen's do: each charges its own draws, and the budget halves the room for that.
//!
//! What stays below the hard line (1/32 of the pool) is the reserve the port refills its
//! receive ring from: at the hard line TCP keeps no payload that the pool would have to
//! supply, so ARP, ping, handshakes and ACKs always arrive (issue 10: fifty kernel
//! connections that never read their echo once emptied the pool and the tap could receive
//! nothing, forever).
//!
//! A connection holding almost nothing is still served under pressure, as Linux guarantees
//! every socket `tcp_rmem[0]` (`__sk_mem_raise_allocated`): in-order payload is accepted at
//! the hard line while its queues (receive and send: an echo moves received mbufs from the
//! one to the other) hold fewer than [`GUARANTEE_MBUFS`] mbufs, and the
//! window offered under pressure (`Tcb::select_window`) is a few segments rather than zero,
//! so a new connection can make progress while others hold the pool.
//!
//! At the hard line, out-of-order data is pruned across connections, largest holder first,
//! until a hard line's worth of mbufs is freed (Linux prunes the out-of-order queue first
//! under `tcp_mem` too, `tcp_prune_ofo_queue`; RFC 2018 §8 allows the receiver to renege on
//! SACKed data). Connections that store out-of-order data are listed as they do (a flag in
//! the TCB keeps each listed once; at most [`MAX_OOO_LISTED`], a list reserved at creation:
//! beyond it a connection is pruned only when its own segments arrive at the hard line).

use crate::buf::Pools;

/// Pressure starts when fewer than 1/8 of a payload pool's mbufs are free.
pub const PRESSURE_FRACTION: u32 = 8;
/// Received payload owned by us alone is dropped when fewer than 1/32 are free.
pub const HARD_FRACTION: u32 = 32;
/// Below `Normal`, frames received between two counts of the pools, at least.
pub const RECOUNT_FRAMES: u32 = 32;

/// Mbufs a connection's queues may hold whatever the level (Linux `tcp_rmem[0]`).
pub const GUARANTEE_MBUFS: usize = 8;

/// Full-sized segments of window offered under pressure to a connection holding less than
/// its guarantee.
pub const GUARANTEE_SEGMENTS: u32 = 4;

/// Connections with out-of-order data listed for pruning at most.
pub const MAX_OOO_LISTED: usize = 4096;

/// How scarce payload mbufs are (ordered: `Normal < Pressure < Hard`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemLevel {
    #[default]
    Normal,
    Pressure,
    Hard,
}

impl MemLevel {
    /// The level of one pool with `avail` of `cap` mbufs free.
    pub fn of(avail: u32, cap: u32) -> MemLevel {
        if avail < cap / HARD_FRACTION {
            MemLevel::Hard
        } else if avail < cap / PRESSURE_FRACTION {
            MemLevel::Pressure
        } else {
            MemLevel::Normal
        }
    }
}

/// A stack's memory state: the level, and how many data mbufs (and header mbufs for small
/// writes) `send` may still allocate before the pools must be counted again.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    pub level: MemLevel,
    /// Slab indices of connections that stored out-of-order data (see the module doc); an
    /// index may be stale (the connection's queue emptied, or another connection took the
    /// slot): pruning checks each.
    pub ooo_listed: Vec<u32>,
    budget: u32,
    /// Small writes `send` may still copy into header mbufs before the pools are counted
    /// again (see `evaluate`).
    small_budget: u32,
    /// A `send` was refused for memory since the last evaluation that found room: the next
    /// one that does must post `Writable` (the level may never have left `Normal`).
    pub refused: bool,
}

impl Memory {
    /// A memory state with its out-of-order list reserved.
    pub fn new() -> Memory {
        Memory {
            ooo_listed: Vec::with_capacity(MAX_OOO_LISTED),
            ..Memory::default()
        }
    }

    /// Lists connection `idx` as holding out-of-order data; false if the list is full.
    #[inline]
    pub fn list_ooo(&mut self, idx: u32) -> bool {
        if self.ooo_listed.len() >= MAX_OOO_LISTED {
            return false;
        }
        self.ooo_listed.push(idx);
        true
    }

    /// True at `Pressure` or `Hard`.
    pub fn under_pressure(&self) -> bool {
        self.level >= MemLevel::Pressure
    }

    /// Counts the free mbufs of the data and indirect pools (the two that hold payload; header
    /// mbufs are freed as soon as a frame is sent or parsed, or hold a small payload) and
    /// returns the new level. The budget is half the data mbufs left above the pressure line.
    ///
    /// `send` copies a small write into a header mbuf while the header pool is above its own
    /// pressure line, at most half the header mbufs above that line between two counts
    /// (`small_budget`, see [`Memory::take_small`]): small writes never take the header pool
    /// below the line, what is left there is for headers and control segments. The level is
    /// the payload pools' alone.
    pub fn evaluate(&mut self, pools: &Pools) -> MemLevel {
        let (data, hdr, indirect) = (&pools.data, &pools.hdr, &pools.indirect);
        let avail = data.available();
        self.level = MemLevel::of(avail, data.capacity())
            .max(MemLevel::of(indirect.available(), indirect.capacity()));
        let above = |n: u32, cap: u32| n.saturating_sub(cap / PRESSURE_FRACTION) / 2;
        (self.budget, self.small_budget) = match self.level {
            MemLevel::Normal => (
                above(avail, data.capacity()),
                above(hdr.available(), hdr.capacity()),
            ),
            // Received frames only (`send` allocates at `Normal` alone): half the room left
            // above the hard line, and at least a few bursts so that memory coming back is
            // noticed without a count per burst.
            MemLevel::Pressure => {
                let room = avail.saturating_sub(data.capacity() / HARD_FRACTION) / 2;
                (room.max(RECOUNT_FRAMES), 0)
            }
            MemLevel::Hard => (RECOUNT_FRAMES, 0),
        };
        self.level
    }

    /// Whether `send` may copy its next small write into a header mbuf (and counts it).
    #[inline]
    pub fn take_small(&mut self) -> bool {
        let ok = self.small_budget > 0;
        self.small_budget = self.small_budget.saturating_sub(1);
        ok
    }

    /// Whether `send` may allocate about `mbufs` data mbufs without looking at the pools.
    pub fn budget_covers(&self, mbufs: u32) -> bool {
        self.level == MemLevel::Normal && self.budget >= mbufs
    }

    /// Bytes `send` may copy now at `per_mbuf` bytes per data mbuf (0 under pressure).
    pub fn budget_bytes(&self, per_mbuf: usize) -> usize {
        match self.level {
            MemLevel::Normal => (self.budget as usize).saturating_mul(per_mbuf),
            _ => 0,
        }
    }

    /// Charges `mbufs` allocated by `send` to the budget.
    pub fn charge(&mut self, mbufs: u32) {
        self.budget = self.budget.saturating_sub(mbufs);
    }

    /// Charges `frames` received (each made the port draw a fresh mbuf) and says whether the
    /// pools must be counted now: the budget is spent (below `Normal` it is the room to the
    /// hard line, or [`RECOUNT_FRAMES`] at it, so both the next line and the way back are
    /// noticed without walking the lcore caches at every burst).
    #[inline]
    pub fn charge_rx(&mut self, frames: u32) -> bool {
        if self.budget < frames {
            self.budget = 0;
            return true;
        }
        self.budget -= frames;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_free_share() {
        assert_eq!(MemLevel::of(1024, 1024), MemLevel::Normal);
        assert_eq!(MemLevel::of(128, 1024), MemLevel::Normal);
        assert_eq!(MemLevel::of(127, 1024), MemLevel::Pressure);
        assert_eq!(MemLevel::of(32, 1024), MemLevel::Pressure);
        assert_eq!(MemLevel::of(31, 1024), MemLevel::Hard);
        assert_eq!(MemLevel::of(0, 1024), MemLevel::Hard);
    }

    #[test]
    fn the_budget_is_spent_then_refused() {
        let mut m = Memory::default();
        assert!(
            !m.budget_covers(1),
            "nothing is known before the first count"
        );
        m.budget = 10;
        assert!(m.budget_covers(10));
        m.charge(4);
        assert!(!m.budget_covers(7));
        m.level = MemLevel::Pressure;
        assert!(!m.budget_covers(0), "no budget under pressure");
    }

    #[test]
    fn received_frames_spend_the_budget_and_ask_for_a_count() {
        let mut m = Memory {
            budget: 40,
            ..Memory::default()
        };
        assert!(!m.charge_rx(32));
        assert!(m.charge_rx(32), "the budget is spent: count the pools");
        assert!(!m.budget_covers(1));
        m.budget = RECOUNT_FRAMES;
        m.level = MemLevel::Pressure;
        assert!(
            !m.charge_rx(RECOUNT_FRAMES),
            "under pressure a few bursts go by"
        );
        assert!(m.charge_rx(1), "then the pools are counted again");
    }
}

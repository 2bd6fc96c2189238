//! Timers as data: a per-core hierarchical timing wheel keyed by connection id, and a
//! per-connection [`TimerTable`] of deadlines (quinn's data-only timers, style-models §5, §7.4).
//!
//! # The wheel
//!
//! [`TimerWheel`] holds at most one entry per id (a `u32`, the connection's slab index). Its
//! nodes live in a `Vec` indexed by id and are linked into intrusive doubly linked slot lists,
//! so scheduling, re-scheduling and cancelling are O(1) and never allocate (the node table is
//! sized at creation; [`TimerWheel::ensure_capacity`] grows it on a configuration change).
//!
//! Time is cut into ticks (100 µs by default) counted from the `now` given at creation. There
//! are [`LEVELS`] levels of 64 slots; a slot of level `l` spans `64^l` ticks, so the levels
//! together cover `64^6` ticks (about 79 days at 100 µs). An entry sits in the lowest level
//! whose current window contains its deadline tick (the placement rule of Linux's and tokio's
//! wheels); when the wheel's clock reaches the start of a higher-level slot, that slot's entries
//! are re-cascaded into lower levels. Deadlines beyond the top level's window wait in an
//! overflow list (a one-slot seventh level) that is re-cascaded each time the clock enters a new
//! top-level window. Each entry is cascaded at most once per level: O(1) amortised.
//!
//! Invariants:
//! - `elapsed` (the wheel's clock, in ticks) only moves forward; every slot for an earlier tick
//!   is empty; an entry at level `l` agrees with `elapsed` on every bit above level `l`'s window.
//! - **Never early**: the entry's exact `Instant` is kept, and the slot of the current tick is
//!   compared exactly, so `poll(now)` reports precisely the ids whose deadline is `<= now`.
//! - **Never lost**: a deadline already in the past goes to the current tick's slot and fires at
//!   the next poll.
//! - `Instant::FAR_FUTURE` means "never": scheduling it cancels the entry.
//!
//! # The lazy protocol between a connection and the wheel
//!
//! A connection keeps all of its deadlines in its own [`TimerTable`]; the wheel only holds the
//! connection's earliest one. When a table deadline moves *later* (the common case: every ACK
//! pushes the RTO back), the wheel entry is left alone; it fires early, the connection runs
//! [`TimerTable::take_expired`] (which finds nothing due) and re-schedules itself for
//! [`TimerTable::next`]. When a deadline moves *earlier* than the wheel entry, the caller
//! re-schedules ([`TimerWheel::schedule_if_earlier`] does exactly that). This keeps the per-ACK
//! cost at one comparison. One exception (`ctx::set_timer`): arming TIME-WAIT, which comes
//! with every other deadline stopped, moves the entry to [`TimerTable::next`] even when that is
//! later, since the early fire would find nothing due at all.

use std::time::Duration;

use crate::time::Instant;

/// Bits of slot index per level (64 slots).
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// Number of 64-slot levels.
pub const LEVELS: usize = 6;
/// Ticks spanned by all levels: `64^LEVELS = 2^WHEEL_BITS`.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Index of the overflow list in `heads`, after the level slots.
const OVERFLOW: usize = LEVELS * SLOTS;
/// Pseudo-level number of the overflow list.
const OVERFLOW_LEVEL: usize = LEVELS;
/// End of a list; "not scheduled" in `Node::slot`.
const NIL: u32 = u32::MAX;

/// The default tick: 100 µs.
pub const DEFAULT_TICK: Duration = Duration::from_micros(100);

/// One id's entry: its exact deadline and its links in a slot list.
#[derive(Clone, Copy, Debug)]
struct Node {
    at: Instant,
    prev: u32,
    next: u32,
    /// Index into `heads`, or `NIL` when not scheduled.
    slot: u32,
}

const EMPTY_NODE: Node = Node {
    at: Instant::FAR_FUTURE,
    prev: NIL,
    next: NIL,
    slot: NIL,
};

/// A hierarchical hashed timing wheel with at most one entry per `u32` id. See the module doc.
#[derive(Clone, Debug)]
pub struct TimerWheel {
    /// Tick 0 starts here.
    start: Instant,
    tick_ns: u64,
    /// The wheel's clock in ticks: the tick of the latest poll (or of the latest slot processed).
    elapsed: u64,
    nodes: Vec<Node>,
    /// Head of each slot list: `LEVELS * SLOTS` level slots, then the overflow list.
    heads: [u32; OVERFLOW + 1],
    /// Bit `s` of `occupied[l]` is set when slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    len: usize,
}

impl TimerWheel {
    /// A wheel for ids `0..capacity`, with ticks of `tick` (at least 1 ns) starting at `now`.
    /// Bytes of wheel state per id (one intrusive list node).
    pub fn node_size() -> usize {
        std::mem::size_of::<Node>()
    }

    pub fn new(capacity: usize, tick: Duration, now: Instant) -> TimerWheel {
        let tick_ns = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        TimerWheel {
            start: now,
            tick_ns,
            elapsed: 0,
            nodes: vec![EMPTY_NODE; capacity],
            heads: [NIL; OVERFLOW + 1],
            occupied: [0; LEVELS],
            len: 0,
        }
    }

    /// Makes room for ids `0..n` (allocates; for configuration changes, not the packet path).
    pub fn ensure_capacity(&mut self, n: usize) {
        if n > self.nodes.len() {
            self.nodes.resize(n, EMPTY_NODE);
        }
    }

    /// The number of ids the node table holds without growing.
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }

    /// The tick length.
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick_ns)
    }

    /// The number of scheduled ids.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `id` to fire at `at`, replacing any earlier entry for `id`. O(1).
    ///
    /// `Instant::FAR_FUTURE` cancels. An `id` beyond the capacity grows the table (allocates: a
    /// sizing error in the caller, tolerated rather than a crash). `u32::MAX` is not a valid id.
    pub fn schedule(&mut self, id: u32, at: Instant) {
        debug_assert!(id != NIL, "u32::MAX is the list terminator, not an id");
        if at == Instant::FAR_FUTURE || id == NIL {
            self.cancel(id);
            return;
        }
        self.ensure_capacity(id as usize + 1);
        if self.nodes[id as usize].slot == NIL {
            self.len += 1;
        } else {
            self.unlink(id);
        }
        self.nodes[id as usize].at = at;
        let slot = self.slot_for(at);
        self.link(id, slot);
    }

    /// Schedules `id` at `at` unless it is already scheduled no later than `at` (the lazy rule
    /// of the module doc). Returns whether the entry changed.
    pub fn schedule_if_earlier(&mut self, id: u32, at: Instant) -> bool {
        match self.scheduled(id) {
            Some(current) if current <= at => false,
            _ if at == Instant::FAR_FUTURE => false,
            _ => {
                self.schedule(id, at);
                true
            }
        }
    }

    /// Removes `id`'s entry, if any. O(1).
    pub fn cancel(&mut self, id: u32) {
        if self.scheduled(id).is_some() {
            self.unlink(id);
            self.len -= 1;
        }
    }

    /// The deadline `id` is scheduled for.
    pub fn scheduled(&self, id: u32) -> Option<Instant> {
        let node = self.nodes.get(id as usize)?;
        (node.slot != NIL).then_some(node.at)
    }

    /// Appends to `expired` every id whose deadline is `<= now`, and unschedules them.
    ///
    /// Cascades the higher levels the clock passes; O(1) amortised per entry plus O(levels) per
    /// call. `now` should not go backwards; if it does, nothing fires early regardless.
    pub fn poll(&mut self, now: Instant, expired: &mut Vec<u32>) {
        let now_tick = self.tick_of(now);
        while let Some((level, tick)) = self.next_expiration() {
            // The current tick's level-0 slot is compared exactly, below.
            if tick > now_tick || (level == 0 && tick == now_tick) {
                break;
            }
            self.elapsed = tick;
            let slot = self.slot_index(level, tick);
            if level == 0 {
                self.fire_slot(slot, now, expired);
            } else {
                self.cascade_slot(slot);
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
        let current = self.slot_index(0, self.elapsed);
        self.fire_slot(current, now, expired);
    }

    /// A lower bound on the earliest deadline, `None` when nothing is scheduled.
    ///
    /// Contract (what a virtual-time driver relies on): the value is never later than any
    /// scheduled deadline, and after `poll(d)` with `d = next_deadline()` either some id fired
    /// or `next_deadline()` is strictly later than `d`. So stepping a clock to `next_deadline()`
    /// never skips a deadline and always makes progress. The value is the exact earliest
    /// deadline when that lies in the current tick, and otherwise the start of the tick of the
    /// first non-empty slot (a level-0 slot to fire or a higher-level slot to cascade): O(1)
    /// plus the entries of the current tick, never a walk over a future slot.
    pub fn next_deadline(&self) -> Option<Instant> {
        let (level, tick) = self.next_expiration()?;
        if level == 0 && tick == self.elapsed {
            Some(self.earliest_in(self.slot_index(0, tick)))
        } else {
            Some(self.instant_of(tick))
        }
    }

    // --- Placement ---

    fn tick_of(&self, t: Instant) -> u64 {
        t.as_nanos().saturating_sub(self.start.as_nanos()) / self.tick_ns
    }

    fn instant_of(&self, tick: u64) -> Instant {
        self.start + Duration::from_nanos(tick.saturating_mul(self.tick_ns))
    }

    /// The slot an entry due at `at` belongs in, given the current clock.
    fn slot_for(&self, at: Instant) -> usize {
        // A deadline in the past goes to the current tick: it fires at the next poll.
        let tick = self.tick_of(at).max(self.elapsed);
        let level = level_for(self.elapsed, tick);
        if level >= LEVELS {
            OVERFLOW
        } else {
            self.slot_index(level, tick)
        }
    }

    /// Index into `heads` of `tick`'s slot at `level` (`OVERFLOW` for the overflow level).
    fn slot_index(&self, level: usize, tick: u64) -> usize {
        if level == OVERFLOW_LEVEL {
            return OVERFLOW;
        }
        let shift = level as u32 * SLOT_BITS;
        level * SLOTS + ((tick >> shift) & SLOT_MASK) as usize
    }

    /// The earliest slot to process: `(level, first tick of the slot)`. On a tie the higher
    /// level wins, so cascades happen before the level-0 slot of the same tick is fired.
    fn next_expiration(&self) -> Option<(usize, u64)> {
        let mut best: Option<(usize, u64)> = None;
        let candidates = (0..LEVELS)
            .map(|level| self.level_next(level).map(|tick| (level, tick)))
            .chain(std::iter::once(
                self.overflow_next().map(|t| (OVERFLOW_LEVEL, t)),
            ));
        for (level, tick) in candidates.flatten() {
            if best.is_none_or(|(_, b)| tick <= b) {
                best = Some((level, tick));
            }
        }
        best
    }

    /// The first tick of the first occupied slot of `level` at or after the clock.
    fn level_next(&self, level: usize) -> Option<u64> {
        let shift = level as u32 * SLOT_BITS;
        let current = (self.elapsed >> shift) & SLOT_MASK;
        let bits = self.occupied[level] >> current;
        if bits == 0 {
            return None;
        }
        let slot = current + u64::from(bits.trailing_zeros());
        let window = shift + SLOT_BITS;
        let base = (self.elapsed >> window) << window;
        Some((base + (slot << shift)).max(self.elapsed))
    }

    /// The first tick of the next top-level window, when the overflow list is non-empty.
    fn overflow_next(&self) -> Option<u64> {
        if self.heads[OVERFLOW] == NIL {
            return None;
        }
        let window = (self.elapsed >> WHEEL_BITS) + 1;
        // In the last window of the u64 tick space nothing can be beyond the wheel.
        (window < 1 << (64 - WHEEL_BITS)).then_some(window << WHEEL_BITS)
    }

    // --- Slot lists ---

    fn link(&mut self, id: u32, slot: usize) {
        let head = self.heads[slot];
        let node = &mut self.nodes[id as usize];
        node.slot = slot as u32;
        node.prev = NIL;
        node.next = head;
        if head != NIL {
            self.nodes[head as usize].prev = id;
        }
        self.heads[slot] = id;
        if slot < OVERFLOW {
            self.occupied[slot / SLOTS] |= 1 << (slot % SLOTS);
        }
    }

    fn unlink(&mut self, id: u32) {
        let Node {
            prev, next, slot, ..
        } = self.nodes[id as usize];
        let slot = slot as usize;
        if prev == NIL {
            self.heads[slot] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[id as usize].slot = NIL;
        if self.heads[slot] == NIL && slot < OVERFLOW {
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
        }
    }

    /// Empties a slot list and returns its first id (the rest follow through `next`).
    fn detach(&mut self, slot: usize) -> u32 {
        let head = std::mem::replace(&mut self.heads[slot], NIL);
        if slot < OVERFLOW {
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
        }
        head
    }

    /// Fires the entries of a level-0 slot that are due; the others (only possible in the
    /// current tick) go back into the same slot.
    fn fire_slot(&mut self, slot: usize, now: Instant, expired: &mut Vec<u32>) {
        let mut id = self.detach(slot);
        while id != NIL {
            let node = self.nodes[id as usize];
            if node.at <= now {
                self.nodes[id as usize].slot = NIL;
                self.len -= 1;
                expired.push(id);
            } else {
                self.link(id, slot);
            }
            id = node.next;
        }
    }

    /// Re-places every entry of a higher-level (or the overflow) slot relative to the clock.
    fn cascade_slot(&mut self, slot: usize) {
        let mut id = self.detach(slot);
        while id != NIL {
            let node = self.nodes[id as usize];
            let to = self.slot_for(node.at);
            self.link(id, to);
            id = node.next;
        }
    }

    /// The earliest exact deadline in a slot list (the current tick's level-0 slot).
    fn earliest_in(&self, slot: usize) -> Instant {
        let mut earliest = Instant::FAR_FUTURE;
        let mut id = self.heads[slot];
        while id != NIL {
            let node = &self.nodes[id as usize];
            earliest = earliest.min(node.at);
            id = node.next;
        }
        earliest
    }
}

/// The level whose current window (relative to the clock `elapsed`) contains `tick`: the
/// highest 6-bit group in which they differ. `LEVELS` or more means beyond the wheel.
fn level_for(elapsed: u64, tick: u64) -> usize {
    let masked = (elapsed ^ tick) | SLOT_MASK;
    ((63 - masked.leading_zeros()) / SLOT_BITS) as usize
}

/// The timers a connection runs. `Rto` also times SYN and SYN-ACK retransmission. The order
/// is the order expired timers are handled in: the tail loss probe before the RTO, so that a
/// probe due with the RTO (RFC 8985 §7.2 caps the PTO at the RTO) goes instead of it and
/// restarts it, as Linux's one timer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Tail loss probe (RFC 8985 §7).
    LossProbe,
    /// Retransmission timeout (RFC 6298), including SYN / SYN-ACK retransmission.
    Rto,
    /// Delayed acknowledgment (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2).
    DelayedAck,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist,
    /// Keep-alive probe (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).
    Keepalive,
    /// Orphaned FIN-WAIT-2 timeout (Linux `tcp_fin_timeout`).
    FinWait2,
    /// TIME-WAIT, 2*MSL (RFC 9293 §3.6.1).
    TimeWait,
    /// RACK's reordering window ran out for a unit not yet deemed lost (RFC 8985 §6.3).
    Reorder,
}

impl TimerKind {
    /// The number of kinds.
    pub const COUNT: usize = 8;
    /// Every kind, in the order [`TimerTable::take_expired`] reports them.
    pub const ALL: [TimerKind; TimerKind::COUNT] = [
        TimerKind::LossProbe,
        TimerKind::Rto,
        TimerKind::DelayedAck,
        TimerKind::Persist,
        TimerKind::Keepalive,
        TimerKind::FinWait2,
        TimerKind::TimeWait,
        TimerKind::Reorder,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

/// A connection's deadlines, one per [`TimerKind`]; `Instant::FAR_FUTURE` means unset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerTable {
    at: [Instant; TimerKind::COUNT],
}

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable::new()
    }
}

impl TimerTable {
    /// A table with every timer unset.
    pub const fn new() -> TimerTable {
        TimerTable {
            at: [Instant::FAR_FUTURE; TimerKind::COUNT],
        }
    }

    /// Arms `kind` for `at` (replacing its previous deadline). `FAR_FUTURE` clears it.
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.at[kind.index()] = at;
    }

    pub fn clear(&mut self, kind: TimerKind) {
        self.at[kind.index()] = Instant::FAR_FUTURE;
    }

    /// Clears every timer (on close).
    pub fn clear_all(&mut self) {
        self.at = [Instant::FAR_FUTURE; TimerKind::COUNT];
    }

    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        let at = self.at[kind.index()];
        (at != Instant::FAR_FUTURE).then_some(at)
    }

    pub fn is_set(&self, kind: TimerKind) -> bool {
        self.at[kind.index()] != Instant::FAR_FUTURE
    }

    /// The earliest armed deadline: what the connection's wheel entry should be.
    pub fn next(&self) -> Option<Instant> {
        let at = self.at.iter().copied().min()?;
        (at != Instant::FAR_FUTURE).then_some(at)
    }

    /// Clears and returns every kind whose deadline is `<= now`, iterated in the order of
    /// [`TimerKind::ALL`]. The result is a copy, so the caller may mutate the connection while
    /// handling each kind.
    pub fn take_expired(&mut self, now: Instant) -> ExpiredTimers {
        let mut bits = 0u8;
        for kind in TimerKind::ALL {
            if self.at[kind.index()] <= now {
                self.at[kind.index()] = Instant::FAR_FUTURE;
                bits |= 1 << kind.index();
            }
        }
        ExpiredTimers(bits)
    }
}

/// The set of kinds [`TimerTable::take_expired`] found due; iterates in [`TimerKind::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiredTimers(u8);

impl ExpiredTimers {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, kind: TimerKind) -> bool {
        self.0 & (1 << kind.index()) != 0
    }
}

impl Iterator for ExpiredTimers {
    type Item = TimerKind;

    fn next(&mut self) -> Option<TimerKind> {
        if self.0 == 0 {
            return None;
        }
        let index = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(TimerKind::ALL[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Rng;

    const MS: u64 = 1_000_000;

    fn at_ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// A brute-force model: a deadline per id.
    struct Model {
        at: Vec<Option<Instant>>,
    }

    impl Model {
        fn poll(&mut self, now: Instant) -> Vec<u32> {
            let mut fired = Vec::new();
            for (id, slot) in self.at.iter_mut().enumerate() {
                if slot.is_some_and(|t| t <= now) {
                    *slot = None;
                    fired.push(id as u32);
                }
            }
            fired
        }
    }

    /// A random deadline around `now`: mostly near, some far, some beyond the wheel, some past.
    fn random_deadline(rng: &mut Rng, now: Instant, horizon_ns: u64) -> Instant {
        match rng.below(10) {
            0 => now - Duration::from_nanos(rng.below(5 * MS)),
            1 => now + Duration::from_nanos(rng.below(horizon_ns.saturating_mul(1000))),
            2 => now,
            _ => now + Duration::from_nanos(rng.below(horizon_ns)),
        }
    }

    /// Random schedule / cancel / re-schedule of `ids` ids, polled at random increasing times,
    /// against the model: identical firing sets, never early, never lost.
    fn run_against_model(seed: u64, ids: u32, tick: Duration, horizon_ns: u64, rounds: usize) {
        let mut rng = Rng::new(seed);
        let mut now = Instant::from_secs(1);
        let mut wheel = TimerWheel::new(ids as usize, tick, now);
        let mut model = Model {
            at: vec![None; ids as usize],
        };
        let mut fired = Vec::new();
        for _ in 0..rounds {
            for _ in 0..rng.below(u64::from(ids) / 4) {
                let id = rng.below(u64::from(ids)) as u32;
                if rng.chance(0.2) {
                    wheel.cancel(id);
                    model.at[id as usize] = None;
                } else {
                    let at = random_deadline(&mut rng, now, horizon_ns);
                    wheel.schedule(id, at);
                    model.at[id as usize] = Some(at);
                }
            }
            now += Duration::from_nanos(rng.below(horizon_ns / 8));
            fired.clear();
            wheel.poll(now, &mut fired);
            fired.sort_unstable();
            assert_eq!(fired, model.poll(now), "at {now:?}");
            assert_eq!(wheel.len(), model.at.iter().flatten().count());
        }
        for id in 0..ids {
            assert_eq!(wheel.scheduled(id), model.at[id as usize]);
        }
        // Drain: jump far ahead; everything except the beyond-range entries fires exactly.
        now += Duration::from_nanos(horizon_ns.saturating_mul(2000));
        fired.clear();
        wheel.poll(now, &mut fired);
        fired.sort_unstable();
        assert_eq!(fired, model.poll(now));
        assert!(wheel.is_empty());
    }

    #[test]
    fn matches_model_100us_tick() {
        // Deadlines up to 10 s, a tenth up to 10,000 s.
        run_against_model(1, 10_000, DEFAULT_TICK, 10_000 * MS, 300);
    }

    #[test]
    fn matches_model_1ns_tick_with_overflow() {
        // With a 1 ns tick the wheel spans 2^36 ns (69 s): many entries overflow and re-cascade.
        run_against_model(2, 10_000, Duration::from_nanos(1), 20_000 * MS, 300);
    }

    #[test]
    fn matches_model_small_population_many_polls() {
        run_against_model(3, 64, Duration::from_micros(10), 50 * MS, 5_000);
    }

    #[test]
    fn fires_exactly_at_the_deadline_not_the_tick() {
        let mut wheel = TimerWheel::new(4, Duration::from_millis(1), Instant::ZERO);
        let mut fired = Vec::new();
        wheel.schedule(0, Instant::from_micros(1_500));
        wheel.poll(Instant::from_micros(1_499), &mut fired);
        assert!(fired.is_empty());
        assert_eq!(wheel.next_deadline(), Some(Instant::from_micros(1_500)));
        wheel.poll(Instant::from_micros(1_500), &mut fired);
        assert_eq!(fired, [0]);
        assert!(wheel.is_empty() && wheel.next_deadline().is_none());
        // In a future tick, the bound is the tick's start; polling there reaches the exact time.
        wheel.schedule(1, Instant::from_micros(5_500));
        assert_eq!(wheel.next_deadline(), Some(Instant::from_micros(5_000)));
        wheel.poll(Instant::from_micros(5_000), &mut fired);
        assert_eq!(fired, [0]);
        assert_eq!(wheel.next_deadline(), Some(Instant::from_micros(5_500)));
    }

    #[test]
    fn past_deadline_fires_at_next_poll() {
        let mut wheel = TimerWheel::new(4, DEFAULT_TICK, Instant::ZERO);
        let mut fired = Vec::new();
        wheel.poll(at_ms(100), &mut fired);
        wheel.schedule(2, at_ms(3));
        assert_eq!(wheel.next_deadline(), Some(at_ms(3)));
        wheel.poll(at_ms(100), &mut fired);
        assert_eq!(fired, [2]);
    }

    #[test]
    fn schedule_replaces_and_cancel_removes() {
        let mut wheel = TimerWheel::new(4, DEFAULT_TICK, Instant::ZERO);
        let mut fired = Vec::new();
        wheel.schedule(1, at_ms(10));
        wheel.schedule(1, at_ms(500));
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.scheduled(1), Some(at_ms(500)));
        wheel.poll(at_ms(499), &mut fired);
        assert!(fired.is_empty());
        wheel.schedule(3, at_ms(600));
        wheel.cancel(3);
        wheel.cancel(3);
        assert_eq!(wheel.len(), 1);
        wheel.poll(at_ms(10_000), &mut fired);
        assert_eq!(fired, [1]);
        assert_eq!(wheel.scheduled(3), None);
    }

    #[test]
    fn far_future_deadlines() {
        let day = Duration::from_secs(86_400);
        let mut wheel = TimerWheel::new(4, DEFAULT_TICK, Instant::ZERO);
        let mut fired = Vec::new();
        // Beyond the 79-day range of a 100 µs wheel.
        let far = Instant::ZERO + day * 200;
        wheel.schedule(0, far);
        wheel.schedule(1, Instant::ZERO + day * 10);
        wheel.schedule(2, Instant::FAR_FUTURE); // "never": not scheduled
        assert_eq!(wheel.len(), 2);
        assert_eq!(wheel.scheduled(2), None);
        wheel.poll(Instant::ZERO + day * 10, &mut fired);
        assert_eq!(fired, [1]);
        wheel.poll(far - Duration::from_nanos(1), &mut fired);
        assert_eq!(fired, [1]);
        wheel.poll(far, &mut fired);
        assert_eq!(fired, [1, 0]);
        // Deadlines near the end of time do not overflow the tick arithmetic.
        wheel.schedule(3, Instant::from_nanos(u64::MAX - 1));
        wheel.poll(Instant::from_nanos(u64::MAX - 2), &mut fired);
        assert_eq!(fired.len(), 2);
        wheel.poll(Instant::from_nanos(u64::MAX - 1), &mut fired);
        assert_eq!(fired, [1, 0, 3]);
    }

    /// Drives a clock by `next_deadline()` alone, as the virtual-time simulator does.
    fn drive_by_next_deadline(seed: u64, tick: Duration, horizon_ns: u64) {
        let mut rng = Rng::new(seed);
        let start = Instant::from_secs(5);
        let mut wheel = TimerWheel::new(2_000, tick, start);
        let mut due = vec![None; 2_000];
        for id in 0..2_000u32 {
            let at = start + Duration::from_nanos(rng.below(horizon_ns));
            wheel.schedule(id, at);
            due[id as usize] = Some(at);
        }
        let mut fired = Vec::new();
        let mut remaining = 2_000;
        let mut steps = 0;
        while let Some(d) = wheel.next_deadline() {
            steps += 1;
            assert!(steps < 100_000, "the driver does not make progress");
            let earliest = due.iter().flatten().min().copied().unwrap();
            assert!(d <= earliest, "next_deadline {d:?} skips {earliest:?}");
            fired.clear();
            wheel.poll(d, &mut fired);
            for &id in &fired {
                // A lower bound that fires the entry means the entry fired at its deadline.
                assert_eq!(due[id as usize].take(), Some(d));
            }
            remaining -= fired.len();
            if fired.is_empty() {
                assert!(wheel.next_deadline().is_some_and(|next| next > d));
            }
        }
        assert_eq!(remaining, 0);
    }

    #[test]
    fn next_deadline_never_skips_and_makes_progress() {
        drive_by_next_deadline(10, DEFAULT_TICK, 30_000 * MS);
        drive_by_next_deadline(11, Duration::from_nanos(1), 500_000 * MS);
        drive_by_next_deadline(12, Duration::from_millis(1), 3 * MS);
    }

    #[test]
    fn schedule_if_earlier_follows_the_lazy_rule() {
        let mut wheel = TimerWheel::new(2, DEFAULT_TICK, Instant::ZERO);
        assert!(wheel.schedule_if_earlier(0, at_ms(200)));
        assert!(!wheel.schedule_if_earlier(0, at_ms(300)));
        assert_eq!(wheel.scheduled(0), Some(at_ms(200)));
        assert!(wheel.schedule_if_earlier(0, at_ms(50)));
        assert_eq!(wheel.scheduled(0), Some(at_ms(50)));
        assert!(!wheel.schedule_if_earlier(1, Instant::FAR_FUTURE));
        assert_eq!(wheel.len(), 1);
    }

    #[test]
    fn grows_for_an_id_beyond_capacity() {
        let mut wheel = TimerWheel::new(1, DEFAULT_TICK, Instant::ZERO);
        wheel.schedule(9, at_ms(1));
        assert_eq!(wheel.capacity(), 10);
        assert_eq!(wheel.scheduled(9), Some(at_ms(1)));
        assert_eq!(wheel.scheduled(100), None);
        wheel.cancel(100);
    }

    #[test]
    fn timer_table_next_and_take_expired() {
        let mut t = TimerTable::new();
        assert_eq!(t.next(), None);
        t.set(TimerKind::TimeWait, at_ms(60_000));
        t.set(TimerKind::Rto, at_ms(200));
        t.set(TimerKind::DelayedAck, at_ms(40));
        assert_eq!(t.next(), Some(at_ms(40)));
        assert!(t.is_set(TimerKind::Rto) && !t.is_set(TimerKind::Persist));
        assert!(t.take_expired(at_ms(39)).is_empty());
        let expired = t.take_expired(at_ms(200));
        assert!(expired.contains(TimerKind::Rto) && !expired.contains(TimerKind::TimeWait));
        assert_eq!(
            expired.collect::<Vec<_>>(),
            [TimerKind::Rto, TimerKind::DelayedAck]
        );
        assert_eq!(t.get(TimerKind::Rto), None);
        assert_eq!(t.next(), Some(at_ms(60_000)));
        t.clear(TimerKind::TimeWait);
        assert_eq!(t.next(), None);
        t.set(TimerKind::Keepalive, at_ms(1));
        t.clear_all();
        assert_eq!(t, TimerTable::default());
    }

    #[test]
    fn timer_table_drives_the_wheel_lazily() {
        let mut wheel = TimerWheel::new(1, DEFAULT_TICK, Instant::ZERO);
        let mut table = TimerTable::new();
        let mut fired = Vec::new();
        table.set(TimerKind::Rto, at_ms(200));
        wheel.schedule_if_earlier(0, table.next().unwrap());
        // An ACK pushes the RTO later: the wheel entry is left alone and fires early.
        table.set(TimerKind::Rto, at_ms(450));
        wheel.schedule_if_earlier(0, table.next().unwrap());
        wheel.poll(at_ms(200), &mut fired);
        assert_eq!(fired, [0]);
        assert!(table.take_expired(at_ms(200)).is_empty());
        wheel.schedule_if_earlier(0, table.next().unwrap());
        wheel.poll(at_ms(450), &mut fired);
        assert_eq!(fired, [0, 0]);
        assert_eq!(
            table.take_expired(at_ms(450)).collect::<Vec<_>>(),
            [TimerKind::Rto]
        );
    }
}

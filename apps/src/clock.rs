//! The apps' clock: the CPU's time-stamp counter converted to engine `Instant`s.
//!
//! The engine never reads a clock (ARCHITECTURE decision 3); the programs read the TSC (a few
//! nanoseconds, no syscall) and pass `Instant`s in. The conversion is a fixed-point multiply
//! calibrated from DPDK's TSC frequency.

use engine::eal::{self, Eal};
use engine::time::Instant;

/// Converts TSC ticks since start-up into nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: u64,
    /// Nanoseconds per tick, as a 32.32 fixed-point number.
    ns_per_tick: u64,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new(eal: Eal) -> Clock {
        let hz = eal.tsc_hz().max(1);
        Clock {
            start: eal::tsc(),
            ns_per_tick: ((1_000_000_000u128 << 32) / u128::from(hz)) as u64,
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        let ticks = eal::tsc().saturating_sub(self.start);
        Instant::from_nanos(((u128::from(ticks) * u128::from(self.ns_per_tick)) >> 32) as u64)
    }
}

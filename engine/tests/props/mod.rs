//! What `wire_props.rs` (Ethernet, ARP, IPv4, ICMP, TCP) and `wire_props_v6.rs` (IPv6,
//! extension headers, ICMPv6, Neighbor Discovery) share for their seeded property tests of
//! `engine::wire`:
//!
//! - [`poke`]: every accessor of every view and repr parser run on any bytes, with the
//!   invariants that must hold whatever they are; IPv4 and IPv6 frames reach each other's code
//!   (an Ethernet frame is poked down to TCP, ICMP or ICMPv6 whatever its EtherType);
//! - [`reprs`]: random scalars and random reprs of every header and every ICMPv6 message;
//! - here: the case counts, [`must_not_panic`] and the byte setters both mutators use.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};

pub mod poke;
pub mod reprs;

pub const FUZZ_CASES: usize = 200_000;
pub const ROUND_TRIPS: usize = 10_000;

/// Where the network header starts in a frame.
pub const ETH: usize = 14;

/// Runs `f` on `bytes`; a panic is reported with the input that caused it.
pub fn must_not_panic(bytes: &[u8], f: impl FnOnce(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| f(bytes))).is_err() {
        panic!("a parser panicked on {} bytes: {bytes:02x?}", bytes.len());
    }
}

/// Sets the high (`high`) or low nibble of byte `at`: IP version or IHL, TCP data offset.
pub fn set_nibble(frame: &mut [u8], at: usize, value: u8, high: bool) {
    if let Some(b) = frame.get_mut(at) {
        *b = if high {
            (*b & 0x0f) | (value << 4)
        } else {
            (*b & 0xf0) | (value & 0x0f)
        };
    }
}

pub fn set_u16(frame: &mut [u8], at: usize, value: i64) {
    if let Some(b) = frame.get_mut(at..at + 2) {
        b.copy_from_slice(&(value.clamp(0, 0xffff) as u16).to_be_bytes());
    }
}

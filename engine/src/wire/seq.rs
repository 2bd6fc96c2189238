//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//!
//! `a` is before `b` when the signed 32-bit distance `b - a` is positive: the rule of RFC 1982
//! serial-number arithmetic and of Linux's `before()`/`after()`. It is meaningful only for numbers
//! less than 2^31 apart, which TCP guarantees (windows are below 2^30, RFC 7323 §2.3).
//!
//! Invariants: arithmetic wraps, never panics. The order is *not* total (nor transitive across
//! more than half the space): at a distance of exactly 2^31 neither number is before the other,
//! so `a < b` and `b < a` are never both true.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The wrapping signed distance `self - other`: positive when `self` is after `other`.
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` is strictly before `other` (Linux `before()`).
    pub fn lt(self, other: SeqNum) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Less)
    }

    pub fn le(self, other: SeqNum) -> bool {
        matches!(
            self.partial_cmp(&other),
            Some(Ordering::Less | Ordering::Equal)
        )
    }

    /// `self` is strictly after `other` (Linux `after()`).
    pub fn gt(self, other: SeqNum) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Greater)
    }

    pub fn ge(self, other: SeqNum) -> bool {
        matches!(
            self.partial_cmp(&other),
            Some(Ordering::Greater | Ordering::Equal)
        )
    }

    /// The later of the two (`self` when they are not ordered).
    pub fn max(self, other: SeqNum) -> SeqNum {
        if other.gt(self) { other } else { self }
    }

    /// The earlier of the two (`self` when they are not ordered).
    pub fn min(self, other: SeqNum) -> SeqNum {
        if other.lt(self) { other } else { self }
    }

    /// `low <= self < high`, modulo 2^32 (the RFC 9293 §3.4 window test).
    pub fn in_range(self, low: SeqNum, high: SeqNum) -> bool {
        low.le(self) && self.lt(high)
    }
}

/// Modular order by the signed distance; `None` at a distance of exactly 2^31.
impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        match self.diff(*other) {
            0 => Some(Ordering::Equal),
            i32::MIN => None,
            d if d < 0 => Some(Ordering::Less),
            _ => Some(Ordering::Greater),
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, n: u32) {
        *self = *self + n;
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}

impl SubAssign<u32> for SeqNum {
    fn sub_assign(&mut self, n: u32) {
        *self = *self - n;
    }
}

/// The unsigned wrapping distance `self - earlier`; the caller knows `earlier` is not after `self`
/// (e.g. `snd_nxt - snd_una`, bytes in flight).
impl Sub<SeqNum> for SeqNum {
    type Output = u32;
    fn sub(self, earlier: SeqNum) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEAR_WRAP: SeqNum = SeqNum(u32::MAX - 10);

    #[test]
    fn arithmetic_wraps() {
        assert_eq!(NEAR_WRAP + 20, SeqNum(9));
        assert_eq!(SeqNum(9) - 20, NEAR_WRAP);
        let mut s = NEAR_WRAP;
        s += 11;
        assert_eq!(s, SeqNum(0));
        s -= 1;
        assert_eq!(s, SeqNum(u32::MAX));
        assert_eq!(SeqNum(9) - NEAR_WRAP, 20);
        assert_eq!(SeqNum(9).diff(NEAR_WRAP), 20);
        assert_eq!(NEAR_WRAP.diff(SeqNum(9)), -20);
    }

    #[test]
    fn compares_across_the_wrap() {
        let a = NEAR_WRAP;
        let b = a + 20;
        assert!(a.lt(b) && a.le(b) && !a.gt(b) && !a.ge(b));
        assert!(b.gt(a) && b.ge(a) && !b.lt(a));
        // The operators follow the same rule as the methods.
        assert!(a < b);
        assert!(b > a);
        assert!(a <= b);
        assert!(b >= a);
        assert_eq!(a.max(b), b);
        assert_eq!(b.max(a), b);
        assert_eq!(a.min(b), a);
        assert!(SeqNum(5).in_range(a, b));
        assert!(a.in_range(a, b));
        assert!(!b.in_range(a, b));
    }

    #[test]
    fn half_space_apart_is_unordered() {
        let a = SeqNum(7);
        let b = a + (1 << 31);
        assert_eq!(a.partial_cmp(&b), None);
        assert!(!a.lt(b) && !b.lt(a) && !a.gt(b) && !b.gt(a));
        assert!(a + ((1 << 31) - 1) > a);
        assert!(a + ((1 << 31) + 1) < a);
    }
}

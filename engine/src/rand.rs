//! The engine's seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
//!
//! Everything random in the engine (ISN secrets, ephemeral-port offsets, fault injection) draws
//! from an `Rng`. A stack's comes from the operating system's entropy ([`Rng::from_entropy`]),
//! since RFC 6528 and RFC 6056 need secrets an off-path attacker cannot guess; a seed in the
//! configuration replaces it for reproducible runs and tests (ARCHITECTURE decision 3: the same
//! seed makes the same choices). Not cryptographic by itself: RFC 6528 ISNs feed a keyed hash
//! (see `tcp::isn`) whose key comes from here.

/// A small, fast, seedable generator. Same seed, same sequence, on every platform.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

/// SplitMix64 step: spreads a 64-bit seed into well-mixed state words.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed from the wall clock and a stack address, for [`Rng::from_entropy`]'s fallback.
fn fallback_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    t ^ (std::ptr::addr_of!(local) as u64).rotate_left(32)
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng { s }
    }

    /// A generator whose 256 bits of state come from the operating system (`getrandom(2)`,
    /// which blocks only until the kernel's pool is first initialised, early at boot).
    pub fn from_entropy() -> Rng {
        let mut b = [0u8; 32];
        let mut got = 0;
        while got < b.len() {
            // SAFETY: the pointer and length describe the unfilled tail of `b`, which lives
            // across the call; getrandom writes at most that many bytes.
            let n = unsafe { libc::getrandom(b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
            if n > 0 {
                got += n as usize;
            } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                // No getrandom (kernels before 3.17): fall back on the time and the address
                // space layout, which still differ between runs.
                return Rng::new(fallback_seed());
            }
        }
        let mut s = [0u64; 4];
        for (w, c) in s.iter_mut().zip(b.chunks_exact(8)) {
            let mut x = [0u8; 8];
            x.copy_from_slice(c);
            *w = u64::from_le_bytes(x);
        }
        if s == [0; 4] {
            // xoshiro's one forbidden state.
            s[0] = 1;
        }
        Rng { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value uniform in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p` (0.0 ..= 1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A float uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// An independent generator derived from this one (for a sub-component).
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_generators_differ() {
        let mut a = Rng::from_entropy();
        let mut b = Rng::from_entropy();
        assert_ne!(
            (a.next_u64(), a.next_u64()),
            (b.next_u64(), b.next_u64()),
            "two generators from the OS drew the same 128 bits"
        );
    }

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut c = Rng::new(43);
        let va: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(7);
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }
}

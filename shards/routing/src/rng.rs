//! A small seeded pseudo-random generator (PCG32, XSH-RR variant), so that training order and the routing
//! score's random factor are reproducible from a seed without depending on the `rand` crate.

/// PCG32: 64-bit state, 32-bit output. Not cryptographic; only for reproducible shuffles and tie-breaking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcg32 {
    /// The linear congruential state.
    state: u64,
    /// The stream increment (always odd).
    increment: u64,
}

const MULTIPLIER: u64 = 6_364_136_223_846_793_005;

impl Pcg32 {
    /// A generator for `seed`; the same seed always yields the same sequence.
    pub fn new(seed: u64) -> Self {
        let mut rng = Pcg32 {
            state: 0,
            increment: (seed.rotate_left(17) << 1) | 1,
        };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULTIPLIER).wrapping_add(self.increment);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rotation = (old >> 59) as u32;
        xorshifted.rotate_right(rotation)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        f64::from(self.next_u32()) / 4_294_967_296.0
    }

    /// A uniform integer in `[0, bound)`; `bound` must be non-zero.
    pub fn below(&mut self, bound: u32) -> u32 {
        assert!(bound > 0, "Pcg32::below called with an empty range");
        // Lemire's multiply-shift; the tiny bias is irrelevant for shuffles and simulations.
        ((u64::from(self.next_u32()) * u64::from(bound)) >> 32) as u32
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(u32::try_from(i + 1).unwrap_or(u32::MAX)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_floats_in_range() {
        let mut a = Pcg32::new(42);
        let mut b = Pcg32::new(42);
        let mut c = Pcg32::new(43);
        let sa: Vec<u32> = (0..100).map(|_| a.next_u32()).collect();
        let sb: Vec<u32> = (0..100).map(|_| b.next_u32()).collect();
        let sc: Vec<u32> = (0..100).map(|_| c.next_u32()).collect();
        assert_eq!(sa, sb);
        assert_ne!(sa, sc);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert!((0.0..1.0).contains(&x));
            assert!(a.below(7) < 7);
        }
    }
}

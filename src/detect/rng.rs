//! The seeded random source of every detector: Xoshiro256++ (`rand_xoshiro`), seeded through
//! SplitMix64 from a `u64`, so the same seed gives the same draws natively and in wasm.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub type DetRng = Xoshiro256PlusPlus;

/// A generator for `seed`, separated into independent `stream`s (one per tree, per stage…).
pub fn rng(seed: u64, stream: u64) -> DetRng {
    DetRng::seed_from_u64(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// A uniform draw in `[lo, hi)` (returns `lo` when the interval is empty).
pub fn uniform(r: &mut DetRng, lo: f64, hi: f64) -> f64 {
    if hi > lo { r.gen_range(lo..hi) } else { lo }
}

/// A uniform index in `0..n`, drawn as a `u64` so that 64-bit native builds and 32-bit wasm
/// builds make the same draws (`gen_range` on `usize` does not: its width follows the target).
pub fn below(r: &mut DetRng, n: usize) -> usize {
    r.gen_range(0..n as u64) as usize
}

/// `k` distinct indices of `0..n` (Floyd's algorithm through `rand::seq::index`).
pub fn sample_without_replacement(r: &mut DetRng, n: usize, k: usize) -> Vec<usize> {
    rand::seq::index::sample(r, n, k.min(n)).into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same values are asserted in the browser (`tests/web.rs`): draws must not depend on
    /// the target's pointer width.
    pub const BELOW_42: [usize; 6] = [814, 318, 983, 701, 793, 588];

    #[test]
    fn index_draws_are_fixed() {
        let mut r = rng(42, 0);
        let got: Vec<usize> = (0..6).map(|_| below(&mut r, 1000)).collect();
        assert_eq!(got, BELOW_42);
    }

    #[test]
    fn same_seed_same_draws_other_stream_other_draws() {
        // A fresh generator with the same seed and stream starts at the same draw.
        let a: Vec<u32> = (0..5).map(|_| rng(42, 0).r#gen()).collect();
        assert!(a.iter().all(|&v| v == a[0]), "{a:?}");
        let mut r1 = rng(42, 0);
        let mut r2 = rng(42, 0);
        let mut r3 = rng(42, 1);
        let x: Vec<u64> = (0..4).map(|_| r1.r#gen()).collect();
        let y: Vec<u64> = (0..4).map(|_| r2.r#gen()).collect();
        let z: Vec<u64> = (0..4).map(|_| r3.r#gen()).collect();
        assert_eq!(x, y);
        assert_ne!(x, z);
        // k distinct indices below n, the same for the same seed; k > n gives all n.
        let s = sample_without_replacement(&mut rng(1, 2), 10, 4);
        let mut d = s.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 4);
        assert!(s.iter().all(|&i| i < 10));
        assert_eq!(s, sample_without_replacement(&mut rng(1, 2), 10, 4));
        let mut all = sample_without_replacement(&mut rng(1, 2), 5, 9);
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
    }
}

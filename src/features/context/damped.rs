//! Damped incremental statistics, after Kitsune's AfterImage: each key keeps sums that decay
//! with a half-life, so "packets in the last few seconds" is one multiply-add per packet with
//! no window of packets kept. [`Damped`] holds a weight, a linear and a squared sum (rate,
//! mean, spread); [`DampedDistinct`] counts distinct items seen recently, exactly: an item
//! contributes `2^(−age/half-life)`, re-seeing it resets its contribution to 1.
//!
//! Time can step back by microseconds (frames time-stamped on different CPUs): a negative age
//! counts as 0.

// The sums of each half-life sit in parallel arrays indexed by scale.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

/// The half-lives, in seconds, every damped statistic keeps.
pub const HALF_LIVES: [f64; 3] = [1.0, 10.0, 60.0];
pub const K: usize = HALF_LIVES.len();

fn decay(age: f64, half_life: f64) -> f64 {
    if age <= 0.0 { 1.0 } else { libm::exp(-age / half_life * std::f64::consts::LN_2) }
}

/// Weight, linear sum and squared sum of a value, each decayed at the [`HALF_LIVES`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Damped {
    w: [f64; K],
    ls: [f64; K],
    ss: [f64; K],
    last: f64,
}

impl Damped {
    fn age_to(&mut self, t: f64) {
        let age = t - self.last;
        if age > 0.0 {
            for k in 0..K {
                let f = decay(age, HALF_LIVES[k]);
                self.w[k] *= f;
                self.ls[k] *= f;
                self.ss[k] *= f;
            }
            self.last = t;
        }
    }

    /// Adds `x` at time `t`.
    pub fn add(&mut self, t: f64, x: f64) {
        self.age_to(t);
        for k in 0..K {
            self.w[k] += 1.0;
            self.ls[k] += x;
            self.ss[k] += x * x;
        }
    }

    /// Decayed count at scale `k`.
    pub fn weight(&self, k: usize) -> f64 {
        self.w[k]
    }

    /// Decayed sum at scale `k`.
    pub fn sum(&self, k: usize) -> f64 {
        self.ls[k]
    }

    pub fn mean(&self, k: usize) -> f64 {
        if self.w[k] > 0.0 { self.ls[k] / self.w[k] } else { 0.0 }
    }

    pub fn sd(&self, k: usize) -> f64 {
        if self.w[k] <= 0.0 {
            return 0.0;
        }
        let m = self.mean(k);
        (self.ss[k] / self.w[k] - m * m).max(0.0).sqrt()
    }

    /// The statistics as they stand at `t` (decayed, nothing added).
    pub fn at(&self, t: f64) -> Damped {
        let mut d = *self;
        d.age_to(t);
        d
    }
}

/// A count of distinct items seen recently, decayed at the [`HALF_LIVES`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DampedDistinct {
    seen: HashMap<u64, f64>,
    sum: [f64; K],
    last: f64,
    prune_at: usize,
}

/// Items older than this many longest half-lives contribute under 0.1 % and are forgotten.
const FORGET_AFTER: f64 = 10.0;

impl DampedDistinct {
    /// Counts `item` at time `t`; returns the distinct counts after it.
    pub fn add(&mut self, t: f64, item: u64) -> [f64; K] {
        let age = t - self.last;
        if age > 0.0 {
            for k in 0..K {
                self.sum[k] *= decay(age, HALF_LIVES[k]);
            }
            self.last = t;
        }
        let t = self.last;
        if let Some(prev) = self.seen.insert(item, t) {
            for k in 0..K {
                self.sum[k] = (self.sum[k] - decay(t - prev, HALF_LIVES[k])).max(0.0);
            }
        }
        for k in 0..K {
            self.sum[k] += 1.0;
        }
        if self.seen.len() > self.prune_at.max(64) {
            let horizon = FORGET_AFTER * HALF_LIVES[K - 1];
            self.seen.retain(|_, &mut last| t - last < horizon);
            self.prune_at = 2 * self.seen.len();
        }
        self.sum
    }

    /// The counts at `t` without adding anything.
    pub fn at(&self, t: f64) -> [f64; K] {
        let age = t - self.last;
        let mut s = self.sum;
        if age > 0.0 {
            for k in 0..K {
                s[k] *= decay(age, HALF_LIVES[k]);
            }
        }
        s
    }

    /// Items remembered (bounded: old ones are forgotten).
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_halves_after_one_half_life() {
        let mut d = Damped::default();
        d.add(0.0, 100.0);
        let later = d.at(10.0);
        assert!((later.weight(1) - 0.5).abs() < 1e-12);
        assert!((later.mean(1) - 100.0).abs() < 1e-9);
        assert!(later.weight(0) < 0.001);
        d.add(0.0, 300.0);
        assert!((d.mean(2) - 200.0).abs() < 1e-9);
        assert!((d.sd(2) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn distinct_counts_new_items_not_repeats() {
        let mut d = DampedDistinct::default();
        for port in 0..100 {
            d.add(0.0, port);
        }
        assert!((d.at(0.0)[1] - 100.0).abs() < 1e-9);
        // One item seen 1000 times is one item.
        let mut r = DampedDistinct::default();
        for i in 0..1000 {
            r.add(f64::from(i) * 0.01, 7);
        }
        assert!((r.at(10.0)[1] - 1.0).abs() < 1e-3);
        // Time stepping back a little counts as no time.
        r.add(9.999, 8);
        assert!(r.at(9.999)[2] <= 2.0 + 1e-9);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut d = DampedDistinct::default();
        for i in 0..100_000u64 {
            d.add(i as f64, i);
        }
        assert!(d.remembered() < 2_000, "{}", d.remembered());
        assert!(d.at(100_000.0)[2] < 100.0);
    }
}

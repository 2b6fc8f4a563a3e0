//! Seeded randomness, in one place: the generator every seeded draw of the project uses, its
//! unbiased bounded draw, and the rule that gives each batch run and each generated scenario its
//! seed (the same for `commonsnet simulate` and for HTTP jobs, SPEC section 5).
//!
//! Streams are keyed by position ([`derive_seed`] over a path of indices), never by draw order,
//! so a run's numbers do not depend on which runs were drawn before it or on which thread.

/// SplitMix64 (Steele, Lea & Flood 2014). Hand-written rather than taken from `rand_xoshiro`:
/// the published simulation tables and generated scenarios were drawn from this exact stream,
/// and eight lines reproduce it bit for bit; we need determinism, not cryptographic strength.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `[0, n)`, without modulo bias; `n` must be positive.
    ///
    /// Rejection of the lowest `2^64 mod n` values rather than Lemire's multiply-shift: a kept
    /// draw equals `next_u64() % n`, and for the sizes we draw (`n` far below `2^40`) a draw is
    /// rejected with probability under `2^-24`, so the streams drawn before this rule existed
    /// (and every seeded result published from them) are unchanged.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "SplitMix64::below(0)");
        // 2^64 mod n: the values [0, reject) would make the small residues more likely.
        let reject = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= reject {
                return x % n;
            }
        }
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi] (inclusive), `lo <= hi`.
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// A seed derived from a base seed and a path of indices: streams for different paths are
/// independent, and the derivation does not depend on any evaluation order.
pub fn derive_seed(base: u64, path: &[u64]) -> u64 {
    let mut h = SplitMix64::new(base ^ 0x5EED_C0DE_0000_0000);
    let mut out = h.next_u64();
    for &p in path {
        h = SplitMix64::new(out ^ p.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        out = h.next_u64();
    }
    out
}

/// The first index of every seed path below a batch seed, one per kind of stream, so that no
/// two kinds can draw the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// A run's perturbations: `[Run, scenario, replicate]`.
    Run = 0xA,
    /// A generated scenario: `[Scenario, index]`.
    Scenario = 0xB,
}

/// Below a run's seed, one stream per perturbed entity: `[Perturb*, entity]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum PerturbStream {
    /// Need `i`'s demand factor: `[Demand, i]`.
    Demand = 1,
    /// Resource `i`'s failure: `[Failure, i]`.
    Failure = 2,
    /// A link's travel-time factor: `[TravelTime, hash of its endpoints' ids]`.
    TravelTime = 3,
}

/// The seed of replicate `replicate` of scenario `scenario` in a batch (or job) seeded with
/// `batch_seed`. All policies of a replicate share it, so they are compared on the same
/// perturbed scenario.
pub fn run_seed(batch_seed: u64, scenario: usize, replicate: usize) -> u64 {
    derive_seed(
        batch_seed,
        &[Stream::Run as u64, scenario as u64, replicate as u64],
    )
}

/// The seed of generated scenario `index` of a batch (or job) seeded with `batch_seed`.
pub fn scenario_seed(batch_seed: u64, index: usize) -> u64 {
    derive_seed(batch_seed, &[Stream::Scenario as u64, index as u64])
}

/// The seed of entity `entity`'s draw in the perturbation stream `stream` of a run.
pub fn perturb_seed(run_seed: u64, stream: PerturbStream, entity: u64) -> u64 {
    derive_seed(run_seed, &[stream as u64, entity])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_stream() {
        // The first outputs of the reference implementation (Vigna's splitmix64.c) from seed 0.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn seeds_are_stable() {
        // Published tables depend on these exact values: a change here changes every result.
        assert_eq!(derive_seed(0, &[]), PINNED[0]);
        assert_eq!(derive_seed(17, &[1, 2, 3]), PINNED[1]);
        assert_eq!(run_seed(17, 3, 1), PINNED[2]);
        assert_eq!(run_seed(17, 3, 1), derive_seed(17, &[0xA, 3, 1]));
        assert_eq!(scenario_seed(17, 4), PINNED[3]);
        assert_eq!(scenario_seed(17, 4), derive_seed(17, &[0xB, 4]));
        assert_eq!(perturb_seed(99, PerturbStream::Failure, 5), PINNED[4]);
        assert_eq!(
            perturb_seed(99, PerturbStream::Failure, 5),
            derive_seed(99, &[2, 5])
        );
    }

    const PINNED: [u64; 5] = [
        0x74C1_2B7F_883D_4039,
        0x99F9_CFC1_28C2_A336,
        0x23CD_17B5_FEC8_3981,
        0x9458_F421_F1E4_37F2,
        0xF5EE_F2D4_F565_F01D,
    ];

    #[test]
    fn seeds_differ_by_path_and_base() {
        let mut seen = std::collections::HashSet::new();
        for base in 0..4 {
            for s in 0..8 {
                for r in 0..8 {
                    assert!(seen.insert(run_seed(base, s, r)));
                }
                assert!(seen.insert(scenario_seed(base, s)));
            }
        }
    }

    #[test]
    fn below_keeps_the_modulo_stream_for_small_bounds() {
        let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
        for n in (1..10_000u64).cycle().take(50_000) {
            assert_eq!(a.below(n), b.next_u64() % n);
        }
    }

    #[test]
    fn below_is_in_range_and_uniform_on_a_small_bound() {
        // Chi-square over 6 cells (5 degrees of freedom): 20.5 is the 0.1% critical value; the
        // seed is fixed, so this is a regression check, not a flaky statistical one.
        let mut r = SplitMix64::new(2024);
        let (n, draws) = (6u64, 60_000u64);
        let mut count = [0u64; 6];
        for _ in 0..draws {
            let x = r.below(n);
            assert!(x < n);
            count[x as usize] += 1;
        }
        let expected = (draws / n) as f64;
        let chi2: f64 = count
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 20.5, "chi-square {chi2}: {count:?}");
        for (lo, hi) in [(3, 3), (0, 1), (10, 12)] {
            for _ in 0..1000 {
                assert!((lo..=hi).contains(&r.int(lo, hi)));
            }
        }
        let _ = r.int(0, u64::MAX);
    }

    #[test]
    fn below_removes_the_modulo_bias_of_large_bounds() {
        // n = 3 * 2^62: `x % n` would give [0, 2^62) half of the time instead of a third.
        let n = 3u64 << 62;
        let mut r = SplitMix64::new(5);
        let draws = 30_000;
        let low = (0..draws).filter(|_| r.below(n) < 1u64 << 62).count();
        let share = low as f64 / draws as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.02, "share {share}");
    }
}

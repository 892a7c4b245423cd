//! Deterministic random numbers for the tape's random processes (drift,
//! hiss, dropouts). Seeded, allocation-free, and identical on every platform.

/// SplitMix64: tiny, fast, and good enough for audio noise.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed ^ 0x9E37_79B9_7F4A_7C15 }
    }

    /// Derive an independent stream, e.g. one per track and per purpose.
    pub fn fork(seed: u64, stream: u64) -> Self {
        Rng::new(mix64(seed ^ mix64(stream.wrapping_add(1))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [-1, 1).
    pub fn bipolar(&mut self) -> f64 {
        self.uniform() * 2.0 - 1.0
    }

    /// Approximately standard normal (Irwin-Hall sum of four uniforms,
    /// rescaled to unit variance); bounded work, no branches, no logs.
    pub fn gaussian(&mut self) -> f64 {
        let sum = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        // Sum of 4 U(0,1) has mean 2 and variance 4/12.
        (sum - 2.0) * 3.0f64.sqrt()
    }

    /// Approximately standard normal from one random word (the sum of its
    /// four 16-bit parts, rescaled): coarser tails than [`Rng::gaussian`],
    /// a quarter of the cost; fine for noise that is smoothed afterwards.
    #[inline]
    pub fn gaussian_cheap(&mut self) -> f64 {
        let word = self.next_u64();
        let sum: u64 = (0..4).map(|i| (word >> (16 * i)) & 0xFFFF).sum();
        // Four U(0, 65535) have mean 131070 and variance 4·(65536² - 1)/12.
        const MEAN: f64 = 131_070.0;
        const SD: f64 = 37_837.23;
        (sum as f64 - MEAN) / SD
    }
}

/// A stateless 64-bit hash: the same input always gives the same bits.
/// Used for properties fixed to a tape position (where the dropouts are).
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash mapped to [0, 1).
pub fn hash_unit(seed: u64, index: u64) -> f32 {
    (mix64(seed ^ mix64(index)) >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_has_unit_variance_and_zero_mean() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = rng.gaussian();
            sum += x;
            sum_sq += x * x;
        }
        let mean = sum / n as f64;
        let var = sum_sq / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..4).scan(Rng::fork(3, 1), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..4).scan(Rng::fork(3, 1), |r, _| Some(r.next_u64())).collect();
        let c: Vec<u64> = (0..4).scan(Rng::fork(3, 2), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

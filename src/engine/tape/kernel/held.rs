//! Weights held for reads that keep their phase. A play head moving a
//! whole number of cells every sample (a tape at exactly its speed, with no
//! wow, flutter or drift) reads each sample at the same fraction of a cell
//! with the same band, so the weights `row + t · delta` of one read serve
//! them all. Each held weight is the value the read would have formed
//! itself, and the dot product keeps the same lanes, order and tree, so the
//! bits are those of [`ReadKernels::read`].

#[cfg(target_arch = "x86_64")]
use super::{reduce_avx, reduce_quad};
use super::{CpuPath, ReadKernels, LANES, MAX_TAPS};

/// One read's weights, kept while its band and phase hold.
#[derive(Clone, Debug)]
pub struct HeldWeights {
    /// The band and the fraction of a cell they are for (`None`: nothing held).
    for_read: Option<(usize, f64)>,
    /// The last read's band and fraction: weights are worked out when two
    /// reads in a row agree, so a wobbling head never pays for them.
    last: Option<(usize, f64)>,
    weights: [f32; MAX_TAPS],
    taps: usize,
}

impl Default for HeldWeights {
    fn default() -> Self {
        HeldWeights { for_read: None, last: None, weights: [0.0; MAX_TAPS], taps: 0 }
    }
}

impl HeldWeights {
    /// Whether the weights held are those of a read of `band` at `frac`
    /// already (so [`HeldWeights::hold`] would change nothing and say yes).
    #[inline]
    pub fn holds(&self, band: usize, frac: f64) -> bool {
        self.for_read == Some((band, frac))
    }

    /// Whether a read of `band` at `frac` can use the held weights, working
    /// them out when this read agrees with the last.
    #[inline]
    pub fn hold(&mut self, kernels: &ReadKernels, band: usize, frac: f64) -> bool {
        let read = Some((band, frac));
        if self.for_read == read {
            return true;
        }
        if self.last != read {
            self.last = read;
            return false;
        }
        let weights = kernels.weights(band, frac);
        for ((held, &row), &delta) in self.weights.iter_mut().zip(weights.rows).zip(weights.deltas) {
            *held = row + weights.t * delta;
        }
        self.taps = weights.rows.len();
        self.for_read = read;
        true
    }
}

impl ReadKernels {
    /// [`ReadKernels::read`] with weights [`HeldWeights::hold`] said hold.
    #[inline]
    pub fn read_held(&self, path: CpuPath, held: &HeldWeights, window: &[f32]) -> f32 {
        let (weights, cells) = (&held.weights[..held.taps], &window[..held.taps]);
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `CpuPath::Avx` is only ever chosen where the CPU has AVX.
            CpuPath::Avx => unsafe { held_avx(weights, cells) },
            #[cfg(target_arch = "x86_64")]
            _ => held_sse(weights, cells),
            #[cfg(not(target_arch = "x86_64"))]
            _ => held_lanes(weights, cells),
        }
    }

    /// Four reads with the same held weights (a coasting play head's next
    /// four samples), each as [`ReadKernels::read_held`] gives it: with
    /// AVX, the four dot products side by side, each weight loaded once.
    #[inline]
    pub fn read_held_four(&self, path: CpuPath, held: &HeldWeights, windows: [&[f32]; 4]) -> [f32; 4] {
        match path {
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx => {
                let weights = &held.weights[..held.taps];
                let windows = windows.map(|window| &window[..weights.len()]);
                // SAFETY: `CpuPath::Avx` is only ever chosen where the CPU has AVX.
                unsafe { held_four_avx(weights, windows) }
            }
            _ => windows.map(|window| self.read_held(path, held, window)),
        }
    }

    /// Two held reads at once, each as [`ReadKernels::read_held`] gives it.
    #[inline]
    pub fn read_held_pair(
        &self,
        path: CpuPath,
        a: (&HeldWeights, &[f32]),
        b: (&HeldWeights, &[f32]),
    ) -> (f32, f32) {
        match path {
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx => {
                let (wa, wb) = (&a.0.weights[..a.0.taps], &b.0.weights[..b.0.taps]);
                // SAFETY: `CpuPath::Avx` is only ever chosen where the CPU has AVX.
                unsafe { held_pair_avx((wa, &a.1[..wa.len()]), (wb, &b.1[..wb.len()])) }
            }
            _ => (self.read_held(path, a.0, a.1), self.read_held(path, b.0, b.1)),
        }
    }
}

/// `Σ weight · cell` in eight lanes and [`super::dot_lanes`]'s tree.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn held_lanes(weights: &[f32], cells: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    for (w, c) in weights.chunks_exact(LANES).zip(cells.chunks_exact(LANES)) {
        for lane in 0..LANES {
            acc[lane] += w[lane] * c[lane];
        }
    }
    let quad = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    let pair = [quad[0] + quad[2], quad[1] + quad[3]];
    pair[0] + pair[1]
}

/// One block of eight taps of [`held_lanes`] added into `acc` (an AVX register).
#[cfg(target_arch = "x86_64")]
macro_rules! held_block {
    ($acc:expr, $weights:expr, $cells:expr, $block:expr) => {{
        let at = $block * LANES;
        let w = _mm256_loadu_ps($weights.as_ptr().add(at));
        let c = _mm256_loadu_ps($cells.as_ptr().add(at));
        _mm256_add_ps($acc, _mm256_mul_ps(w, c))
    }};
}

/// [`held_lanes`] in one AVX register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn held_avx(weights: &[f32], cells: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let blocks = weights.len() / LANES;
    assert!(cells.len() >= blocks * LANES);
    let mut acc = _mm256_setzero_ps();
    for block in 0..blocks {
        // SAFETY: the assert keeps every load inside both slices.
        acc = unsafe { held_block!(acc, weights, cells, block) };
    }
    reduce_avx(acc)
}

/// Two [`held_avx`]s in one loop; the longer kernel finishes alone.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn held_pair_avx(a: (&[f32], &[f32]), b: (&[f32], &[f32])) -> (f32, f32) {
    use std::arch::x86_64::*;
    let (a_blocks, b_blocks) = (a.0.len() / LANES, b.0.len() / LANES);
    assert!(a.1.len() >= a_blocks * LANES && b.1.len() >= b_blocks * LANES);
    let (mut a_acc, mut b_acc) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    // SAFETY (every block below): the assert keeps each load inside its slices.
    for block in 0..a_blocks.min(b_blocks) {
        unsafe {
            a_acc = held_block!(a_acc, a.0, a.1, block);
            b_acc = held_block!(b_acc, b.0, b.1, block);
        }
    }
    for block in b_blocks..a_blocks {
        a_acc = unsafe { held_block!(a_acc, a.0, a.1, block) };
    }
    for block in a_blocks..b_blocks {
        b_acc = unsafe { held_block!(b_acc, b.0, b.1, block) };
    }
    (reduce_avx(a_acc), reduce_avx(b_acc))
}

/// Four [`held_avx`]s with the same weights in one loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn held_four_avx(weights: &[f32], cells: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let blocks = weights.len() / LANES;
    assert!(cells.iter().all(|cells| cells.len() >= blocks * LANES));
    let mut acc = [_mm256_setzero_ps(); 4];
    for block in 0..blocks {
        let at = block * LANES;
        // SAFETY: the assert keeps every load inside the slices.
        unsafe {
            let w = _mm256_loadu_ps(weights.as_ptr().add(at));
            for (acc, cells) in acc.iter_mut().zip(cells) {
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(w, _mm256_loadu_ps(cells.as_ptr().add(at))));
            }
        }
    }
    acc.map(|acc| reduce_avx(acc))
}

/// [`held_lanes`] in two SSE registers (lanes 0–3 and 4–7).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn held_sse(weights: &[f32], cells: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let blocks = weights.len() / LANES;
    assert!(cells.len() >= blocks * LANES);
    // SAFETY: SSE is part of x86-64; the assert keeps every load in bounds.
    unsafe {
        let (mut low, mut high) = (_mm_setzero_ps(), _mm_setzero_ps());
        for block in 0..blocks {
            let at = block * LANES;
            for (acc, at) in [(&mut low, at), (&mut high, at + LANES / 2)] {
                let w = _mm_loadu_ps(weights.as_ptr().add(at));
                let c = _mm_loadu_ps(cells.as_ptr().add(at));
                *acc = _mm_add_ps(*acc, _mm_mul_ps(w, c));
            }
        }
        reduce_quad(_mm_add_ps(low, high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tape::BAND_SPEEDS;

    #[test]
    fn held_weights_read_what_the_kernel_reads_bit_for_bit() {
        let kernels = ReadKernels::shared();
        let cells: Vec<f32> = (0..MAX_TAPS).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let other: Vec<f32> = cells.iter().rev().map(|x| x * 0.7).collect();
        for path in CpuPath::available() {
            for band in 0..BAND_SPEEDS.len() {
                for k in 0..300 {
                    let frac = k as f64 / 300.0 + 1.0e-4 * (k % 7) as f64;
                    let (mut held, mut beside) = (HeldWeights::default(), HeldWeights::default());
                    assert!(!held.hold(kernels, band, frac), "the first read only notes its phase");
                    assert!(held.hold(kernels, band, frac), "the second works the weights out");
                    let other_band = (band + k) % BAND_SPEEDS.len();
                    beside.hold(kernels, other_band, frac);
                    beside.hold(kernels, other_band, frac);
                    let want = kernels.read(path, band, &cells, frac);
                    let got = kernels.read_held(path, &held, &cells);
                    assert_eq!(got.to_bits(), want.to_bits(), "{path:?} band {band} frac {frac}");
                    let shifted: Vec<f32> = cells.iter().map(|x| x * 0.3 - 0.1).collect();
                    let four = kernels.read_held_four(path, &held, [&cells, &other, &shifted, &cells]);
                    for (window, got) in [&cells, &other, &shifted, &cells].into_iter().zip(four) {
                        let want = kernels.read(path, band, window, frac);
                        assert_eq!(got.to_bits(), want.to_bits(), "{path:?} band {band} frac {frac}: four");
                    }
                    let pair = kernels.read_held_pair(path, (&held, &cells), (&beside, &other));
                    let other_want = kernels.read(path, other_band, &other, frac);
                    assert_eq!(
                        (pair.0.to_bits(), pair.1.to_bits()),
                        (want.to_bits(), other_want.to_bits()),
                        "{path:?} bands {band} and {other_band}"
                    );
                }
            }
        }
    }
}

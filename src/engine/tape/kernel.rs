//! The play head's read kernels: a bank of Kaiser-windowed sinc filters, one
//! per band of tape speed, tabulated once as polyphase rows.
//!
//! Reading `s` cells per sample folds any tape content above `fs / (2 s)`
//! back into the band, and reading between cells makes images of everything
//! the kernel passes. So band `b`, used up to speed `S_b`, stops everything
//! from `fs / (2 S_b)` (tape frequency) by [`STOPBAND_DB`], and passes up to
//! [`PASSBAND_FRACTION`] of that. Its length grows with `S_b` so the
//! transition is the same share of the band at every speed.
//!
//! A read interpolates linearly between the two table rows around its phase
//! and takes one dot product with the cells. The dot product is written as
//! eight explicit lanes with a fixed reduction order: plain Rust, and by hand
//! for SSE (every x86-64) and AVX (chosen at run time where the CPU has it).
//! Each does the same multiplies and adds in the same order and none fuses a
//! multiply with an add, so all give bit-identical results: a take
//! re-renders exactly on any machine.

mod held;
use crate::engine::math;
pub use held::HeldWeights;
use std::sync::OnceLock;

/// Attenuation of the stop band, dB. Tones near full scale fold back below
/// −90 dBFS with margin for the table's own rounding.
pub const STOPBAND_DB: f64 = 100.0;
/// Where each band's pass band ends, as a share of its stop-band edge.
pub const PASSBAND_FRACTION: f64 = 0.72;
/// Highest speed (cells per sample) each band reads without folding. Band 0
/// covers speed 1 with its wow and flutter, so a wobbling tape never
/// changes kernel; after it the bands step by a quarter octave.
pub const BAND_SPEEDS: [f64; 10] = [1.06, 1.26, 1.5, 1.78, 2.12, 2.52, 3.0, 3.56, 4.24, 5.04];
/// A band is left for the one below only when the speed is this far under
/// the lower band's top, so speed wobbling at a boundary does not flip
/// kernels every sample.
const BAND_HYSTERESIS: f64 = 0.98;
/// Table rows per cell of offset; reads interpolate linearly between rows.
const PHASES: usize = 512;
/// Lanes of the dot product (one AVX register of f32).
const LANES: usize = 8;

/// The longest kernel, in taps.
pub const MAX_TAPS: usize = 240;
/// How far a read reaches from its position, in cells, at most.
pub const MAX_REACH: usize = MAX_TAPS / 2;

/// The instruction set the dot product runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuPath {
    /// Whatever the build's baseline target gives (SSE2 on x86-64).
    Portable,
    /// AVX, 8 lanes per instruction (x86-64 only, when the CPU has it).
    Avx,
}

impl CpuPath {
    /// The fastest path this CPU runs.
    pub fn detect() -> CpuPath {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx") {
                return CpuPath::Avx;
            }
        }
        CpuPath::Portable
    }

    /// Every path this CPU can run, portable first.
    pub fn available() -> Vec<CpuPath> {
        let mut paths = vec![CpuPath::Portable];
        if CpuPath::detect() == CpuPath::Avx {
            paths.push(CpuPath::Avx);
        }
        paths
    }

    pub fn name(self) -> &'static str {
        match self {
            CpuPath::Portable => "portable",
            CpuPath::Avx => "avx",
        }
    }
}

/// The kernels and the instruction set a play head reads with.
#[derive(Clone, Copy, Debug)]
pub struct Reader {
    pub kernels: &'static ReadKernels,
    pub path: CpuPath,
}

impl Reader {
    /// The shared kernels on the fastest path this CPU runs.
    pub fn detect() -> Reader {
        Reader { kernels: ReadKernels::shared(), path: CpuPath::detect() }
    }
}

/// One speed band's kernel.
#[derive(Debug)]
struct Band {
    taps: usize,
    /// Row `r` (phase r / PHASES): the weight of each tap, rows 0..=PHASES.
    rows: Vec<f32>,
    /// Row `r + 1` minus row `r`, so a read's weights are `row + t · delta`.
    deltas: Vec<f32>,
}

/// Every band's kernel, built once per process and shared by every track.
#[derive(Debug)]
pub struct ReadKernels {
    bands: Vec<Band>,
}

static KERNELS: OnceLock<ReadKernels> = OnceLock::new();

impl ReadKernels {
    /// The shared bank; the first call builds it (tens of milliseconds, allocates).
    pub fn shared() -> &'static ReadKernels {
        KERNELS.get_or_init(ReadKernels::build)
    }

    fn build() -> ReadKernels {
        ReadKernels { bands: BAND_SPEEDS.iter().map(|&s| Band::design(s)).collect() }
    }

    /// Taps of band `band`.
    pub fn taps(&self, band: usize) -> usize {
        self.bands[band].taps
    }

    /// The band for reading at `speed_abs` cells per sample, given the band
    /// used last.
    #[inline]
    pub fn band_for(speed_abs: f64, current: usize) -> usize {
        let mut band = current.min(BAND_SPEEDS.len() - 1);
        while band + 1 < BAND_SPEEDS.len() && speed_abs > BAND_SPEEDS[band] {
            band += 1;
        }
        while band > 0 && speed_abs < BAND_SPEEDS[band - 1] * BAND_HYSTERESIS {
            band -= 1;
        }
        band
    }

    /// Read at `frac` (0 ≤ frac < 1) cells past the centre of `window`,
    /// whose tap `taps / 2 - 1` is the cell at the read position's floor.
    #[inline]
    pub fn read(&self, path: CpuPath, band: usize, window: &[f32], frac: f64) -> f32 {
        let Weights { rows, deltas, t } = self.weights(band, frac);
        let cells = &window[..rows.len()];
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `CpuPath::Avx` is only ever chosen where the CPU has AVX
            // (`CpuPath::detect` / `available`).
            CpuPath::Avx => unsafe { dot_avx(rows, deltas, cells, t) },
            #[cfg(target_arch = "x86_64")]
            _ => dot_sse(rows, deltas, cells, t),
            #[cfg(not(target_arch = "x86_64"))]
            _ => dot_lanes(rows, deltas, cells, t),
        }
    }

    /// Two reads at once, each exactly as [`ReadKernels::read`] gives it:
    /// on AVX their dot products run side by side, so one's chain of adds
    /// fills the cycles the other waits for (each read's adds must stay in
    /// order to keep its bits, and that chain, not arithmetic, is what a
    /// long kernel costs).
    #[inline]
    pub fn read_pair(&self, path: CpuPath, a: (usize, &[f32], f64), b: (usize, &[f32], f64)) -> (f32, f32) {
        match path {
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx => {
                let (wa, wb) = (self.weights(a.0, a.2), self.weights(b.0, b.2));
                let (ca, cb) = (&a.1[..wa.rows.len()], &b.1[..wb.rows.len()]);
                // SAFETY: `CpuPath::Avx` is only ever chosen where the CPU has AVX.
                unsafe { dot_pair_avx(&wa, ca, &wb, cb) }
            }
            _ => (self.read(path, a.0, a.1, a.2), self.read(path, b.0, b.1, b.2)),
        }
    }

    /// Band `band`'s weights for a read `frac` cells past a cell: the table
    /// row below the phase, its difference to the next, and how far between.
    #[inline]
    fn weights(&self, band: usize, frac: f64) -> Weights<'_> {
        let band = &self.bands[band];
        let phase = frac * PHASES as f64;
        let row = (phase as usize).min(PHASES - 1);
        let t = (phase - row as f64) as f32;
        let range = row * band.taps..(row + 1) * band.taps;
        Weights { rows: &band.rows[range.clone()], deltas: &band.deltas[range], t }
    }
}

/// One read's kernel weights: `rows + t · deltas`, tap by tap.
struct Weights<'a> {
    rows: &'a [f32],
    deltas: &'a [f32],
    t: f32,
}

impl Band {
    fn design(max_speed: f64) -> Band {
        // Cycles per cell: the stop band starts where reading at `max_speed`
        // would fold; the cutoff sits mid-transition.
        let stop = 0.5 / max_speed;
        let pass = PASSBAND_FRACTION * stop;
        let transition = stop - pass;
        let cutoff = 0.5 * (stop + pass);
        // Kaiser's estimates of length and shape for the attenuation.
        let length = (STOPBAND_DB - 7.95) / (14.36 * transition) + 1.0;
        let taps = ((length / LANES as f64).ceil() as usize * LANES).min(MAX_TAPS);
        let beta = 0.1102 * (STOPBAND_DB - 8.7);
        let half = (taps / 2) as f64;
        let i0_beta = bessel_i0(beta);
        let mut rows = Vec::with_capacity((PHASES + 1) * taps);
        for r in 0..=PHASES {
            let frac = r as f64 / PHASES as f64;
            let start = rows.len();
            for j in 0..taps {
                // Offset of tap j from the read position, cells.
                let x = j as f64 - (half - 1.0) - frac;
                let u = x / half;
                let window = bessel_i0(beta * (1.0 - u * u).max(0.0).sqrt()) / i0_beta;
                rows.push(2.0 * cutoff * sinc(2.0 * cutoff * x) * window);
            }
            // Unit gain at DC at every phase.
            let sum: f64 = rows[start..].iter().sum();
            rows[start..].iter_mut().for_each(|w| *w /= sum);
        }
        let rows: Vec<f32> = rows.into_iter().map(|w| w as f32).collect();
        let deltas = (0..PHASES * taps).map(|i| rows[i + taps] - rows[i]).collect();
        Band { taps, rows, deltas }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        math::sin(px) / px
    }
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..100 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// `Σ (row + t · delta) · cell` in eight lanes, summed in a fixed tree: the
/// reference every instruction set's version matches bit for bit (and the
/// one built where there is no hand-written version).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn dot_lanes(rows: &[f32], deltas: &[f32], cells: &[f32], t: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    for ((r, d), c) in rows.chunks_exact(LANES).zip(deltas.chunks_exact(LANES)).zip(cells.chunks_exact(LANES))
    {
        for lane in 0..LANES {
            acc[lane] += (r[lane] + t * d[lane]) * c[lane];
        }
    }
    let quad = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    let pair = [quad[0] + quad[2], quad[1] + quad[3]];
    pair[0] + pair[1]
}

/// [`dot_lanes`] in one AVX register: lane for lane the same operations,
/// then the same tree (high half onto low, then pairs, then the last two).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_avx(rows: &[f32], deltas: &[f32], cells: &[f32], t: f32) -> f32 {
    use std::arch::x86_64::*;
    let blocks = rows.len() / LANES;
    assert!(deltas.len() >= blocks * LANES && cells.len() >= blocks * LANES);
    let tv = _mm256_set1_ps(t);
    let mut acc = _mm256_setzero_ps();
    for b in 0..blocks {
        // SAFETY: the assert above keeps every load inside the three slices.
        acc = unsafe { avx_block!(acc, tv, rows, deltas, cells, b) };
    }
    reduce_avx(acc)
}

/// One block of eight taps of [`dot_lanes`] added into `acc` (an AVX
/// register): `acc + (rows + t · deltas) · cells`. A macro, because an
/// `#[inline(always)]` function cannot carry `#[target_feature]`.
#[cfg(target_arch = "x86_64")]
macro_rules! avx_block {
    ($acc:expr, $tv:expr, $rows:expr, $deltas:expr, $cells:expr, $block:expr) => {{
        let at = $block * LANES;
        let r = _mm256_loadu_ps($rows.as_ptr().add(at));
        let d = _mm256_loadu_ps($deltas.as_ptr().add(at));
        let c = _mm256_loadu_ps($cells.as_ptr().add(at));
        _mm256_add_ps($acc, _mm256_mul_ps(_mm256_add_ps(r, _mm256_mul_ps($tv, d)), c))
    }};
}
#[cfg(target_arch = "x86_64")]
use avx_block;

/// Two [`dot_avx`]s in one loop, each accumulator with exactly its own
/// operations in its own order; the longer kernel finishes alone.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_pair_avx(a: &Weights, a_cells: &[f32], b: &Weights, b_cells: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let (a_blocks, b_blocks) = (a.rows.len() / LANES, b.rows.len() / LANES);
    assert!(a.deltas.len() >= a_blocks * LANES && a_cells.len() >= a_blocks * LANES);
    assert!(b.deltas.len() >= b_blocks * LANES && b_cells.len() >= b_blocks * LANES);
    let (a_t, b_t) = (_mm256_set1_ps(a.t), _mm256_set1_ps(b.t));
    let (mut a_acc, mut b_acc) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    // SAFETY (every block below): the asserts keep each load inside its slices.
    for block in 0..a_blocks.min(b_blocks) {
        unsafe {
            a_acc = avx_block!(a_acc, a_t, a.rows, a.deltas, a_cells, block);
            b_acc = avx_block!(b_acc, b_t, b.rows, b.deltas, b_cells, block);
        }
    }
    for block in b_blocks..a_blocks {
        a_acc = unsafe { avx_block!(a_acc, a_t, a.rows, a.deltas, a_cells, block) };
    }
    for block in a_blocks..b_blocks {
        b_acc = unsafe { avx_block!(b_acc, b_t, b.rows, b.deltas, b_cells, block) };
    }
    (reduce_avx(a_acc), reduce_avx(b_acc))
}

/// The tree at the end of [`dot_lanes`] for an AVX accumulator: high half
/// onto low, then pairs, then the last two.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn reduce_avx(acc: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    reduce_quad(_mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc)))
}

/// [`dot_lanes`] in two SSE registers (lanes 0–3 and 4–7): the baseline of
/// every x86-64 CPU.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn dot_sse(rows: &[f32], deltas: &[f32], cells: &[f32], t: f32) -> f32 {
    use std::arch::x86_64::*;
    let blocks = rows.len() / LANES;
    assert!(deltas.len() >= blocks * LANES && cells.len() >= blocks * LANES);
    // SAFETY: SSE is part of x86-64; the assert keeps every load in bounds.
    unsafe {
        let tv = _mm_set1_ps(t);
        let (mut low, mut high) = (_mm_setzero_ps(), _mm_setzero_ps());
        for b in 0..blocks {
            let at = b * LANES;
            for (acc, at) in [(&mut low, at), (&mut high, at + LANES / 2)] {
                let r = _mm_loadu_ps(rows.as_ptr().add(at));
                let d = _mm_loadu_ps(deltas.as_ptr().add(at));
                let c = _mm_loadu_ps(cells.as_ptr().add(at));
                *acc = _mm_add_ps(*acc, _mm_mul_ps(_mm_add_ps(r, _mm_mul_ps(tv, d)), c));
            }
        }
        reduce_quad(_mm_add_ps(low, high))
    }
}

/// `(q0 + q2) + (q1 + q3)`, the tail of [`dot_lanes`]'s tree.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn reduce_quad(quad: std::arch::x86_64::__m128) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE is part of x86-64.
    unsafe {
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Magnitude response of band `b` at phase row `r`, `f` cycles per cell.
    fn response(band: &Band, row: usize, f: f64) -> f64 {
        let taps = &band.rows[row * band.taps..(row + 1) * band.taps];
        let (mut re, mut im) = (0.0, 0.0);
        for (j, &w) in taps.iter().enumerate() {
            let arg = 2.0 * std::f64::consts::PI * f * j as f64;
            re += w as f64 * arg.cos();
            im += w as f64 * arg.sin();
        }
        (re * re + im * im).sqrt()
    }

    #[test]
    fn every_band_stops_what_would_fold_and_passes_its_band() {
        let kernels = ReadKernels::shared();
        for (b, band) in kernels.bands.iter().enumerate() {
            let stop = 0.5 / BAND_SPEEDS[b];
            for row in [0, 1, PHASES / 3, PHASES / 2, PHASES - 1] {
                let mut worst_stop = 0.0f64;
                for k in 0..=400 {
                    let f = stop + (0.5 - stop) * k as f64 / 400.0;
                    worst_stop = worst_stop.max(response(band, row, f));
                }
                let stop_db = 20.0 * worst_stop.log10();
                assert!(stop_db < -96.0, "band {b} row {row}: stop band {stop_db:.1} dB");
                for k in 0..=100 {
                    let f = PASSBAND_FRACTION * stop * k as f64 / 100.0;
                    let db = 20.0 * response(band, row, f).log10();
                    assert!(db.abs() < 0.01, "band {b} row {row}: {db:.4} dB at {f:.3}");
                }
            }
        }
    }

    #[test]
    fn bands_follow_speed_with_hysteresis() {
        assert_eq!(ReadKernels::band_for(1.0, 0), 0);
        assert_eq!(ReadKernels::band_for(1.07, 0), 1);
        // Just under band 0's top: stays in band 1 until clearly below.
        assert_eq!(ReadKernels::band_for(1.05, 1), 1);
        assert_eq!(ReadKernels::band_for(1.0, 1), 0);
        assert_eq!(ReadKernels::band_for(4.0, 0), 8);
        assert_eq!(ReadKernels::band_for(0.0, 9), 0);
        assert_eq!(ReadKernels::band_for(99.0, 0), BAND_SPEEDS.len() - 1);
    }

    /// `n` cells of white noise in −1..1 from `seed`.
    fn noise_cells(seed: u32, n: usize) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn a_pair_of_reads_gives_each_read_bit_for_bit() {
        let kernels = ReadKernels::shared();
        let (a_cells, b_cells) = (noise_cells(0x1234_5678, MAX_TAPS), noise_cells(0x0bad_cafe, MAX_TAPS));
        for path in CpuPath::available() {
            for a_band in 0..BAND_SPEEDS.len() {
                for b_band in 0..BAND_SPEEDS.len() {
                    for k in 0..31 {
                        let (a_frac, b_frac) = (k as f64 / 31.0, (30 - k) as f64 / 31.0 + 0.01);
                        let (a, b) =
                            kernels.read_pair(path, (a_band, &a_cells, a_frac), (b_band, &b_cells, b_frac));
                        let a_alone = kernels.read(path, a_band, &a_cells, a_frac);
                        let b_alone = kernels.read(path, b_band, &b_cells, b_frac);
                        let what = format!("{} bands {a_band} and {b_band}, k {k}", path.name());
                        assert_eq!(a.to_bits(), a_alone.to_bits(), "first read, {what}");
                        assert_eq!(b.to_bits(), b_alone.to_bits(), "second read, {what}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_cpu_path_gives_the_portable_result_bit_for_bit() {
        let kernels = ReadKernels::shared();
        let cells = noise_cells(0x1234_5678, MAX_TAPS);
        for path in CpuPath::available() {
            for band in 0..BAND_SPEEDS.len() {
                for k in 0..997 {
                    let frac = k as f64 / 997.0;
                    // The plain eight-lane loop, written out in Rust.
                    let b = &kernels.bands[band];
                    let phase = frac * PHASES as f64;
                    let row = (phase as usize).min(PHASES - 1);
                    let t = (phase - row as f64) as f32;
                    let range = row * b.taps..(row + 1) * b.taps;
                    let reference = dot_lanes(&b.rows[range.clone()], &b.deltas[range], &cells[..b.taps], t);
                    let read = kernels.read(path, band, &cells, frac);
                    assert_eq!(
                        reference.to_bits(),
                        read.to_bits(),
                        "{} band {band} frac {frac}",
                        path.name()
                    );
                }
            }
        }
    }
}

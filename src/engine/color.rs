//! Tape colour: record-head saturation, speed-dependent playback tone, hiss
//! and generation loss. `docs/tape-model.md` describes the models, their
//! references and the measurements the tests make.

mod anhysteretic;
mod saturation;
mod tone;

pub use saturation::{soft_curve, RecordSaturator};
pub use tone::{
    PlaybackTone, BUMP_FLOOR_HZ, BUMP_GAIN_DB, BUMP_HZ_AT_SPEED_1, COEF_UPDATE_INTERVAL,
    LOSS_CEILING_FRACTION_OF_FS, LOSS_FLOOR_HZ, LOSS_HZ_AT_SPEED_1, LOW_CUT_FRACTION_OF_BUMP,
};

use super::noise::{hash_unit, mix64, Rng};

/// Playback hiss generator: white, approximately Gaussian, exact RMS.
#[derive(Clone, Debug)]
pub struct Hiss {
    rng: Rng,
}

/// Mean and variance of the sum of four independent uniform
/// integers in 0..65536 (one 64-bit random word split in four).
const HISS_SUM_MEAN: f64 = 4.0 * 65_535.0 / 2.0;
const HISS_SUM_VARIANCE: f64 = 4.0 * (65_536.0 * 65_536.0 - 1.0) / 12.0;

impl Hiss {
    pub fn new(seed: u64) -> Self {
        Hiss { rng: Rng::new(seed) }
    }

    /// One sample of hiss with the given RMS (linear).
    ///
    /// The four 16-bit parts of one random word are summed (Irwin-Hall):
    /// nearly Gaussian, one hash per sample, and normalised with the exact
    /// variance of the discrete sum so the long-term RMS is `rms`.
    #[inline]
    pub fn next(&mut self, rms: f32) -> f32 {
        let bits = self.rng.next_u64();
        let sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
        let unit = (sum as f64 - HISS_SUM_MEAN) * (1.0 / HISS_SUM_VARIANCE.sqrt());
        unit as f32 * rms
    }
}

/// Strength of the per-pass smoothing at age 1: the 3-tap kernel is
/// [a, 1 - 2a, a] with a = `AGE_SMOOTHING_MAX * age`; at 0.25 it reaches a
/// zero at Nyquist (about -4 dB per pass at 10 kHz, -0.04 dB at 1 kHz, 48 kHz).
pub const AGE_SMOOTHING_MAX: f32 = 0.25;
/// Level lost per pass at the weakest spot at age 1: the cell is multiplied
/// by 1 - `AGE_DROPOUT_DEPTH * age * weakness`.
pub const AGE_DROPOUT_DEPTH: f32 = 0.5;
/// Lattice spacings of the two octaves of the weakness field, in seconds of
/// tape: a weak spot is about one spacing long at half depth.
pub const DROPOUT_SPACINGS_S: [f64; 2] = [0.010, 0.035];
/// Fraction of lattice points that are strong (weakness 0), per octave:
/// most of the tape is intact.
const DROPOUT_STRONG_FRACTION: [f32; 2] = [0.92, 0.94];

/// The lattice interval of the weakness field the head is in, per octave:
/// heads move cell by cell, so the two hashed end points are reused for a
/// whole interval instead of being hashed (and divided for) every cell.
#[derive(Clone, Copy, Debug)]
struct LatticeInterval {
    /// First cell of the interval (`usize::MAX` before first use).
    start: usize,
    /// Sparse weakness at the interval's two ends.
    a: f32,
    b: f32,
}

/// Generation loss applied to a cell each time the head passes it.
#[derive(Clone, Debug)]
pub struct Ageing {
    /// One hash seed per octave of the weakness field.
    seeds: [u64; 2],
    /// Lattice spacing per octave, in cells.
    spacings: [usize; 2],
    /// NOTE: a cache behind `&self`, so reading the (fixed) weakness stays a
    /// read; `Cell` of a `Copy` value costs nothing and never allocates.
    intervals: [std::cell::Cell<LatticeInterval>; 2],
}

impl Default for LatticeInterval {
    fn default() -> Self {
        LatticeInterval { start: usize::MAX, a: 0.0, b: 0.0 }
    }
}

impl Ageing {
    pub fn new(seed: u64, sample_rate: f64) -> Self {
        Ageing {
            seeds: [mix64(seed ^ 0xD0_0D), mix64(seed ^ 0x5EED_D0D0)],
            spacings: DROPOUT_SPACINGS_S.map(|s| ((s * sample_rate).round() as usize).max(1)),
            intervals: Default::default(),
        }
    }

    /// How weak the oxide is at this tape position, 0 (sound) to 1 (worn
    /// through). Fixed for the life of the tape: smooth value noise over the
    /// tape index, made sparse by keeping only the top of each octave.
    #[inline(always)]
    pub fn weakness(&self, index: usize) -> f32 {
        let mut weakest = 0.0f32;
        for (((&seed, &spacing), &strong), interval) in
            self.seeds.iter().zip(&self.spacings).zip(&DROPOUT_STRONG_FRACTION).zip(&self.intervals)
        {
            let mut known = interval.get();
            if index < known.start || index - known.start >= spacing {
                let lattice = (index / spacing) as u64;
                let sparse = |u: f32| ((u - strong) / (1.0 - strong)).max(0.0);
                known = LatticeInterval {
                    start: lattice as usize * spacing,
                    a: sparse(hash_unit(seed, lattice)),
                    b: sparse(hash_unit(seed, lattice.wrapping_add(1))),
                };
                interval.set(known);
            }
            // Most of the tape is sound: an interval weak at neither end
            // adds nothing (max with 0 + 0·t), so skip the division.
            if known.a != 0.0 || known.b != 0.0 {
                let frac = (index - known.start) as f32 / spacing as f32;
                let t = frac * frac * (3.0 - 2.0 * frac);
                weakest = weakest.max(known.a + (known.b - known.a) * t);
            }
        }
        weakest
    }

    /// One pass of loss for the cell at tape index `index` whose old neighbours
    /// (in tape order) are `before` and `after`. Age 0 returns `cell` exactly.
    #[inline(always)]
    pub fn apply(&self, cell: f32, before: f32, after: f32, index: usize, age: f32) -> f32 {
        if age <= 0.0 {
            return cell;
        }
        let age = age.min(1.0);
        // Symmetric kernel: HF loss without moving anything in time.
        let a = AGE_SMOOTHING_MAX * age;
        let smoothed = cell + a * (before + after - 2.0 * cell);
        let kept = 1.0 - AGE_DROPOUT_DEPTH * age * self.weakness(index);
        super::filter::flush_denormal(smoothed * kept)
    }
}

// The measurements of these models live in `tests/color_models.rs`.

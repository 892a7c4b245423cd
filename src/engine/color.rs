//! Tape colour: record-head saturation, speed-dependent playback tone, hiss
//! and generation loss. `docs/tape-model.md` describes the models, their
//! references and the measurements the tests make.

mod saturation;
mod tone;

pub use saturation::{soft_curve, RecordSaturator};
pub use tone::{
    PlaybackTone, BUMP_FLOOR_HZ, BUMP_GAIN_DB, BUMP_HZ_AT_SPEED_1, COEF_UPDATE_INTERVAL,
    LOSS_CEILING_FRACTION_OF_FS, LOSS_FLOOR_HZ, LOSS_HZ_AT_SPEED_1, LOW_CUT_FRACTION_OF_BUMP,
};

use super::noise::Rng;

/// Playback hiss generator.
#[derive(Clone, Debug)]
pub struct Hiss {
    rng: Rng,
}

impl Hiss {
    pub fn new(seed: u64) -> Self {
        Hiss { rng: Rng::new(seed) }
    }

    /// One sample of hiss with the given RMS (linear).
    #[inline]
    pub fn next(&mut self, rms: f32) -> f32 {
        (self.rng.gaussian() as f32) * rms
    }
}

/// Generation loss applied to a cell each time the head passes it.
#[derive(Clone, Debug)]
pub struct Ageing {
    seed: u64,
}

impl Ageing {
    pub fn new(seed: u64, _sample_rate: f64) -> Self {
        Ageing { seed }
    }

    /// One pass of loss for the cell at tape index `index` whose old neighbours
    /// (in tape order) are `before` and `after`.
    #[inline]
    pub fn apply(&self, cell: f32, before: f32, after: f32, index: usize, age: f32) -> f32 {
        let _ = (self.seed, index);
        let a = 0.25 * age;
        (1.0 - 2.0 * a) * cell + a * (before + after)
    }
}

#[cfg(test)]
mod tests;

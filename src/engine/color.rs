//! Tape colour: record-head saturation, speed-dependent playback tone, hiss
//! and generation loss. (Being written; the signatures are the contract.)

use super::params::{SaturationModel, ToneModel};

/// The record head's saturation, stepped once per tape cell written.
#[derive(Clone, Debug)]
pub struct RecordSaturator {
    model: SaturationModel,
}

impl RecordSaturator {
    pub fn new(model: SaturationModel, _sample_rate: f64) -> Self {
        RecordSaturator { model }
    }

    pub fn reset(&mut self) {}

    /// Signal at the record head in, magnetisation out; unity small-signal gain.
    #[inline]
    pub fn process(&mut self, x: f32) -> f32 {
        match self.model {
            SaturationModel::Off => x,
            _ => x.tanh(),
        }
    }
}

/// Loss filter and head bump, corners proportional to |speed|.
#[derive(Clone, Debug)]
pub struct PlaybackTone {
    model: ToneModel,
}

impl PlaybackTone {
    pub fn new(model: ToneModel, _sample_rate: f64) -> Self {
        PlaybackTone { model }
    }

    pub fn reset(&mut self) {}

    #[inline]
    pub fn process(&mut self, x: f32, _speed_abs: f32) -> f32 {
        let _ = self.model;
        x
    }
}

/// Playback hiss generator.
#[derive(Clone, Debug)]
pub struct Hiss {
    rng: super::noise::Rng,
}

impl Hiss {
    pub fn new(seed: u64) -> Self {
        Hiss { rng: super::noise::Rng::new(seed) }
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

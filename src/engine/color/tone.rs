//! Playback tone: the speed-dependent HF loss and head bump.

use super::super::filter::{flush_denormal, Biquad, BiquadCoefs};
use super::super::params::ToneModel;
use crate::engine::math;
use std::f64::consts::PI;

/// -3 dB corner of the HF loss at speed 1, in Hz. Spacing, thickness and gap
/// losses depend only on the recorded wavelength (tape speed / frequency), so
/// the corner moves in proportion to the speed.
pub const LOSS_HZ_AT_SPEED_1: f32 = 16_000.0;
/// Lowest HF-loss corner, in Hz, so a crawling tape stays a muffled signal
/// rather than a filter with no passband.
pub const LOSS_FLOOR_HZ: f32 = 100.0;
/// Highest HF-loss corner as a fraction of the sample rate: above it the
/// loss is out of the audio band anyway and the biquad would cramp.
pub const LOSS_CEILING_FRACTION_OF_FS: f32 = 0.45;
/// Butterworth: no resonance, -3 dB exactly at the corner.
const LOSS_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// Centre of the head bump at speed 1, in Hz: the playback head's contour
/// effect peaks where the wavelength is comparable to the head's face.
pub const BUMP_HZ_AT_SPEED_1: f32 = 70.0;
/// Lowest head-bump centre, in Hz (the tape is nearly stopped).
pub const BUMP_FLOOR_HZ: f32 = 8.0;
/// Height of the head-bump peaking filter, in dB. The low cut takes about
/// 0.5 dB off at the bump centre, so the net bump is about +2.5 dB.
pub const BUMP_GAIN_DB: f64 = 3.0;
/// Bandwidth of the head bump: about 1.4 octaves between the half-gain points.
const BUMP_Q: f64 = 1.0;
/// The low cut (two first-order high-passes, 12 dB/octave with no
/// resonance) sits this far below the bump centre: the contour effect falls
/// off below the bump and the playback head has no output at DC.
pub const LOW_CUT_FRACTION_OF_BUMP: f32 = 0.25;

/// Coefficients are recomputed every this many calls (0.33 ms at 48 kHz),
/// counted by the filter itself so the result never depends on block size.
/// NOTE: per-sample recomputation would cost three sin/cos pairs per sample
/// per track; on this grid it is under 5 % of the filtering itself.
pub const COEF_UPDATE_INTERVAL: u32 = 16;
/// Time constant of the speed smoothing that feeds the corners, in seconds:
/// fast enough to follow flutter, slow enough that steps between grid
/// points stay small.
const SPEED_SMOOTHING_S: f64 = 0.002;
/// Relative speed change below which the coefficients are left alone.
const SPEED_TOLERANCE: f32 = 1.0e-5;

/// Loss filter and head bump, corners proportional to |speed|.
#[derive(Clone, Debug)]
pub struct PlaybackTone {
    model: ToneModel,
    sample_rate: f64,
    smoothing: f32,
    /// Smoothed |speed|; negative until the first call after a reset.
    speed: f32,
    /// Speed the current coefficients were designed for.
    designed_speed: f32,
    counter: u32,
    loss: BiquadCoefs,
    bump: BiquadCoefs,
    low_cut: LowCut,
    loss_state: Biquad,
    bump_state: Biquad,
    /// The filters have come to rest on silence: with these coefficients,
    /// a +0 input leaves every state bit as it is and gives +0, so until
    /// the input or the coefficients change there is nothing to compute
    /// (the output of an unused track, playing blank tape).
    silent: bool,
}

impl PlaybackTone {
    pub fn new(model: ToneModel, sample_rate: f64) -> Self {
        let mut tone = PlaybackTone {
            model,
            sample_rate,
            smoothing: (1.0 - math::exp(-1.0 / (SPEED_SMOOTHING_S * sample_rate))) as f32,
            speed: -1.0,
            designed_speed: -1.0,
            counter: 0,
            loss: BiquadCoefs::IDENTITY,
            bump: BiquadCoefs::IDENTITY,
            low_cut: LowCut::default(),
            loss_state: Biquad::default(),
            bump_state: Biquad::default(),
            silent: false,
        };
        tone.design(1.0);
        tone
    }

    /// Clear the filter states; the next call snaps the smoothed speed to
    /// its argument.
    pub fn reset(&mut self) {
        self.speed = -1.0;
        self.counter = 0;
        self.loss_state.reset();
        self.bump_state.reset();
        self.low_cut.reset();
        self.silent = false;
    }

    /// -3 dB corner of the HF loss for this |speed|, in Hz, before the
    /// ceiling at `LOSS_CEILING_FRACTION_OF_FS` of the sample rate.
    pub fn loss_corner_hz(speed_abs: f32) -> f32 {
        (LOSS_HZ_AT_SPEED_1 * speed_abs.abs()).max(LOSS_FLOOR_HZ)
    }

    /// Centre of the head bump for this |speed|, in Hz.
    pub fn bump_hz(speed_abs: f32) -> f32 {
        (BUMP_HZ_AT_SPEED_1 * speed_abs.abs()).max(BUMP_FLOOR_HZ)
    }

    /// One output sample; `speed_abs` is |tape speed| (0 when stopped).
    #[inline]
    pub fn process(&mut self, x: f32, speed_abs: f32) -> f32 {
        if self.model == ToneModel::Flat {
            return x;
        }
        let target = if speed_abs.is_finite() { speed_abs.abs().min(8.0) } else { 1.0 };
        if self.speed < 0.0 {
            self.speed = target;
            self.counter = 0;
        } else {
            self.speed += self.smoothing * (target - self.speed);
        }
        if self.counter == 0
            && (self.speed - self.designed_speed).abs() > SPEED_TOLERANCE * self.designed_speed.max(0.01)
        {
            self.design(self.speed);
        }
        self.counter = if self.counter + 1 >= COEF_UPDATE_INTERVAL { 0 } else { self.counter + 1 };
        if x.to_bits() != 0 {
            self.silent = false;
            return self.filter(x);
        }
        if self.silent {
            return 0.0;
        }
        // Silence in: compute it, and whether it changed anything.
        let before = self.state_bits();
        let y = self.filter(x);
        self.silent = y.to_bits() == 0 && self.state_bits() == before;
        y
    }

    #[inline(always)]
    fn filter(&mut self, x: f32) -> f32 {
        let y = self.low_cut.process(x);
        let y = self.bump_state.process(&self.bump, y);
        flush_denormal(self.loss_state.process(&self.loss, y))
    }

    /// Every filter state's bits.
    fn state_bits(&self) -> [[u32; 2]; 4] {
        let bits = |pair: [f32; 2]| pair.map(f32::to_bits);
        [
            bits(self.low_cut.x1),
            bits(self.low_cut.y1),
            self.bump_state.state_bits(),
            self.loss_state.state_bits(),
        ]
    }

    fn design(&mut self, speed: f32) {
        let fs = self.sample_rate;
        let loss_hz = Self::loss_corner_hz(speed).min(LOSS_CEILING_FRACTION_OF_FS * fs as f32);
        let bump_hz = Self::bump_hz(speed);
        self.loss = BiquadCoefs::lowpass(fs, loss_hz as f64, LOSS_Q);
        self.bump = BiquadCoefs::peak(fs, bump_hz as f64, BUMP_Q, BUMP_GAIN_DB);
        self.low_cut.design(fs, (bump_hz * LOW_CUT_FRACTION_OF_BUMP) as f64);
        self.designed_speed = speed;
        // New coefficients may rest on silence differently (a zero's sign).
        self.silent = false;
    }
}

/// Two cascaded first-order high-passes (bilinear, prewarped).
///
/// NOTE: not a biquad: a single-precision biquad with its poles this close
/// to z = 1 leaks a few percent of DC through state rounding. Each section
/// here differences its input first, so a constant input gives exactly 0.
#[derive(Clone, Copy, Debug, Default)]
struct LowCut {
    /// (1 + pole) / 2: unity gain at Nyquist.
    gain: f32,
    pole: f32,
    x1: [f32; 2],
    y1: [f32; 2],
}

impl LowCut {
    fn design(&mut self, sample_rate: f64, hz: f64) {
        let t = math::tan(PI * hz.clamp(0.1, 0.4 * sample_rate) / sample_rate);
        let pole = (1.0 - t) / (1.0 + t);
        self.pole = pole as f32;
        self.gain = (0.5 * (1.0 + pole)) as f32;
    }

    fn reset(&mut self) {
        self.x1 = [0.0; 2];
        self.y1 = [0.0; 2];
    }

    #[inline]
    fn process(&mut self, x: f32) -> f32 {
        let mut v = x;
        for stage in 0..2 {
            let y = flush_denormal(self.gain * (v - self.x1[stage]) + self.pole * self.y1[stage]);
            self.x1[stage] = v;
            self.y1[stage] = y;
            v = y;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resting_on_silence_gives_the_bits_computing_it_gives() {
        let mut resting = PlaybackTone::new(ToneModel::Tape, 48_000.0);
        let mut computing = resting.clone();
        let mut rested = 0;
        // Silence, a tone, a long silence the filters ring down in, with the
        // speed held and then wobbling (new coefficients), and a tone again.
        for n in 0..60_000 {
            let x = match n {
                2_000..5_000 | 50_000.. => 0.3 * (n as f32 * 0.07).sin(),
                _ => 0.0,
            };
            let speed =
                if (30_000..40_000).contains(&n) { 1.0 + 0.01 * (n as f32 * 0.001).sin() } else { 1.0 };
            rested += usize::from(resting.silent);
            computing.silent = false;
            let (a, b) = (resting.process(x, speed), computing.process(x, speed));
            assert_eq!(a.to_bits(), b.to_bits(), "sample {n}");
            assert_eq!(resting.state_bits(), computing.state_bits(), "sample {n}");
        }
        assert!(rested > 20_000, "the filters rested for only {rested} samples");
    }
}

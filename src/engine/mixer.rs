//! Pan, master gain and the master limiter.

use super::filter::{db_to_gain, flush_denormal};
use crate::engine::math;

/// Ceiling of the master limiter: -1 dBFS.
pub const LIMITER_CEILING: f32 = 0.891_250_9;
/// Limiter release time constant, seconds.
const LIMITER_RELEASE_S: f64 = 0.15;
/// Time constant of parameter smoothing (level, pan, master), seconds.
pub const SMOOTHING_S: f64 = 0.005;

/// One-pole smoothing coefficient for a time constant in seconds.
pub fn smoothing_coefficient(sample_rate: f64, seconds: f64) -> f32 {
    (1.0 - math::exp(-1.0 / (sample_rate * seconds))) as f32
}

/// Equal-power pan law: gains for (left, right), each 1/√2 at centre.
pub fn pan_gains(pan: f32) -> (f32, f32) {
    let angle = (pan.clamp(-1.0, 1.0) + 1.0) * std::f32::consts::FRAC_PI_4;
    let (sin, cos) = math::sin_cos(f64::from(angle));
    (cos as f32, sin as f32)
}

/// Per-track pan state, smoothed so moving a knob never clicks.
#[derive(Clone, Copy, Debug)]
pub struct PanStage {
    left: f32,
    right: f32,
}

impl PanStage {
    pub fn new(pan: f32) -> Self {
        let (left, right) = pan_gains(pan);
        PanStage { left, right }
    }

    /// Mix a run of mono samples into the stereo bus, the gains gliding
    /// toward `target` by `coefficient` per sample. Once they have arrived
    /// the rest of the run is a plain multiply-add at constant gains.
    #[inline]
    pub fn mix(
        &mut self,
        target: (f32, f32),
        coefficient: f32,
        x: &[f32],
        left: &mut [f32],
        right: &mut [f32],
    ) {
        let n = x.len().min(left.len()).min(right.len());
        let mut i = 0;
        while i < n && (self.left != target.0 || self.right != target.1) {
            self.left = glide(self.left, target.0, coefficient);
            self.right = glide(self.right, target.1, coefficient);
            left[i] += self.left * x[i];
            right[i] += self.right * x[i];
            i += 1;
        }
        let (gain_left, gain_right) = (self.left, self.right);
        for ((&x, l), r) in x[i..n].iter().zip(&mut left[i..n]).zip(&mut right[i..n]) {
            *l += gain_left * x;
            *r += gain_right * x;
        }
    }
}

/// One step of a one-pole glide, landing exactly on the target once within
/// 1e-6 of it (−120 dB: inaudible; a glide alone can stall an ulp away).
#[inline]
fn glide(value: f32, target: f32, coefficient: f32) -> f32 {
    let next = value + coefficient * (target - value);
    if (target - next).abs() <= 1e-6 {
        target
    } else {
        next
    }
}

/// Master gain and a peak limiter with instant attack and smooth release:
/// the output never exceeds the ceiling, and is never NaN or infinite.
#[derive(Clone, Debug)]
pub struct MasterBus {
    gain: f32,
    target_gain: f32,
    smoothing: f32,
    envelope: f32,
    release: f32,
}

impl MasterBus {
    pub fn new(sample_rate: f64, master_db: f32) -> Self {
        let gain = db_to_gain(master_db);
        MasterBus {
            gain,
            target_gain: gain,
            smoothing: smoothing_coefficient(sample_rate, SMOOTHING_S),
            envelope: 0.0,
            release: math::exp(-1.0 / (sample_rate * LIMITER_RELEASE_S)) as f32,
        }
    }

    pub fn set_master_db(&mut self, db: f32) {
        self.target_gain = db_to_gain(db);
    }

    /// Apply gain and limiting to one stereo frame in place.
    #[inline]
    pub fn process(&mut self, left: &mut f32, right: &mut f32) {
        self.gain += self.smoothing * (self.target_gain - self.gain);
        let (mut l, mut r) = (*left * self.gain, *right * self.gain);
        if !(l.is_finite() && r.is_finite()) {
            l = 0.0;
            r = 0.0;
        }
        let peak = l.abs().max(r.abs());
        self.envelope =
            if peak > self.envelope { peak } else { peak + self.release * (self.envelope - peak) };
        if self.envelope > LIMITER_CEILING {
            let g = LIMITER_CEILING / self.envelope;
            l *= g;
            r *= g;
        }
        *left = flush_denormal(l.clamp(-1.0, 1.0));
        *right = flush_denormal(r.clamp(-1.0, 1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_holds_the_ceiling_and_passes_quiet_signals() {
        let mut bus = MasterBus::new(48_000.0, 0.0);
        let (mut l, mut r) = (0.5, -0.25);
        bus.process(&mut l, &mut r);
        assert_eq!((l, r), (0.5, -0.25));
        for _ in 0..100 {
            let (mut l, mut r) = (8.0, f32::NAN);
            bus.process(&mut l, &mut r);
            assert!(l.abs() <= LIMITER_CEILING + 1e-6 && r == 0.0);
        }
    }

    #[test]
    fn centre_pan_is_equal_power() {
        let (l, r) = pan_gains(0.0);
        assert!((l * l + r * r - 1.0).abs() < 1e-6 && (l - r).abs() < 1e-6);
    }
}

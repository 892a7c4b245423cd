//! Small filter building blocks shared by the tape model.

use crate::engine::math;
use std::f64::consts::PI;

/// Values smaller than this are flushed to zero in filter states and on tape,
/// so decaying signals never reach the (slow) denormal range.
pub const DENORMAL_FLOOR: f32 = 1.0e-20;

#[inline]
pub fn flush_denormal(x: f32) -> f32 {
    if x.abs() < DENORMAL_FLOOR {
        0.0
    } else {
        x
    }
}

/// Biquad coefficients (normalised, a0 = 1), computed in f64 for accuracy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BiquadCoefs {
    pub b0: f32,
    pub b1: f32,
    pub b2: f32,
    pub a1: f32,
    pub a2: f32,
}

impl BiquadCoefs {
    pub const IDENTITY: BiquadCoefs = BiquadCoefs { b0: 1.0, b1: 0.0, b2: 0.0, a1: 0.0, a2: 0.0 };

    /// Group delay at DC, samples: how long the filter delays slow signals.
    pub fn dc_group_delay(&self) -> f64 {
        let (b0, b1, b2) = (self.b0 as f64, self.b1 as f64, self.b2 as f64);
        let (a1, a2) = (self.a1 as f64, self.a2 as f64);
        let (numerator, denominator) = (b0 + b1 + b2, 1.0 + a1 + a2);
        if numerator == 0.0 || denominator == 0.0 {
            return 0.0;
        }
        (b1 + 2.0 * b2) / numerator - (a1 + 2.0 * a2) / denominator
    }

    /// RBJ cookbook low-pass; `hz` is clamped below Nyquist.
    pub fn lowpass(sample_rate: f64, hz: f64, q: f64) -> Self {
        let (cos_w, alpha) = Self::prewarp(sample_rate, hz, q);
        let a0 = 1.0 + alpha;
        Self::normalise((1.0 - cos_w) / 2.0, 1.0 - cos_w, (1.0 - cos_w) / 2.0, a0, -2.0 * cos_w, 1.0 - alpha)
    }

    /// RBJ cookbook high-pass.
    pub fn highpass(sample_rate: f64, hz: f64, q: f64) -> Self {
        let (cos_w, alpha) = Self::prewarp(sample_rate, hz, q);
        let a0 = 1.0 + alpha;
        Self::normalise(
            (1.0 + cos_w) / 2.0,
            -(1.0 + cos_w),
            (1.0 + cos_w) / 2.0,
            a0,
            -2.0 * cos_w,
            1.0 - alpha,
        )
    }

    /// RBJ cookbook peaking equaliser.
    pub fn peak(sample_rate: f64, hz: f64, q: f64, gain_db: f64) -> Self {
        let (cos_w, alpha) = Self::prewarp(sample_rate, hz, q);
        let a = math::exp10(gain_db / 40.0);
        Self::normalise(
            1.0 + alpha * a,
            -2.0 * cos_w,
            1.0 - alpha * a,
            1.0 + alpha / a,
            -2.0 * cos_w,
            1.0 - alpha / a,
        )
    }

    fn prewarp(sample_rate: f64, hz: f64, q: f64) -> (f64, f64) {
        let hz = hz.clamp(1.0, sample_rate * 0.49);
        let w = 2.0 * PI * hz / sample_rate;
        let (sin_w, cos_w) = math::sin_cos(w);
        (cos_w, sin_w / (2.0 * q))
    }

    fn normalise(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        BiquadCoefs {
            b0: (b0 / a0) as f32,
            b1: (b1 / a0) as f32,
            b2: (b2 / a0) as f32,
            a1: (a1 / a0) as f32,
            a2: (a2 / a0) as f32,
        }
    }
}

/// Transposed direct form II biquad.
#[derive(Clone, Copy, Debug, Default)]
pub struct Biquad {
    s1: f32,
    s2: f32,
}

impl Biquad {
    #[inline]
    pub fn process(&mut self, c: &BiquadCoefs, x: f32) -> f32 {
        let y = c.b0 * x + self.s1;
        self.s1 = flush_denormal(c.b1 * x - c.a1 * y + self.s2);
        self.s2 = flush_denormal(c.b2 * x - c.a2 * y);
        y
    }

    /// The state's bits (a zero's sign included), to tell a state that
    /// has stopped changing.
    pub fn state_bits(&self) -> [u32; 2] {
        [self.s1.to_bits(), self.s2.to_bits()]
    }

    pub fn reset(&mut self) {
        *self = Biquad::default();
    }
}

/// Linear ramp toward a target over a fixed number of samples: the click-free
/// way to change a gain. Per-sample, so block-size invariant.
#[derive(Clone, Copy, Debug)]
pub struct Ramp {
    value: f32,
    target: f32,
    step: f32,
    remaining: u32,
    length: u32,
}

impl Ramp {
    pub fn new(value: f32, length: u32) -> Self {
        Ramp { value, target: value, step: 0.0, remaining: 0, length: length.max(1) }
    }

    pub fn set_target(&mut self, target: f32) {
        if target != self.target {
            self.target = target;
            self.remaining = self.length;
            self.step = (target - self.value) / self.length as f32;
        }
    }

    /// Jump straight to a value (at load, or when nobody can hear it).
    pub fn jump(&mut self, value: f32) {
        self.value = value;
        self.target = value;
        self.remaining = 0;
    }

    #[inline]
    pub fn advance(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.value = if self.remaining == 0 { self.target } else { self.value + self.step };
        }
        self.value
    }

    pub fn value(&self) -> f32 {
        self.value
    }

    pub fn target(&self) -> f32 {
        self.target
    }

    pub fn is_settled(&self) -> bool {
        self.remaining == 0
    }

    /// Samples a change takes.
    pub fn ramp_samples(&self) -> u32 {
        self.length
    }
}

/// Floor of a finite value that fits in an `i64`, without a libm call
/// (`f64::floor` is a function call on baseline x86-64; this is one
/// truncating conversion and a compare).
#[inline]
pub fn fast_floor(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

/// Ceiling, likewise.
#[inline]
pub fn fast_ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x {
        t + 1.0
    } else {
        t
    }
}

/// dB to linear gain; -120 dB and below is treated as silence.
pub fn db_to_gain(db: f32) -> f32 {
    if db <= -120.0 {
        0.0
    } else {
        math::exp10(f64::from(db) / 20.0) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_reaches_target_exactly_after_its_length() {
        let mut r = Ramp::new(0.0, 4);
        r.set_target(1.0);
        let v: Vec<f32> = (0..5).map(|_| r.advance()).collect();
        assert_eq!(v, vec![0.25, 0.5, 0.75, 1.0, 1.0]);
    }

    #[test]
    fn fast_floor_and_ceil_agree_with_the_library() {
        for i in -2000..2000 {
            let x = i as f64 * 0.37 + 0.001 * (i % 7) as f64;
            assert_eq!(fast_floor(x), x.floor(), "{x}");
            assert_eq!(fast_ceil(x), x.ceil(), "{x}");
        }
        for x in [0.0, -0.0, 3.0, -3.0, 1e-300, -1e-300] {
            assert_eq!(fast_floor(x), x.floor());
            assert_eq!(fast_ceil(x), x.ceil());
        }
    }

    #[test]
    fn lowpass_passes_dc_with_unity_gain() {
        let c = BiquadCoefs::lowpass(48_000.0, 1_000.0, 0.707);
        let mut f = Biquad::default();
        let mut y = 0.0;
        for _ in 0..10_000 {
            y = f.process(&c, 1.0);
        }
        assert!((y - 1.0).abs() < 1e-4);
    }
}

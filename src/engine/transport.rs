//! The motor: a target speed followed with inertia, times
//! (1 + wow + flutter + drift). Both heads ride on this one transport.

use super::filter::fast_floor;
use super::noise::Rng;
use super::params::{Param, TrackParams};
use crate::engine::math;
use std::f64::consts::TAU;

/// The flutter's 2nd and 3rd harmonics (a real capstan's eccentricity is not
/// a pure sine): relative amplitudes 0.35 and 0.15 at phases 0.9 and 2.1 rad,
/// stored as (amplitude·cos φ, amplitude·sin φ) so the waveform needs only
/// one sine and one cosine per sample.
const FLUTTER_H2: (f64, f64) = (0.217563488894733, 0.274164418369619);
const FLUTTER_H3: (f64, f64) = (-0.075726915689979, 0.129481404997331);

/// Correlation time of the drift random walk, in seconds.
const DRIFT_TIME_S: f64 = 2.0;
/// Corner of the smoothing applied after the random walk, in Hz.
const DRIFT_SMOOTH_HZ: f64 = 2.0;

/// Wow, flutter and drift are computed every this many samples and
/// interpolated linearly in between: their fastest component (the third
/// flutter harmonic, at most 90 Hz) is then sampled at 3 kHz, and the
/// interpolation error stays below 0.1 % of the modulation depth.
pub const MODULATION_INTERVAL: u32 = 16;

/// A critically damped motor reaches 99 % of a step after this many
/// natural periods (1 - (1 + x) e^-x = 0.99 at x ≈ 6.64).
const SETTLE_PERIODS: f64 = 6.64;

/// Speed modulation and motor state of one track's transport.
#[derive(Clone, Debug)]
pub struct Transport {
    sample_period: f64,
    /// Motor speed (ratio) and its rate of change (ratio per second).
    motor: f64,
    motor_rate: f64,
    /// Phases in cycles, 0..1.
    wow_phase: f64,
    flutter_phase: f64,
    /// Ornstein-Uhlenbeck state (unit variance) and its smoothed value.
    drift_walk: f64,
    drift_smooth: f64,
    rng: Rng,
    /// Peak of the unscaled flutter waveform, so `flutter_pct` is the true peak.
    flutter_peak: f64,
    /// Speed including modulation, cells per sample, last computed.
    speed: f64,
    /// Drift walk coefficients for this sample rate: pull toward zero,
    /// noise scale, and the smoother's step.
    drift_pull: f64,
    drift_noise: f64,
    drift_smoothing: f64,
    /// Modulation (wow + flutter + drift, as a fraction) at the last control
    /// point, the step to add per sample toward the next, and samples left.
    modulation: f64,
    modulation_step: f64,
    modulation_countdown: u32,
}

impl Transport {
    pub fn new(sample_rate: f64, seed: u64, initial_speed: f64) -> Self {
        let mut rng = Rng::fork(seed, 0x7261_6e73);
        // Start each track's wobble at its own phase so tracks do not move in lockstep.
        let wow_phase = rng.uniform();
        let flutter_phase = rng.uniform();
        Transport {
            sample_period: 1.0 / sample_rate,
            motor: initial_speed,
            motor_rate: 0.0,
            wow_phase,
            flutter_phase,
            drift_walk: 0.0,
            drift_smooth: 0.0,
            rng,
            flutter_peak: flutter_waveform_peak(),
            speed: initial_speed,
            drift_pull: MODULATION_INTERVAL as f64 / (sample_rate * DRIFT_TIME_S),
            drift_noise: (2.0 * MODULATION_INTERVAL as f64 / (sample_rate * DRIFT_TIME_S)).sqrt(),
            drift_smoothing: 1.0
                - math::exp(-TAU * DRIFT_SMOOTH_HZ * MODULATION_INTERVAL as f64 / sample_rate),
            modulation: 0.0,
            modulation_step: 0.0,
            modulation_countdown: 0,
        }
    }

    /// Stop the motor at once (it starts again from standstill).
    pub fn halt(&mut self) {
        self.motor = 0.0;
        self.motor_rate = 0.0;
    }

    /// Advance one sample toward `target` (ratio) and return the tape speed
    /// in cells per sample, modulation included.
    #[inline]
    pub fn next(&mut self, params: &TrackParams, target: f64) -> f64 {
        (self.motor, self.motor_rate) = self.follow(params, target);

        if self.modulation_countdown == 0 {
            self.modulation_countdown = MODULATION_INTERVAL;
            let next = self.modulation_point(params);
            self.modulation_step = (next - self.modulation) / MODULATION_INTERVAL as f64;
        }
        self.modulation_countdown -= 1;
        self.modulation += self.modulation_step;

        self.speed = self.motor * (1.0 + self.modulation);
        self.speed
    }

    /// The motor's speed and rate after one more sample toward `target`.
    #[inline(always)]
    fn follow(&self, params: &TrackParams, target: f64) -> (f64, f64) {
        let dt = self.sample_period;
        let inertia = params.get(Param::InertiaS) as f64;
        if inertia <= dt * 4.0 {
            return (target, 0.0);
        }
        // Critically damped second-order follower (semi-implicit Euler):
        // no overshoot, settles to 1 % within `inertia_s`.
        let omega = SETTLE_PERIODS / inertia;
        let accel = omega * omega * (target - self.motor) - 2.0 * omega * self.motor_rate;
        let rate = self.motor_rate + accel * dt;
        (self.motor + rate * dt, rate)
    }

    /// Whether the next samples' speed is known already: the motor stands
    /// at a fixed point of its follower toward `target` (a step leaves its
    /// speed and rate as they are, to the bit: at the target, or an ulp
    /// short of it where the rate's step rounds away) and wow, flutter and
    /// drift are at zero depth with nothing left of them (the modulation
    /// and its step are zero). [`Transport::coast`] then does what that
    /// many calls of [`Transport::next`] would.
    pub fn coasts_at(&self, params: &TrackParams, target: f64) -> bool {
        let (motor, rate) = self.follow(params, target);
        motor.to_bits() == self.motor.to_bits()
            && rate.to_bits() == self.motor_rate.to_bits()
            && self.modulation == 0.0
            && self.modulation_step == 0.0
            && [Param::WowPct, Param::FlutterPct, Param::DriftPct]
                .iter()
                .all(|&depth| params.get(depth) == 0.0)
    }

    /// What every call of [`Transport::next`] returns while the motor
    /// coasts (see [`Transport::coasts_at`]): the motor's speed times one
    /// plus a modulation of zero.
    pub fn coasting_speed(&self) -> f64 {
        self.motor * (1.0 + self.modulation)
    }

    /// `samples` calls of [`Transport::next`] toward `target`, for a motor
    /// that [`Transport::coasts_at`] it; returns the speed every one of
    /// them returns. The follower stays at its fixed point, the modulation
    /// stays zero and the modulators still advance at their control points,
    /// so the state ends as the calls leave it, to the bit.
    pub fn coast(&mut self, params: &TrackParams, target: f64, samples: usize) -> f64 {
        debug_assert!(self.coasts_at(params, target), "a motor with somewhere to go");
        if samples == 0 {
            return self.speed;
        }
        let mut left = samples;
        while left > 0 {
            if self.modulation_countdown == 0 {
                self.modulation_countdown = MODULATION_INTERVAL;
                let next = self.modulation_point(params);
                self.modulation_step = (next - self.modulation) / MODULATION_INTERVAL as f64;
            }
            let run = left.min(self.modulation_countdown as usize);
            self.modulation_countdown -= run as u32;
            // Adding a zero step `run` times: the first add gives the sum's
            // sign (-0 only from -0 + -0), and adding the step again keeps it.
            self.modulation += self.modulation_step;
            left -= run;
        }
        self.speed = self.motor * (1.0 + self.modulation);
        self.speed
    }

    /// Advance the modulators by one control interval and return wow +
    /// flutter + drift there, as a fraction of the motor speed.
    fn modulation_point(&mut self, params: &TrackParams) -> f64 {
        let interval = self.sample_period * MODULATION_INTERVAL as f64;
        let wow_depth = params.get(Param::WowPct) as f64 * 0.01;
        let flutter_depth = params.get(Param::FlutterPct) as f64 * 0.01;
        let drift_depth = params.get(Param::DriftPct) as f64 * 0.01;

        self.wow_phase = advance(self.wow_phase, params.get(Param::WowHz) as f64 * interval);
        self.flutter_phase = advance(self.flutter_phase, params.get(Param::FlutterHz) as f64 * interval);
        let wow = if wow_depth > 0.0 { wow_depth * sin_turns(self.wow_phase) } else { 0.0 };
        let flutter = if flutter_depth > 0.0 {
            flutter_depth * flutter_waveform(self.flutter_phase) / self.flutter_peak
        } else {
            0.0
        };

        // Drift: unit-variance Ornstein-Uhlenbeck walk, then a gentle smoother.
        // Runs even at zero depth so turning it up does not replay old values.
        self.drift_walk += -self.drift_pull * self.drift_walk + self.drift_noise * self.rng.gaussian_cheap();
        self.drift_smooth += self.drift_smoothing * (self.drift_walk - self.drift_smooth);
        wow + flutter + drift_depth * self.drift_smooth
    }

    /// The motor's own speed (no modulation), ratio.
    pub fn motor_speed(&self) -> f64 {
        self.motor
    }

    /// The last computed tape speed, modulation included.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Set the motor to a speed at once (loading, tests).
    pub fn jump_to(&mut self, speed: f64) {
        self.motor = speed;
        self.motor_rate = 0.0;
        self.speed = speed;
    }
}

#[inline]
fn advance(phase: f64, step: f64) -> f64 {
    let p = phase + step;
    p - fast_floor(p)
}

#[inline]
fn flutter_waveform(phase: f64) -> f64 {
    let s = sin_turns(phase);
    let c = sin_turns(phase + 0.25);
    // Multiple-angle identities: sin 2θ, cos 2θ, sin 3θ, cos 3θ from sin θ, cos θ.
    let (s2, c2) = (2.0 * s * c, 1.0 - 2.0 * s * s);
    let (s3, c3) = (s * (3.0 - 4.0 * s * s), c * (4.0 * c * c - 3.0));
    s + s2 * FLUTTER_H2.0 + c2 * FLUTTER_H2.1 + s3 * FLUTTER_H3.0 + c3 * FLUTTER_H3.1
}

/// sin(2π·turns) by range reduction and an odd Taylor polynomial to the
/// 13th power: error below 1e-9, several times cheaper than `f64::sin`,
/// and the same on every platform.
#[inline]
pub fn sin_turns(turns: f64) -> f64 {
    // Reduce to [-0.5, 0.5), then fold into [-0.25, 0.25] (sin(π - x) = sin x).
    let mut x = turns - fast_floor(turns + 0.5);
    if x > 0.25 {
        x = 0.5 - x;
    } else if x < -0.25 {
        x = -0.5 - x;
    }
    let y = TAU * x;
    let y2 = y * y;
    let mut p = 1.0 / 6_227_020_800.0;
    for denominator in [-39_916_800.0, 362_880.0, -5_040.0, 120.0, -6.0] {
        p = p * y2 + 1.0 / denominator;
    }
    y + y * y2 * p
}

fn flutter_waveform_peak() -> f64 {
    (0..4096).map(|i| flutter_waveform(i as f64 / 4096.0).abs()).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn still_params() -> TrackParams {
        let mut p = TrackParams::default();
        p.set(Param::WowPct, 0.0);
        p.set(Param::FlutterPct, 0.0);
        p
    }

    #[test]
    fn motor_glides_without_overshoot_and_settles_within_inertia() {
        let mut params = still_params();
        params.set(Param::InertiaS, 0.5);
        let mut t = Transport::new(48_000.0, 1, 0.0);
        let mut prev = 0.0;
        let mut settled_at = None;
        for n in 0..48_000 {
            let v = t.next(&params, 1.0);
            assert!(v >= prev - 1e-12 && v <= 1.0 + 1e-9, "monotonic glide");
            assert!(v - prev < 0.001, "no jump");
            if settled_at.is_none() && v >= 0.99 {
                settled_at = Some(n);
            }
            prev = v;
        }
        let settled = settled_at.unwrap() as f64 / 48_000.0;
        assert!(settled <= 0.5 && settled > 0.4, "settled after {settled} s");
    }

    #[test]
    fn coasting_leaves_the_motor_as_every_sample_would() {
        for (inertia, wow_then) in [(0.3, 0.0), (0.3, 0.5), (0.0, 0.5), (2.0, 0.0)] {
            let mut params = still_params();
            params.set(Param::DriftPct, 0.0);
            params.set(Param::InertiaS, inertia);
            params.set(Param::WowPct, wow_then);
            let mut t = Transport::new(48_000.0, 9, 0.0);
            // A glide to speed 1, wow (if any) turned off after a while:
            // then the motor has to come to rest before it coasts.
            let mut n = 0;
            while !t.coasts_at(&params, 1.0) {
                t.next(&params, 1.0);
                n += 1;
                if n == 24_000 {
                    params.set(Param::WowPct, 0.0);
                }
                assert!(n < 48_000 * 30, "inertia {inertia}: the motor never came to rest: {t:?}");
            }
            for samples in [1, 5, 16, 17, 256, 1000] {
                let mut by_sample = t.clone();
                let speeds: Vec<u64> = (0..samples).map(|_| by_sample.next(&params, 1.0).to_bits()).collect();
                let coasted = t.coasting_speed();
                let speed = t.coast(&params, 1.0, samples);
                assert!(speeds.iter().all(|&s| s == coasted.to_bits() && s == speed.to_bits()), "{speeds:?}");
                assert_eq!(
                    format!("{t:?}"),
                    format!("{by_sample:?}"),
                    "inertia {inertia}, {samples} samples"
                );
                assert!(t.coasts_at(&params, 1.0));
            }
        }
    }

    #[test]
    fn polynomial_sine_matches_the_library_sine() {
        let worst = (0..100_000)
            .map(|i| {
                let turns = i as f64 / 12_345.678 - 3.0;
                (sin_turns(turns) - (TAU * turns).sin()).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < 1e-9, "worst error {worst}");
    }

    #[test]
    fn flutter_peak_matches_setting() {
        let mut params = still_params();
        params.set(Param::FlutterPct, 1.0);
        params.set(Param::InertiaS, 0.0);
        let mut t = Transport::new(48_000.0, 1, 1.0);
        let peak = (0..48_000).map(|_| (t.next(&params, 1.0) - 1.0).abs()).fold(0.0, f64::max);
        assert!((peak - 0.01).abs() < 0.0002, "peak {peak}");
    }
}

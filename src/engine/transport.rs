//! The motor: a target speed followed with inertia, times
//! (1 + wow + flutter + drift). Both heads ride on this one transport.

use super::noise::Rng;
use super::params::{Param, TrackParams};
use std::f64::consts::TAU;

/// Relative amplitude and phase (radians) of the flutter's 2nd and 3rd
/// harmonics: a real capstan's eccentricity is not a pure sine.
const FLUTTER_HARMONICS: [(f64, f64); 2] = [(0.35, 0.9), (0.15, 2.1)];

/// Correlation time of the drift random walk, in seconds.
const DRIFT_TIME_S: f64 = 2.0;
/// Corner of the smoothing applied after the random walk, in Hz.
const DRIFT_SMOOTH_HZ: f64 = 2.0;

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
        }
    }

    /// Advance one sample toward `target` (ratio) and return the tape speed
    /// in cells per sample, modulation included.
    #[inline]
    pub fn next(&mut self, params: &TrackParams, target: f64) -> f64 {
        let dt = self.sample_period;
        let inertia = params.get(Param::InertiaS) as f64;
        if inertia <= dt * 4.0 {
            self.motor = target;
            self.motor_rate = 0.0;
        } else {
            // Critically damped second-order follower (semi-implicit Euler):
            // no overshoot, settles to 1 % within `inertia_s`.
            let omega = SETTLE_PERIODS / inertia;
            let accel = omega * omega * (target - self.motor) - 2.0 * omega * self.motor_rate;
            self.motor_rate += accel * dt;
            self.motor += self.motor_rate * dt;
        }

        let wow_depth = params.get(Param::WowPct) as f64 * 0.01;
        let flutter_depth = params.get(Param::FlutterPct) as f64 * 0.01;
        let drift_depth = params.get(Param::DriftPct) as f64 * 0.01;

        self.wow_phase = advance(self.wow_phase, params.get(Param::WowHz) as f64 * dt);
        self.flutter_phase = advance(self.flutter_phase, params.get(Param::FlutterHz) as f64 * dt);
        let wow = wow_depth * (TAU * self.wow_phase).sin();
        let flutter = if flutter_depth > 0.0 {
            flutter_depth * flutter_waveform(self.flutter_phase) / self.flutter_peak
        } else {
            0.0
        };

        // Drift: unit-variance Ornstein-Uhlenbeck walk, then a gentle smoother.
        // Runs even at zero depth so turning it up does not replay old values.
        let theta = dt / DRIFT_TIME_S;
        self.drift_walk += -theta * self.drift_walk + (2.0 * theta).sqrt() * self.rng.gaussian();
        let smooth = 1.0 - (-TAU * DRIFT_SMOOTH_HZ * dt).exp();
        self.drift_smooth += smooth * (self.drift_walk - self.drift_smooth);
        let drift = drift_depth * self.drift_smooth;

        self.speed = self.motor * (1.0 + wow + flutter + drift);
        self.speed
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
    p - p.floor()
}

#[inline]
fn flutter_waveform(phase: f64) -> f64 {
    let theta = TAU * phase;
    let mut y = theta.sin();
    for (k, (amp, offset)) in FLUTTER_HARMONICS.iter().enumerate() {
        y += amp * ((k as f64 + 2.0) * theta + offset).sin();
    }
    y
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
    fn flutter_peak_matches_setting() {
        let mut params = still_params();
        params.set(Param::FlutterPct, 1.0);
        params.set(Param::InertiaS, 0.0);
        let mut t = Transport::new(48_000.0, 1, 1.0);
        let peak = (0..48_000).map(|_| (t.next(&params, 1.0) - 1.0).abs()).fold(0.0, f64::max);
        assert!((peak - 0.01).abs() < 0.0002, "peak {peak}");
    }
}

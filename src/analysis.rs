//! Measuring audio: frequency, level, period and distortion. Used by the
//! test suite and the benchmarks to judge rendered output by numbers.

use std::f64::consts::TAU;

/// Root-mean-square level.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

/// A linear level in dB (silence floors at -240 dB).
pub fn db(level: f64) -> f64 {
    20.0 * level.max(1e-12).log10()
}

/// Largest absolute sample.
pub fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Times (in samples, fractional) where the signal crosses zero going up.
pub fn upward_crossings(x: &[f32]) -> Vec<f64> {
    x.windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + (-w[0] as f64) / (w[1] as f64 - w[0] as f64))
        .collect()
}

/// Mean frequency of a steady tone from its first and last upward zero
/// crossings (sub-sample accurate): very precise for clean tones.
pub fn frequency(x: &[f32], sample_rate: f64) -> f64 {
    let crossings = upward_crossings(x);
    if crossings.len() < 2 {
        return 0.0;
    }
    let span = crossings[crossings.len() - 1] - crossings[0];
    (crossings.len() - 1) as f64 * sample_rate / span
}

/// Instantaneous frequency, one estimate per period: (time in seconds, Hz).
pub fn instantaneous_frequency(x: &[f32], sample_rate: f64) -> Vec<(f64, f64)> {
    upward_crossings(x)
        .windows(2)
        .map(|w| (0.5 * (w[0] + w[1]) / sample_rate, sample_rate / (w[1] - w[0])))
        .collect()
}

/// Pitch difference in cents.
pub fn cents(measured: f64, expected: f64) -> f64 {
    1200.0 * (measured / expected).log2()
}

/// Magnitude of the signal's component at `hz` (amplitude of a sine), by a
/// single-bin DFT. Exact when the window holds whole periods.
pub fn amplitude_at(x: &[f32], hz: f64, sample_rate: f64) -> f64 {
    let w = TAU * hz / sample_rate;
    let (mut re, mut im) = (0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        let phase = w * n as f64;
        re += v as f64 * phase.cos();
        im -= v as f64 * phase.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len().max(1) as f64
}

/// Total harmonic distortion (harmonics 2..=`harmonics` over the
/// fundamental), as a ratio. Use a window of whole periods.
pub fn thd(x: &[f32], fundamental: f64, sample_rate: f64, harmonics: usize) -> f64 {
    let f1 = amplitude_at(x, fundamental, sample_rate);
    let sum: f64 = (2..=harmonics)
        .map(|k| k as f64 * fundamental)
        .filter(|&f| f < sample_rate / 2.0)
        .map(|f| amplitude_at(x, f, sample_rate).powi(2))
        .sum();
    sum.sqrt() / f1.max(1e-12)
}

/// The frequency in `[low, high]` Hz with the most energy in a slowly varying
/// series sampled at uneven times (e.g. an instantaneous frequency track),
/// found by scanning in `step` Hz, with the amplitude there.
pub fn dominant_rate(series: &[(f64, f64)], low: f64, high: f64, step: f64) -> (f64, f64) {
    let mean = series.iter().map(|s| s.1).sum::<f64>() / series.len().max(1) as f64;
    let mut best = (low, 0.0);
    let mut hz = low;
    while hz <= high {
        let (mut re, mut im) = (0.0, 0.0);
        for &(t, v) in series {
            re += (v - mean) * (TAU * hz * t).cos();
            im += (v - mean) * (TAU * hz * t).sin();
        }
        let amplitude = 2.0 * (re * re + im * im).sqrt() / series.len().max(1) as f64;
        if amplitude > best.1 {
            best = (hz, amplitude);
        }
        hz += step;
    }
    best
}

/// Lag in `[min_lag, max_lag]` at which `x` best matches itself (normalised
/// cross-correlation of the signal with its delayed self).
pub fn best_period(x: &[f32], min_lag: usize, max_lag: usize) -> usize {
    let mut best = (min_lag, f64::MIN);
    for lag in min_lag..=max_lag.min(x.len().saturating_sub(1)) {
        let (a, b) = (&x[..x.len() - lag], &x[lag..]);
        let dot: f64 = a.iter().zip(b).map(|(&p, &q)| p as f64 * q as f64).sum();
        let norm = (rms(a) * rms(b)).max(1e-20) * a.len() as f64;
        let score = dot / norm;
        if score > best.1 {
            best = (lag, score);
        }
    }
    best.0
}

/// A sine of `hz` at `amplitude`, `frames` long.
pub fn sine(hz: f64, amplitude: f32, sample_rate: f64, frames: usize) -> Vec<f32> {
    (0..frames).map(|n| amplitude * (TAU * hz * n as f64 / sample_rate).sin() as f32).collect()
}

/// Whether any value is a subnormal float (slow on most CPUs).
pub fn has_subnormals(x: &[f32]) -> bool {
    x.iter().any(|v| v.is_subnormal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_of_a_sine_is_exact_to_a_thousandth_of_a_cent() {
        let x = sine(997.0, 0.5, 48_000.0, 48_000);
        assert!(cents(frequency(&x, 48_000.0), 997.0).abs() < 0.001);
    }

    #[test]
    fn thd_of_a_clipped_sine_is_large_and_of_a_pure_sine_tiny() {
        let x = sine(1000.0, 1.0, 48_000.0, 4800);
        assert!(thd(&x, 1000.0, 48_000.0, 9) < 1e-6);
        let clipped: Vec<f32> = x.iter().map(|v| v.clamp(-0.5, 0.5)).collect();
        assert!(thd(&clipped, 1000.0, 48_000.0, 9) > 0.1);
    }
}

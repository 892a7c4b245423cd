//! Band-limited resampling of a whole mono signal, in bounded memory for any
//! pair of rates.
//!
//! Two methods, chosen per pair of rates:
//! - rubato's `FftFixedIn` where the ratio reduces to small numbers (every
//!   common pair: 44.1 -> 48 kHz is 147/160). It is exact and fast, but its
//!   FFT lengths follow from the reduced ratio: 191 999 -> 48 000 Hz needs
//!   FFTs of 191 999 and 48 000 points, 1 -> 48 000 Hz buffers of 24 million.
//! - a windowed-sinc interpolator ([`sinc_resample`]) for every other ratio.
//!   Its kernel table has a fixed size whatever the rates; each output
//!   sample is computed at its exact input time (integer arithmetic), so the
//!   output is aligned with the input like the FFT method's.

use crate::engine::math;
use rubato::{FftFixedIn, Resampler};

/// Frames per `FftFixedIn` call.
const FFT_CHUNK: usize = 1024;
/// Sub-chunks `FftFixedIn` splits each call into.
const FFT_SUB_CHUNKS: usize = 2;
/// The largest FFT length, in frames, the FFT method may build (its buffers
/// and plans take a few MB at this size); beyond it the sinc method runs.
const MAX_FFT_FRAMES: usize = 32_768;

/// Zero crossings of the sinc kernel on each side of its centre. With the
/// Kaiser window below the stop band is about 90 dB down.
const ZERO_CROSSINGS: usize = 32;
/// Kernel table points per zero crossing (values in between are
/// interpolated linearly: error about 1e-6 of full scale).
const TABLE_STEPS: usize = 512;
/// Kaiser window shape parameter (about 90 dB stop-band attenuation).
const KAISER_BETA: f64 = 9.0;
/// The kernel's cut-off as a fraction of the lower rate's Nyquist frequency;
/// the rest is the transition band of the 64-zero-crossing kernel.
const PASSBAND: f64 = 0.91;

/// Resample a mono signal from `from` Hz to `to` Hz; the output is aligned
/// with the input and has `round(len * to / from)` samples.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == 0 || to == 0 {
        return Err(format!("cannot resample from {from} Hz to {to} Hz"));
    }
    let expected = (samples.len() as f64 * to as f64 / from as f64).round() as usize;
    match fft_sizes(from, to) {
        Some(_) => fft_resample(samples, from, to, expected),
        None => Ok(sinc_resample(samples, from, to, expected)),
    }
}

/// The (input, output) FFT lengths `FftFixedIn` would build for these rates,
/// computed the way rubato does; `None` when either exceeds
/// [`MAX_FFT_FRAMES`].
fn fft_sizes(from: u32, to: u32) -> Option<(usize, usize)> {
    let gcd = greatest_common_divisor(from, to) as usize;
    let (from_reduced, to_reduced) = (from as usize / gcd, to as usize / gcd);
    let fft_chunks = (FFT_CHUNK / FFT_SUB_CHUNKS).div_ceil(from_reduced);
    let sizes = (fft_chunks * from_reduced, fft_chunks * to_reduced);
    (sizes.0.max(sizes.1) <= MAX_FFT_FRAMES).then_some(sizes)
}

fn greatest_common_divisor(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn fft_resample(samples: &[f32], from: u32, to: u32, expected: usize) -> Result<Vec<f32>, String> {
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, FFT_CHUNK, FFT_SUB_CHUNKS, 1)
        .map_err(|e| e.to_string())?;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(expected + delay + FFT_CHUNK * 2);
    let mut chunks = samples.chunks_exact(FFT_CHUNK);
    for chunk in chunks.by_ref() {
        let block = resampler.process(&[chunk], None).map_err(|e| e.to_string())?;
        out.extend_from_slice(&block[0]);
    }
    let rest = chunks.remainder();
    // rubato takes an empty partial chunk as a channel left out (an error):
    // a length that is a whole number of chunks goes straight to the flush.
    if !rest.is_empty() {
        let block = resampler.process_partial(Some(&[rest]), None).map_err(|e| e.to_string())?;
        out.extend_from_slice(&block[0]);
    }
    // Flush the resampler's delay line with silence.
    while out.len() < expected + delay {
        let block = resampler.process_partial::<&[f32]>(None, None).map_err(|e| e.to_string())?;
        if block[0].is_empty() {
            break;
        }
        out.extend_from_slice(&block[0]);
    }
    let end = (delay + expected).min(out.len());
    Ok(out[delay.min(end)..end].to_vec())
}

/// Windowed-sinc resampling: output sample `n` is the band-limited input
/// evaluated at input time `n * from / to`. The kernel is stretched by
/// `from / to` when the output rate is lower, so it also removes what the
/// lower rate cannot hold; it then spans more input samples (and takes
/// longer), never more memory.
fn sinc_resample(samples: &[f32], from: u32, to: u32, expected: usize) -> Vec<f32> {
    let table = kernel_table();
    // Cut-off in cycles per input sample, relative to the input's Nyquist.
    let cutoff = PASSBAND * (to as f64 / from as f64).min(1.0);
    // Input samples on each side of the output's time that the kernel reaches.
    let reach = (ZERO_CROSSINGS as f64 / cutoff).ceil() as i64;
    let steps_per_input_sample = cutoff * TABLE_STEPS as f64;
    let last_step = table.len() - 1;
    let (from, to) = (from as u64, to as u64);
    let mut out = Vec::with_capacity(expected);
    for n in 0..expected as u64 {
        let position = n * from;
        let whole = (position / to) as i64;
        let fraction = (position % to) as f64 / to as f64;
        let first = (whole - reach + 1).max(0);
        let last = (whole + reach).min(samples.len() as i64 - 1);
        let mut sum = 0.0f64;
        for k in first..=last {
            let distance = ((k - whole) as f64 - fraction).abs() * steps_per_input_sample;
            let step = distance as usize;
            if step >= last_step {
                continue;
            }
            let between = distance - step as f64;
            let weight = table[step] + (table[step + 1] - table[step]) * between;
            sum += samples[k as usize] as f64 * weight;
        }
        out.push((sum * cutoff) as f32);
    }
    out
}

/// One side of the Kaiser-windowed sinc, `TABLE_STEPS` points per zero
/// crossing out to `ZERO_CROSSINGS` (the last point is 0).
fn kernel_table() -> Vec<f64> {
    let points = ZERO_CROSSINGS * TABLE_STEPS;
    let window_norm = bessel_i0(KAISER_BETA);
    (0..=points)
        .map(|i| {
            let x = i as f64 / TABLE_STEPS as f64;
            let sinc =
                if i == 0 { 1.0 } else { math::sin(std::f64::consts::PI * x) / (std::f64::consts::PI * x) };
            let edge = i as f64 / points as f64;
            let window = bessel_i0(KAISER_BETA * (1.0 - edge * edge).max(0.0).sqrt()) / window_norm;
            sinc * window
        })
        .collect()
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..64 {
        term *= quarter_square / (k * k) as f64;
        sum += term;
        if term < sum * 1e-16 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, frames: usize) -> Vec<f32> {
        (0..frames).map(|n| (2.0 * std::f64::consts::PI * hz * n as f64 / rate as f64).sin() as f32).collect()
    }

    fn max_error_against_tone(out: &[f32], hz: f64, rate: u32, range: std::ops::Range<usize>) -> f32 {
        let ideal = tone(hz, rate, range.end);
        range.map(|n| (out[n] - ideal[n]).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn common_rates_take_the_fft_path_and_odd_ones_the_sinc_path() {
        for (from, to) in
            [(44_100, 48_000), (48_000, 44_100), (96_000, 44_100), (8_000, 192_000), (1_000, 48_000)]
        {
            assert!(fft_sizes(from, to).is_some(), "{from} -> {to}");
        }
        for (from, to) in [(191_999, 48_000), (47_999, 48_000), (1_000, 192_000), (767_999, 8_000)] {
            assert!(fft_sizes(from, to).is_none(), "{from} -> {to}");
        }
    }

    #[test]
    fn fft_resampling_keeps_length_pitch_and_level() {
        let out = resample(&tone(1000.0, 44_100, 44_100), 44_100, 48_000).unwrap();
        assert_eq!(out.len(), 48_000);
        let err = max_error_against_tone(&out, 1000.0, 48_000, 10_000..38_000);
        assert!(err < 0.01, "max error {err}");
    }

    #[test]
    fn fft_resampling_takes_a_whole_number_of_chunks() {
        let out = resample(&tone(1000.0, 96_000, FFT_CHUNK * 75), 96_000, 48_000).unwrap();
        assert_eq!(out.len(), FFT_CHUNK * 75 / 2);
        assert!(out.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn sinc_resampling_matches_the_ideal_tone_up_and_down() {
        // The sinc path run on rates the FFT path would also take, and on
        // ratios only it takes; both directions.
        for (from, to) in
            [(44_100, 48_000), (48_000, 44_100), (191_999, 48_000), (47_999, 48_000), (12_347, 48_000)]
        {
            let input = tone(1000.0, from, from as usize);
            let out = sinc_resample(&input, from, to, to as usize);
            let err = max_error_against_tone(&out, 1000.0, to, to as usize / 5..to as usize * 4 / 5);
            assert!(err < 1e-4, "{from} -> {to}: max error {err}");
        }
    }

    #[test]
    fn sinc_downsampling_removes_what_the_lower_rate_cannot_hold() {
        // 30 kHz does not fit in 48 kHz: it must be gone, not folded to 18 kHz.
        let from = 191_999;
        let input = tone(30_000.0, from, from as usize);
        let out = sinc_resample(&input, from, 48_000, 48_000);
        let middle = &out[10_000..38_000];
        let rms = (middle.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / middle.len() as f64).sqrt();
        assert!(rms < 1e-4, "alias left at RMS {rms}");
    }
}

//! Measurements of the colour models (`src/engine/color.rs`), unit by unit: each test renders audio and measures
//! a physical quantity (gain, distortion, corner frequency, level, area).

use ferrotape::engine::color::*;
use ferrotape::engine::noise::Rng;
use ferrotape::engine::params::{SaturationModel, ToneModel};
use std::f64::consts::PI;

const FS: f64 = 48_000.0;

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// `n` samples of `amp * sin(2 pi hz t)` at `FS`.
fn sine(amp: f64, hz: f64, n: usize) -> Vec<f32> {
    (0..n).map(|i| (amp * (2.0 * PI * hz * i as f64 / FS).sin()) as f32).collect()
}

/// Amplitude of the component at `hz` (exact DFT bin when the window holds a
/// whole number of periods).
fn amplitude_at(y: &[f32], hz: f64) -> f64 {
    let w = 2.0 * PI * hz / FS;
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        re += v as f64 * (w * i as f64).cos();
        im -= v as f64 * (w * i as f64).sin();
    }
    2.0 * re.hypot(im) / y.len() as f64
}

/// Fundamental gain and THD of the saturator for a 1 kHz sine of `amp`:
/// 0.2 s to settle the magnetisation, then a 0.1 s window (100 periods, a
/// multiple of 48 samples) analysed at the exact harmonic bins up to 23 kHz.
fn gain_and_thd(model: SaturationModel, amp: f64) -> (f64, f64) {
    let mut sat = RecordSaturator::new(model, FS);
    let input = sine(amp, 1_000.0, 14_400);
    let out: Vec<f32> = input.iter().map(|&x| sat.process(x)).collect();
    let window = &out[9_600..];
    assert_eq!(window.len() % 48, 0);
    let fundamental = amplitude_at(window, 1_000.0);
    let harmonics: f64 = (2..=23).map(|k| amplitude_at(window, 1_000.0 * k as f64).powi(2)).sum();
    (fundamental / amp, harmonics.sqrt() / fundamental)
}

fn drive_gain(drive_db: f64) -> f64 {
    10f64.powf(drive_db / 20.0)
}

#[test]
fn off_is_exact_identity() {
    let mut sat = RecordSaturator::new(SaturationModel::Off, FS);
    for x in [0.0f32, -0.0, 1.0e-30, -0.3, 0.999, 7.5, -1.0e6, f32::MIN_POSITIVE] {
        assert_eq!(sat.process(x).to_bits(), x.to_bits());
    }
    assert_eq!(sat.latency_cells(), 0);
}

#[test]
fn small_signal_gain_is_unity_at_1khz() {
    for model in [SaturationModel::Hysteresis, SaturationModel::Soft] {
        for amp in [0.001, 0.01] {
            let (gain, thd) = gain_and_thd(model, amp);
            println!("{model:?} amp {amp}: gain {:+.3} dB, THD {:.4} %", db(gain), 100.0 * thd);
            assert!(db(gain).abs() < 1.0, "{model:?} at {amp}: {:+.2} dB", db(gain));
        }
    }
}

#[test]
fn thd_rises_monotonically_with_drive() {
    for model in [SaturationModel::Hysteresis, SaturationModel::Soft] {
        let mut previous = 0.0;
        for drive_db in [0.0, 6.0, 12.0, 18.0, 24.0, 36.0] {
            let (_, thd) = gain_and_thd(model, 0.25 * drive_gain(drive_db));
            println!("{model:?} drive {drive_db} dB: THD {:.3} %", 100.0 * thd);
            assert!(thd > previous, "{model:?}: THD {thd} at {drive_db} dB is not above {previous}");
            previous = thd;
        }
        assert!(previous > 0.2, "{model:?}: 36 dB of drive should distort heavily, THD {previous}");
    }
}

#[test]
fn full_scale_is_compressed_but_bounded() {
    for model in [SaturationModel::Hysteresis, SaturationModel::Soft] {
        let (small, _) = gain_and_thd(model, 0.01);
        let (full, _) = gain_and_thd(model, 1.0);
        assert!(full < small * 0.97, "{model:?}: full-scale gain {full} vs small-signal {small}");
        for (amp, limit) in [(1.0, 1.5), (drive_gain(36.0), 1.6)] {
            let mut sat = RecordSaturator::new(model, FS);
            let peak = sine(amp, 1_000.0, 9_600).iter().map(|&x| sat.process(x).abs()).fold(0.0, f32::max);
            println!("{model:?} sine amp {amp:.1}: peak out {peak:.3}");
            assert!(peak.is_finite() && peak <= limit, "{model:?} amp {amp}: peak {peak}");
        }
    }
}

/// Area enclosed by the input-output curve over one period of a 20 Hz sine,
/// output aligned for the model's latency, relative to the bounding box
/// (peak in times peak out). Zero for any memoryless curve.
fn loop_area(model: SaturationModel, amp: f64) -> f64 {
    let mut sat = RecordSaturator::new(model, FS);
    let period = 2_400;
    let latency = sat.latency_cells();
    let input = sine(amp, 20.0, 3 * period + latency + 1);
    let out: Vec<f32> = input.iter().map(|&x| sat.process(x)).collect();
    let (x, y) = (&input[2 * period..=3 * period], &out[2 * period + latency..=3 * period + latency]);
    // Trapezoid rule: exact to second order, so a memoryless curve gives ~0.
    let area: f64 = (0..period).map(|i| 0.5 * (y[i] + y[i + 1]) as f64 * (x[i + 1] - x[i]) as f64).sum();
    let y_peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    area.abs() / (amp * y_peak)
}

#[test]
fn hysteresis_traces_a_loop_and_soft_does_not() {
    for amp in [0.1, 0.5, 1.0] {
        let hysteresis = loop_area(SaturationModel::Hysteresis, amp);
        let soft = loop_area(SaturationModel::Soft, amp);
        println!("loop area at amp {amp}: hysteresis {hysteresis:.4}, soft {soft:.2e}");
        assert!(hysteresis > 0.03, "amp {amp}: hysteresis loop area {hysteresis}");
        assert!(soft < 1.0e-3, "amp {amp}: soft loop area {soft}");
    }
}

#[test]
fn saturator_reset_reproduces_output_and_stays_finite() {
    let input: Vec<f32> = {
        let mut rng = Rng::new(5);
        (0..4_000).map(|i| (rng.bipolar() * if i % 1_000 < 500 { 1.0e3 } else { 0.3 }) as f32).collect()
    };
    for model in [SaturationModel::Hysteresis, SaturationModel::Soft] {
        let mut sat = RecordSaturator::new(model, FS);
        let first: Vec<f32> = input.iter().map(|&x| sat.process(x)).collect();
        sat.reset();
        let second: Vec<f32> = input.iter().map(|&x| sat.process(x)).collect();
        let peak = first.iter().fold(0.0f32, |m, y| m.max(y.abs()));
        println!("{model:?}: peak {peak} for white noise up to 60 dB over full scale");
        assert!(peak.is_finite() && peak <= 2.0, "{model:?}: peak {peak}");
        assert_eq!(first, second, "{model:?}");
    }
}

#[test]
fn flat_tone_is_exact_identity() {
    let mut tone = PlaybackTone::new(ToneModel::Flat, FS);
    for (i, x) in [0.0f32, -0.0, 0.5, -1.0e-30, 3.0].into_iter().enumerate() {
        assert_eq!(tone.process(x, i as f32).to_bits(), x.to_bits());
    }
}

/// Impulse response of the tape tone at a steady speed.
fn tone_impulse_response(speed: f32) -> Vec<f32> {
    let mut tone = PlaybackTone::new(ToneModel::Tape, FS);
    (0..65_536).map(|i| tone.process(if i == 0 { 1.0 } else { 0.0 }, speed)).collect()
}

/// |H(f)| from an impulse response.
fn magnitude(h: &[f32], hz: f64) -> f64 {
    let w = 2.0 * PI * hz / FS;
    let (step_re, step_im) = (w.cos(), -w.sin());
    let (mut re, mut im, mut ph_re, mut ph_im) = (0.0, 0.0, 1.0f64, 0.0f64);
    for &v in h {
        re += v as f64 * ph_re;
        im += v as f64 * ph_im;
        (ph_re, ph_im) = (ph_re * step_re - ph_im * step_im, ph_re * step_im + ph_im * step_re);
    }
    re.hypot(im)
}

/// The frequency above `reference_hz` where the response is 3.01 dB below
/// its level at `reference_hz`, by bisection.
fn minus_3db_above(h: &[f32], reference_hz: f64) -> f64 {
    let target = magnitude(h, reference_hz) * std::f64::consts::FRAC_1_SQRT_2;
    let (mut lo, mut hi) = (reference_hz, 0.499 * FS);
    for _ in 0..30 {
        let mid = (lo * hi).sqrt();
        if magnitude(h, mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo * hi).sqrt()
}

#[test]
fn loss_corner_is_proportional_to_speed() {
    let mut per_speed = Vec::new();
    for speed in [0.25f32, 0.5, 1.0] {
        let h = tone_impulse_response(speed);
        let corner = minus_3db_above(&h, 1_000.0 * speed as f64);
        let expected = PlaybackTone::loss_corner_hz(speed) as f64;
        println!(
            "speed {speed}: -3 dB at {corner:.1} Hz (design {expected} Hz), {:.1} Hz per unit speed",
            corner / speed as f64
        );
        assert!((corner / expected - 1.0).abs() < 0.05, "speed {speed}: corner {corner} Hz");
        per_speed.push(corner / speed as f64);
    }
    for ratio in &per_speed {
        assert!((ratio / per_speed[2] - 1.0).abs() < 0.05, "{per_speed:?}");
    }
}

#[test]
fn head_bump_follows_speed() {
    for speed in [0.5f32, 1.0, 2.0] {
        let h = tone_impulse_response(speed);
        let centre = PlaybackTone::bump_hz(speed) as f64;
        let reference = magnitude(&h, 1_000.0 * speed as f64);
        let (peak_hz, peak) = (0..=200)
            .map(|i| centre * 2f64.powf(-2.0 + 4.0 * i as f64 / 200.0))
            .map(|f| (f, magnitude(&h, f)))
            .fold((0.0, 0.0), |best, p| if p.1 > best.1 { p } else { best });
        let gain_db = db(peak / reference);
        println!("speed {speed}: bump peak {gain_db:+.2} dB at {peak_hz:.1} Hz (design {centre} Hz)");
        assert!((peak_hz / centre - 1.0).abs() < 0.2, "speed {speed}: peak at {peak_hz} Hz");
        assert!(gain_db > 2.0 && gain_db < 3.0, "speed {speed}: bump {gain_db} dB");
    }
}

#[test]
fn a_stopped_tape_plays_no_dc() {
    // A playback head's output is proportional to the flux change: a cell
    // held under a stopped head must fade out, not hold a DC offset.
    let mut tone = PlaybackTone::new(ToneModel::Tape, FS);
    let out: Vec<f32> = (0..4 * 48_000).map(|_| tone.process(0.5, 0.0)).collect();
    let after_1s = out[48_000].abs();
    let end = out[out.len() - 1].abs();
    println!("DC 0.5 under a stopped head: {after_1s:.2e} after 1 s, {end:.2e} after 4 s");
    assert!(after_1s < 1.0e-2 && end < 1.0e-6);
}

#[test]
fn tone_is_finite_at_any_speed_and_reset_reproduces_output() {
    let mut rng = Rng::new(9);
    let input: Vec<(f32, f32)> = (0..48_000)
        .map(|i| {
            let speed = match i / 6_000 {
                0 => 0.0,
                1 => 4.0,
                2 => 1.0 + 0.01 * (i as f32 * 0.001).sin(),
                3 => (rng.uniform() * 4.0) as f32,
                4 => f32::NAN,
                _ => 0.001,
            };
            ((rng.bipolar() * 10.0) as f32, speed)
        })
        .collect();
    let mut tone = PlaybackTone::new(ToneModel::Tape, FS);
    let first: Vec<f32> = input.iter().map(|&(x, v)| tone.process(x, v)).collect();
    tone.reset();
    let second: Vec<f32> = input.iter().map(|&(x, v)| tone.process(x, v)).collect();
    assert!(first.iter().all(|y| y.is_finite()));
    assert_eq!(first, second);
}

#[test]
fn hiss_rms_matches_the_requested_level() {
    for level_db in [-70.0f32, -40.0] {
        let rms = 10f32.powf(level_db / 20.0);
        let mut hiss = Hiss::new(11);
        let samples: Vec<f64> = (0..48_000).map(|_| hiss.next(rms) as f64).collect();
        let measured = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt();
        let error_db = db(measured / rms as f64);
        // Broadband: neighbouring samples are uncorrelated.
        let lag1: f64 =
            samples.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (measured * measured * 48_000.0);
        println!(
            "hiss {level_db} dBFS: measured {:.3} dBFS ({error_db:+.3} dB), lag-1 correlation {lag1:.4}",
            db(measured)
        );
        assert!(error_db.abs() < 0.5, "{level_db} dBFS: off by {error_db} dB");
        assert!(lag1.abs() < 0.02, "lag-1 correlation {lag1}");
    }
    let a: Vec<f32> = (0..16).scan(Hiss::new(3), |h, _| Some(h.next(1.0))).collect();
    let b: Vec<f32> = (0..16).scan(Hiss::new(3), |h, _| Some(h.next(1.0))).collect();
    let c: Vec<f32> = (0..16).scan(Hiss::new(4), |h, _| Some(h.next(1.0))).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// One pass of the head over a circular tape.
fn age_pass(ageing: &Ageing, tape: &[f32], age: f32) -> Vec<f32> {
    let n = tape.len();
    (0..n).map(|i| ageing.apply(tape[i], tape[(i + n - 1) % n], tape[(i + 1) % n], i, age)).collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn age_zero_is_exact_identity() {
    let ageing = Ageing::new(1, FS);
    for (i, cell) in [0.0f32, -0.0, 0.7, -1.0e-30, 5.0].into_iter().enumerate() {
        let out = ageing.apply(cell, f32::MAX, f32::NAN, i * 1_000, 0.0);
        assert_eq!(out.to_bits(), cell.to_bits());
    }
}

#[test]
fn weakness_field_is_sparse_with_short_spots() {
    let ageing = Ageing::new(7, FS);
    let n = 60 * 48_000;
    let w: Vec<f32> = (0..n).map(|i| ageing.weakness(i)).collect();
    let frac = |t: f32| w.iter().filter(|&&v| v > t).count() as f64 / n as f64;
    let mut runs = Vec::new();
    let mut run = 0usize;
    for &v in &w {
        if v > 0.5 {
            run += 1;
        } else if run > 0 {
            runs.push(run as f64 / FS * 1_000.0);
            run = 0;
        }
    }
    runs.sort_by(f64::total_cmp);
    let median_ms = runs[runs.len() / 2];
    let max = w.iter().fold(0.0f32, |m, &v| m.max(v));
    println!(
        "weakness: {:.1} % of tape > 0.1, {:.1} % > 0.5, max {max:.3}, {} spots > 0.5 per minute, median {median_ms:.1} ms, range {:.1}-{:.1} ms",
        100.0 * frac(0.1),
        100.0 * frac(0.5),
        runs.len(),
        runs[0],
        runs[runs.len() - 1]
    );
    assert!(frac(0.1) < 0.3 && frac(0.5) > 0.005 && frac(0.5) < 0.1);
    assert!(max > 0.9 && max <= 1.0);
    assert!((5.0..=50.0).contains(&median_ms), "median spot {median_ms} ms");
    assert!(w.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn dropouts_deepen_pass_by_pass_at_fixed_positions() {
    let ageing = Ageing::new(7, FS);
    let age = 0.5;
    let original = sine(0.5, 200.0, 96_000);
    let period = 240; // one 200 Hz period per analysis window
    let levels = |tape: &[f32]| -> Vec<f64> { tape.chunks(period).map(rms).collect() };
    let initial = levels(&original);
    let mean_weakness: Vec<f64> = (0..initial.len())
        .map(|k| (0..period).map(|i| ageing.weakness(k * period + i) as f64).sum::<f64>() / period as f64)
        .collect();
    let mut tape = original.clone();
    let mut worst_previous = 0.0;
    let mut worst_window = None;
    for passes in 1..=16 {
        tape = age_pass(&ageing, &tape, age);
        if ![4, 8, 16].contains(&passes) {
            continue;
        }
        let loss_db: Vec<f64> = levels(&tape).iter().zip(&initial).map(|(l, i)| db(l / i)).collect();
        let (window, worst) =
            loss_db.iter().enumerate().fold((0, 0.0), |best, (k, &l)| if l < best.1 { (k, l) } else { best });
        let strong_worst =
            loss_db.iter().zip(&mean_weakness).filter(|(_, &w)| w == 0.0).fold(0.0f64, |m, (&l, _)| m.min(l));
        // Where the weakness is w the level falls by about (1 - 0.5 age w) per pass.
        let predicted = passes as f64 * db(1.0 - (AGE_DROPOUT_DEPTH * age) as f64 * mean_weakness[window]);
        println!("{passes} passes: worst window {window} at {worst:.1} dB (predicted {predicted:.1} dB), strong tape within {strong_worst:.3} dB");
        assert!(
            worst < worst_previous - 1.0,
            "{passes} passes: {worst} dB did not deepen from {worst_previous}"
        );
        assert!((worst - predicted).abs() < 3.0, "{passes} passes: {worst} dB vs predicted {predicted}");
        assert!(strong_worst > -0.1, "{passes} passes: sound tape lost {strong_worst} dB");
        // A spot can straddle two windows whose depths are nearly equal.
        if let Some(previous) = worst_window {
            assert!(window.abs_diff(previous) <= 1, "the dropout moved from window {previous} to {window}");
        }
        worst_window = Some(window);
        worst_previous = worst;
    }
}

#[test]
fn ageing_removes_treble_more_than_bass_without_moving_it() {
    let ageing = Ageing::new(7, FS);
    let age = 0.5;
    // A stretch of sound tape (weakness 0), so only the smoothing acts.
    let start = (0..)
        .map(|k| k * 4_800)
        .find(|&s| (s..s + 4_800).all(|i| ageing.weakness(i) == 0.0))
        .expect("some sound tape");
    let measure = |hz: f64| {
        let original = sine(0.5, hz, start + 4_800);
        let mut tape = original.clone();
        for _ in 0..8 {
            tape = age_pass(&ageing, &tape, age);
        }
        // Skip 240 cells at each edge of the stretch.
        let (a, b) = (&original[start + 240..start + 4_560], &tape[start + 240..start + 4_560]);
        let (re_a, im_a, re_b, im_b) =
            a.iter().zip(b).enumerate().fold((0.0, 0.0, 0.0, 0.0), |s, (i, (&x, &y))| {
                let w = 2.0 * PI * hz * i as f64 / FS;
                (
                    s.0 + x as f64 * w.cos(),
                    s.1 + x as f64 * w.sin(),
                    s.2 + y as f64 * w.cos(),
                    s.3 + y as f64 * w.sin(),
                )
            });
        (db(rms(b) / rms(a)), (im_b.atan2(re_b) - im_a.atan2(re_a)).abs())
    };
    let (bass_db, bass_shift) = measure(200.0);
    let (treble_db, treble_shift) = measure(8_000.0);
    // Per pass the kernel's response is 1 - 2 a (1 - cos w), a = 0.25 age.
    let predicted = 8.0 * db(1.0 - 2.0 * 0.125 * (1.0 - (2.0 * PI * 8_000.0 / FS).cos()));
    println!("8 passes at age {age}: 200 Hz {bass_db:+.3} dB, 8 kHz {treble_db:+.2} dB (predicted {predicted:.2}), phase shifts {bass_shift:.1e}, {treble_shift:.1e} rad");
    assert!(bass_db > -0.1);
    assert!(treble_db < bass_db - 6.0);
    assert!((treble_db - predicted).abs() < 0.2);
    assert!(bass_shift < 1.0e-3 && treble_shift < 1.0e-3, "zero phase");
}

//! Measured behaviour of the transport: varispeed transposition, loop
//! period, wow, flutter and the motor's glide.

mod common;

use common::*;
use ferrotape::analysis::{cents, dominant_rate, frequency, instantaneous_frequency, sine};
use ferrotape::engine::{Param, TapeLength, TrackAction};

/// Record a 1 kHz tone over a whole 4 s loop at speed `a`, play it at `b`.
fn transposed_pitch(a: f32, b: f32) -> f64 {
    let loop_s = 4.0;
    let record_s = loop_s / a.abs() as f64 + 0.05;
    let input = sine(1000.0, 0.5, SRF, at(record_s + 1.0) as usize);
    let score = vec![
        (0, set(0, Param::Speed, a)),
        (0, act(0, TrackAction::Record)),
        (at(record_s), act(0, TrackAction::Play)),
        (at(record_s), set(0, Param::Speed, b)),
    ];
    let out = render(config(vec![clean_track(loop_s)]), &input, &score, record_s + 0.7);
    // Skip the first 0.1 s after the switch: the loop seam lies near the start.
    frequency(window(&out.stems[0], record_s + 0.1, record_s + 0.6), SRF)
}

#[test]
fn varispeed_transposes_by_exactly_the_speed_ratio() {
    for (a, b) in [
        (1.0f32, 1.0f32),
        (1.0, 2.0),
        (0.5, 1.0),
        (1.0, 0.5),
        (2.0, 0.75),
        (1.0, -1.0),
        (-1.0, 1.0),
        (0.75, -1.5),
        (0.7, 1.13),
        (1.0, 0.37),
        (3.1, -2.9),
        (1.3, 3.7),
    ] {
        let expected = 1000.0 * (b / a).abs() as f64;
        let measured = transposed_pitch(a, b);
        let error = cents(measured, expected);
        eprintln!("varispeed: recorded at {a}, played at {b}: {measured:.4} Hz ({error:+.5} cents)");
        assert!(error.abs() < 0.1, "recorded at {a}, played at {b}: {measured:.4} Hz, {error:+.4} cents");
    }
}

/// Record one click on each track, then find the distance between its repeats.
fn click_repeats(length_s: f64, speed: f32) -> Vec<usize> {
    let mut input = vec![0.0f32; at(0.3) as usize];
    input[at(0.1) as usize] = 0.8;
    let score = vec![
        (0, act(0, TrackAction::Record)),
        (at(0.2), act(0, TrackAction::Play)),
        (at(0.2), set(0, Param::Speed, speed)),
    ];
    let out =
        render(config(vec![clean_track(length_s)]), &input, &score, 0.2 + 3.5 * length_s / speed as f64);
    let stem = &out.stems[0];
    let threshold = 0.15;
    let mut peaks = Vec::new();
    let mut i = 0;
    while i < stem.len() {
        if stem[i].abs() > threshold {
            let end = (i + 64).min(stem.len());
            let local = (i..end).max_by(|&a, &b| stem[a].abs().total_cmp(&stem[b].abs())).unwrap();
            peaks.push(local);
            i = end;
        } else {
            i += 1;
        }
    }
    peaks.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn loop_period_is_exact_to_the_sample() {
    for (length_s, speed, expected) in
        [(0.5, 1.0, 24_000), (0.7, 1.0, 33_600), (0.5, 0.5, 48_000), (0.25, 2.0, 6_000)]
    {
        let periods = click_repeats(length_s, speed);
        assert!(periods.len() >= 2, "{length_s} s at {speed}: too few repeats {periods:?}");
        assert!(
            periods.iter().all(|&p| p == expected),
            "{length_s} s loop at speed {speed}: repeats every {periods:?} samples, expected {expected}"
        );
    }
}

/// Play a steady 1 kHz tape with some wobble and return the instantaneous frequency.
fn wobbled_tone(param_pairs: &[(Param, f32)], seconds: f64) -> Vec<(f64, f64)> {
    // 4 s at 48 kHz holds exactly 4000 cycles of 1 kHz: the loop has no seam.
    let input = sine(1000.0, 0.5, SRF, at(4.2) as usize);
    let mut score = vec![(0, act(0, TrackAction::Record)), (at(4.0), act(0, TrackAction::Play))];
    for &(param, value) in param_pairs {
        score.push((at(4.1), set(0, param, value)));
    }
    let out = render(config(vec![clean_track(4.0)]), &input, &score, 4.2 + seconds);
    instantaneous_frequency(window(&out.stems[0], 4.2, 4.2 + seconds), SRF)
}

#[test]
fn wow_depth_and_rate_match_the_setting() {
    let track = wobbled_tone(&[(Param::WowPct, 1.0), (Param::WowHz, 0.8)], 10.0);
    let (rate, amplitude) = dominant_rate(&track, 0.5, 1.2, 0.002);
    let depth_pct = amplitude / 1000.0 * 100.0;
    eprintln!("wow: set 1 % at 0.8 Hz, measured {depth_pct:.3} % at {rate:.3} Hz");
    assert!((rate - 0.8).abs() < 0.8 * 0.05, "wow rate {rate:.3} Hz");
    assert!((depth_pct - 1.0).abs() < 0.1, "wow depth {depth_pct:.3} %");
}

#[test]
fn flutter_depth_and_rate_match_the_setting() {
    let track = wobbled_tone(&[(Param::FlutterPct, 0.5), (Param::FlutterHz, 8.0)], 4.0);
    let (rate, _) = dominant_rate(&track, 5.0, 11.0, 0.01);
    assert!((rate - 8.0).abs() < 8.0 * 0.05, "flutter rate {rate:.3} Hz");
    // The flutter waveform (with its harmonics) peaks at the setting.
    let peak = track.iter().map(|s| (s.1 - 1000.0).abs()).fold(0.0, f64::max);
    let peak_pct = peak / 1000.0 * 100.0;
    eprintln!("flutter: set 0.5 % at 8 Hz, measured {peak_pct:.3} % peak at {rate:.3} Hz");
    assert!((peak_pct - 0.5).abs() < 0.05, "flutter peak deviation {peak_pct:.3} %");
}

#[test]
fn drift_wanders_slowly_by_about_its_setting() {
    let track = wobbled_tone(&[(Param::DriftPct, 1.0)], 20.0);
    let mean = track.iter().map(|s| s.1).sum::<f64>() / track.len() as f64;
    let sd = (track.iter().map(|s| (s.1 - mean).powi(2)).sum::<f64>() / track.len() as f64).sqrt();
    let sd_pct = sd / 1000.0 * 100.0;
    // A 20 s stretch of a 2 s random walk: the spread is near, not exactly, the setting.
    assert!(sd_pct > 0.3 && sd_pct < 2.0, "drift spread {sd_pct:.3} %");
    // Slow: consecutive periods (1 ms apart) barely differ.
    let jitter = track.windows(2).map(|w| (w[1].1 - w[0].1).abs()).fold(0.0, f64::max);
    assert!(jitter < 0.5, "drift jumps {jitter:.3} Hz between periods");
}

#[test]
fn motor_glides_to_a_new_speed_and_settles_within_its_inertia() {
    let inertia = 0.5;
    let track = wobbled_tone(&[(Param::InertiaS, inertia as f32), (Param::Speed, 0.5)], 1.0);
    // The speed change is at 4.1 s; the window starts at 4.2 s.
    let after = |t: f64| track.iter().find(|s| s.0 >= t).map(|s| s.1).unwrap();
    let glide_mid = after(0.05);
    assert!(glide_mid < 990.0 && glide_mid > 510.0, "mid-glide {glide_mid:.1} Hz");
    let settled = after(inertia - 0.1 + 0.01);
    assert!((settled - 500.0).abs() < 5.0, "after {inertia} s: {settled:.1} Hz");
    eprintln!("motor: 1.0 -> 0.5 with inertia {inertia} s: {glide_mid:.1} Hz after 0.15 s, {settled:.1} Hz after 0.5 s");
    let biggest_step = track.windows(2).map(|w| (w[1].1 - w[0].1).abs()).fold(0.0, f64::max);
    assert!(biggest_step < 10.0, "the pitch jumped by {biggest_step:.1} Hz in one period");
}

#[test]
fn a_free_track_takes_the_length_of_its_first_recording() {
    let mut track = clean_track(1.0);
    track.length = TapeLength::Free { max_seconds: 10.0 };
    let mut input = vec![0.0f32; at(2.0) as usize];
    input[at(0.5) as usize] = 0.8;
    let score = vec![(at(0.25), act(0, TrackAction::Record)), (at(1.75), act(0, TrackAction::Play))];
    let out = render(config(vec![track]), &input, &score, 6.0);
    let stem = &out.stems[0];
    let clicks: Vec<usize> = (1..stem.len() - 1)
        .filter(|&i| stem[i] > 0.4 && stem[i] >= stem[i - 1] && stem[i] > stem[i + 1])
        .collect();
    let periods: Vec<usize> = clicks.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(periods.len() >= 2, "clicks at {clicks:?}");
    let expected = at(1.5) as i64;
    assert!(
        periods.iter().all(|&p| (p as i64 - expected).abs() <= 1),
        "periods {periods:?}, expected {expected}"
    );
}

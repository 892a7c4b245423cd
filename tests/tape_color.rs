//! Measured tape colour through the whole engine: saturation, hysteresis,
//! speed-dependent loss, hiss, and dubs that stay in place.

mod common;

use common::*;
use ferrotape::analysis::{amplitude_at, best_period, db, rms, sine, thd};
use ferrotape::engine::color::RecordSaturator;
use ferrotape::engine::{Param, SaturationModel, ToneModel, TrackAction, TrackConfig};

/// Record a tone through the record head and play it back; returns the stem.
fn record_and_play(track: TrackConfig, input: &[f32], record_s: f64, play_s: f64) -> Vec<f32> {
    let score = vec![(0, act(0, TrackAction::Record)), (at(record_s), act(0, TrackAction::Play))];
    render(config(vec![track]), input, &score, record_s + play_s).stems.swap_remove(0)
}

#[test]
fn distortion_rises_with_drive_for_both_saturation_models() {
    for model in [SaturationModel::Hysteresis, SaturationModel::Soft] {
        let mut previous = 0.0;
        let mut figures = Vec::new();
        for drive in [0.0, 6.0, 12.0, 18.0, 24.0] {
            let mut track = clean_track(1.0);
            track.saturation = model;
            track.params.set(Param::DriveDb, drive);
            let out = record_and_play(track, &sine(1000.0, 0.25, SRF, at(1.2) as usize), 1.1, 1.0);
            let distortion = thd(window(&out, 1.2, 1.3), 1000.0, SRF, 9);
            figures.push(format!("{drive} dB: {:.2} %", distortion * 100.0));
            eprintln!("THD through the tape, {model:?}, drive {drive} dB: {:.2} %", distortion * 100.0);
            assert!(distortion > previous, "{model:?}: THD fell at {drive} dB drive ({figures:?})");
            previous = distortion;
        }
        assert!(previous > 0.1, "{model:?}: 24 dB of drive should distort clearly ({figures:?})");
    }
}

/// Area of the input→output loop over whole periods, relative to the peaks.
/// The output is aligned with the input by the linear head's delay (found
/// by correlation) plus the saturator's own latency, so any remaining phase
/// lag of the fundamental (energy lost per cycle) shows up as area.
fn loop_area(model: SaturationModel) -> f64 {
    let played = |model: SaturationModel| {
        let mut track = clean_track(1.0);
        track.saturation = model;
        track.params.set(Param::DriveDb, 6.0);
        let input = sine(50.0, 0.5, SRF, at(1.2) as usize);
        window(&record_and_play(track, &input, 1.1, 1.1), 1.2, 2.2).to_vec()
    };
    let reference = sine(50.0, 1.0, SRF, 50_000);
    let linear = played(SaturationModel::Off);
    let correlation =
        |y: &[f32], lag: usize| y.iter().zip(&reference[lag..]).map(|(p, r)| (p * r) as f64).sum::<f64>();
    let linear_lag =
        (0..960).max_by(|&a, &b| correlation(&linear, a).total_cmp(&correlation(&linear, b))).unwrap();
    let latency = RecordSaturator::new(model, SRF).latency_cells();
    let lag = (linear_lag + 960 - latency % 960) % 960;
    let y = played(model);
    let x = &reference[lag..lag + 48_000];
    // Trapezoidal loop integral of y dx: exactly zero for y proportional to x.
    let area: f64 =
        (0..47_999).map(|i| 0.5 * (y[i] + y[i + 1]) as f64 * (x[i + 1] - x[i]) as f64).sum::<f64>() / 50.0;
    let peak_y = y[..48_000].iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    (area / peak_y).abs()
}

#[test]
fn hysteresis_makes_a_loop_and_a_linear_head_does_not() {
    let linear = loop_area(SaturationModel::Off);
    let soft = loop_area(SaturationModel::Soft);
    let hysteresis = loop_area(SaturationModel::Hysteresis);
    eprintln!("loop area: off {linear:.5}, soft {soft:.5}, hysteresis {hysteresis:.4}");
    assert!(linear < 0.005, "linear head: loop area {linear}");
    assert!(soft < 0.005, "memoryless curve: loop area {soft}");
    assert!(hysteresis > 0.05, "hysteresis: loop area {hysteresis}");
}

/// Response of the playback tone at frequencies `f·speed`, from a multi-tone
/// recorded at speed 1 and played at `speed`, relative to flat playback.
fn loss_corner_at(speed: f32) -> f64 {
    let tones: Vec<f64> = (0..18).map(|k| (1000.0 * 2f64.powf(k as f64 / 4.0) / 4.0).round() * 4.0).collect();
    let loop_s = 2.0;
    let input: Vec<f32> = (0..at(loop_s + 0.2) as usize)
        .map(|n| tones.iter().map(|f| 0.02 * (std::f64::consts::TAU * f * n as f64 / SRF).sin() as f32).sum())
        .collect();
    let play = |tone: ToneModel| {
        let mut track = clean_track(loop_s);
        track.tone = tone;
        let score = vec![
            (0, act(0, TrackAction::Record)),
            (at(loop_s), act(0, TrackAction::Play)),
            (at(loop_s), set(0, Param::Speed, speed)),
        ];
        let out = render(config(vec![track]), &input, &score, loop_s + 2.0);
        window(&out.stems[0], loop_s + 0.5, loop_s + 1.5).to_vec()
    };
    let (tape, flat) = (play(ToneModel::Tape), play(ToneModel::Flat));
    let response: Vec<(f64, f64)> = tones
        .iter()
        .map(|&f| {
            let f = f * speed as f64;
            (f, db(amplitude_at(&tape, f, SRF) / amplitude_at(&flat, f, SRF)))
        })
        .collect();
    let reference = response[0].1;
    let below = response.iter().position(|r| r.1 - reference < -3.0).expect("no -3 dB point");
    let (f0, g0) = response[below - 1];
    let (f1, g1) = response[below];
    // Interpolate the -3 dB crossing on a log-frequency axis.
    let t = (reference - 3.0 - g0) / (g1 - g0);
    f0 * (f1 / f0).powf(t)
}

#[test]
fn the_loss_corner_moves_in_proportion_to_speed() {
    let base = loss_corner_at(1.0);
    for speed in [0.5, 0.25] {
        let corner = loss_corner_at(speed);
        let ratio = corner / base / speed as f64;
        eprintln!("loss corner: {base:.0} Hz at speed 1, {corner:.0} Hz at speed {speed} (ratio {ratio:.4})");
        assert!(
            (ratio - 1.0).abs() < 0.05,
            "speed {speed}: corner {corner:.0} Hz vs {base:.0} Hz at speed 1"
        );
    }
}

#[test]
fn hiss_plays_at_its_level() {
    for hiss_db in [-70.0f32, -50.0] {
        let mut track = clean_track(1.0);
        track.tone = ToneModel::Tape;
        track.params.set(Param::HissDb, hiss_db);
        let out = render(config(vec![track]), &[], &[], 2.0);
        let level = db(rms(window(&out.stems[0], 0.5, 2.0)));
        eprintln!("hiss: asked {hiss_db} dBFS, measured {level:.3} dBFS");
        assert!(
            (level - hiss_db as f64).abs() < 0.5,
            "asked for {hiss_db} dBFS of hiss, measured {level:.2}"
        );
    }
}

#[test]
fn dubbing_through_hysteresis_keeps_material_in_place() {
    let mut track = clean_track(0.5);
    track.saturation = SaturationModel::Hysteresis;
    track.params.set(Param::Feedback, 0.95);
    let mut input = vec![0.0f32; at(0.6) as usize];
    for (i, x) in sine(2000.0, 0.5, SRF, 96).into_iter().enumerate() {
        input[at(0.2) as usize + i] = x;
    }
    let score = vec![(0, act(0, TrackAction::Record)), (at(0.55), act(0, TrackAction::Dub))];
    let out = render(config(vec![track]), &input, &score, 6.0);
    // Ten passes of dubbing later, the burst still repeats every 0.5 s exactly.
    let late = window(&out.stems[0], 4.0, 6.0);
    let period = best_period(late, 23_900, 24_100);
    assert_eq!(period, 24_000, "dubbed material moved along the tape");
}

//! Fast playback does not alias, and the band it keeps is flat.
//!
//! A tone recorded at speed 1 (loaded as a whole number of cycles in a one
//! second loop, so the loop has no seam) is played at another speed on a
//! track with every model off. Where the tone lands above Nyquist, all the
//! output is what folded back; it must stay below −90 dBFS. Where it lands
//! in the band, it must keep its level.

mod common;

use common::*;
use ferrotape::analysis::{db, rms, sine};
use ferrotape::engine::{Command, CpuPath, Engine, Param, TrackAction};
use ferrotape::render::render_engine;

const TONE_AMPLITUDE: f32 = 0.5; // −6 dBFS

/// Output of one track playing a loaded tone at `speed`, after the motor
/// has settled, on the given instruction set.
fn play_tone(tone_hz: f64, speed: f32, path: CpuPath) -> Vec<f32> {
    let mut track = clean_track(1.0);
    track.params.set(Param::Speed, speed);
    let mut engine = Engine::new(config(vec![track]), SRF, 256);
    assert!(engine.set_cpu_path(path));
    engine.load_tape(0, &sine(tone_hz, TONE_AMPLITUDE, SRF, SR as usize));
    let score = [(0, Command::Track { track: 0, action: TrackAction::Play })];
    let mut out = Vec::new();
    render_engine(&mut engine, &[][..], &score, at(1.25), 256, |block| out.extend_from_slice(block.stem(0)));
    out.split_off(at(0.25) as usize)
}

/// Level of a tone in `x` (dBFS of its amplitude), Hann-windowed so nothing
/// else leaks into the bin.
fn tone_dbfs(x: &[f32], hz: f64) -> f64 {
    let n = x.len() as f64;
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let hann = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n).cos();
        let phase = std::f64::consts::TAU * hz * i as f64 / SRF;
        re += v as f64 * hann * phase.cos();
        im -= v as f64 * hann * phase.sin();
    }
    // The Hann window's coherent gain is one half.
    db(4.0 * (re * re + im * im).sqrt() / n)
}

/// (recorded Hz, speed): every one lands above Nyquist.
const FOLDING: [(f64, f32); 14] = [
    (18_000.0, 1.5),
    (20_000.0, 2.0),
    (15_000.0, 3.0),
    (11_000.0, 4.0),
    (23_700.0, 1.02),
    (23_000.0, 1.05),
    (22_500.0, 1.08),
    (22_000.0, 1.11),
    (21_000.0, 1.2),
    (16_000.0, 1.7),
    (10_000.0, 2.5),
    (7_500.0, 3.5),
    (13_000.0, -2.0),
    (6_500.0, -4.0),
];

#[test]
fn a_tone_played_past_nyquist_folds_back_below_minus_90_dbfs() {
    for (hz, speed) in FOLDING {
        let lands = hz * speed.abs() as f64;
        assert!(lands > SRF / 2.0);
        let out = play_tone(hz, speed, CpuPath::detect());
        let folded = db(rms(&out) * std::f64::consts::SQRT_2);
        println!("{hz:>6} Hz at {speed:>5}×: lands at {lands:.0} Hz, folds back at {folded:.1} dBFS");
        assert!(folded <= -90.0, "{hz} Hz at {speed}×: {folded:.1} dBFS folded back");
    }
}

#[test]
fn slow_playback_makes_no_images() {
    // At half speed a 20 kHz tone plays at 10 kHz; reading between cells
    // must not leave its image (28 kHz on tape, 14 kHz out).
    let out = play_tone(20_000.0, 0.5, CpuPath::detect());
    let tone = tone_dbfs(&out, 10_000.0);
    let image = tone_dbfs(&out, 14_000.0);
    println!("20 kHz at 0.5×: tone {tone:.2} dBFS, image {image:.1} dBFS");
    assert!(image <= -90.0, "image at {image:.1} dBFS");
}

#[test]
fn the_pass_band_keeps_its_level_at_every_speed() {
    let reference = 20.0 * (TONE_AMPLITUDE as f64).log10();
    // A 4 kHz tone at 2× against the same tone at 1×.
    let at_one = tone_dbfs(&play_tone(4_000.0, 1.0, CpuPath::detect()), 4_000.0);
    let at_two = tone_dbfs(&play_tone(4_000.0, 2.0, CpuPath::detect()), 8_000.0);
    println!("4 kHz: {at_one:.3} dBFS at 1×, {at_two:.3} dBFS at 2×");
    assert!((at_two - at_one).abs() < 1.0, "4 kHz at 2×: {at_two:.2} against {at_one:.2} dBFS");
    // Tones at 55 % of the band the speed leaves, at speeds in every band.
    for speed in [0.5f32, 1.0, 1.04, 1.1, 1.3, 1.6, 2.0, 2.3, 2.8, 3.3, 3.9, 4.0] {
        let hz = (0.55 * SRF / 2.0 / speed.max(1.0) as f64).round();
        let out = play_tone(hz, speed, CpuPath::detect());
        let level = tone_dbfs(&out, hz * speed as f64);
        println!("{hz:>6} Hz at {speed}×: {:.3} dB", level - reference);
        assert!((level - reference).abs() < 0.1, "{hz} Hz at {speed}×: {:.3} dB", level - reference);
    }
}

#[test]
fn every_cpu_path_plays_the_same_samples() {
    for path in CpuPath::available() {
        for (hz, speed) in [(1_000.0, 1.0f32), (5_000.0, 1.37), (18_000.0, 1.5), (3_000.0, -3.7)] {
            let portable = play_tone(hz, speed, CpuPath::Portable);
            let other = play_tone(hz, speed, path);
            let same = portable.iter().zip(&other).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{} differs from portable at {hz} Hz, {speed}×", path.name());
        }
    }
}

//! The record head writes where the performer heard it: input that arrives
//! L frames after the play head read a cell lands on that cell, whatever the
//! tape's speed did meanwhile (wow, flutter, glides, steps, reverse), and the
//! head crosses every cell on its way.

mod common;

use common::*;
use ferrotape::analysis::{dominant_rate, instantaneous_frequency, sine};
use ferrotape::engine::{
    Command, Engine, Param, SaturationModel, TapeLength, TimedCommand, TrackAction, TrackConfig,
    MIN_TRAIL_FRAMES,
};
use ferrotape::render::render_to_memory;

/// How the tape moves while the impulse is played and recorded.
#[derive(Clone, Copy, Debug)]
enum SpeedPath {
    Steady,
    Wobbly,
    Reverse,
    /// A varispeed glide (inertia 0.4 s) from 1 to 0.6 starting at 0.3 s.
    Glide,
    /// Steps with no inertia: 1 → 1.7 at 0.3 s → 0.8 at 0.45 s.
    Steps,
}

fn track_for(path: SpeedPath, saturation: SaturationModel) -> TrackConfig {
    let mut track = clean_track(1.0);
    track.saturation = saturation;
    track.params.set(Param::Feedback, 1.0);
    match path {
        SpeedPath::Steady | SpeedPath::Steps => {}
        SpeedPath::Wobbly | SpeedPath::Reverse => {
            for (param, value) in [
                (Param::WowPct, 2.0),
                (Param::WowHz, 3.0),
                (Param::FlutterPct, 0.5),
                (Param::FlutterHz, 9.0),
                (Param::DriftPct, 0.5),
            ] {
                track.params.set(param, value);
            }
            if matches!(path, SpeedPath::Reverse) {
                track.params.set(Param::Speed, -1.0);
            }
        }
        SpeedPath::Glide => track.params.set(Param::InertiaS, 0.4),
    }
    track
}

fn speed_changes(path: SpeedPath) -> Vec<(u64, Command)> {
    match path {
        SpeedPath::Glide => vec![(at(0.3), set(0, Param::Speed, 0.6))],
        SpeedPath::Steps => vec![(at(0.3), set(0, Param::Speed, 1.7)), (at(0.45), set(0, Param::Speed, 0.8))],
        _ => Vec::new(),
    }
}

/// Frames between the output the performer heard and the input played
/// against it that the record head lines up exactly: the latency, or the
/// head's minimum trail when the latency is shorter.
fn aligned_delay(latency: u32) -> u64 {
    u64::from(latency).max(MIN_TRAIL_FRAMES as u64 - 1)
}

/// Dub an impulse (input frame `k`) onto a blank loop; return the play head
/// position when the output frame `k - delay` was read, and the tape.
fn dub_impulse(path: SpeedPath, saturation: SaturationModel, latency: u32) -> (f64, Vec<f32>) {
    let mut engine = Engine::new(config(vec![track_for(path, saturation)]), SRF, 1);
    engine.set_record_latency(latency);
    engine.apply(act(0, TrackAction::Dub));
    let k = at(0.6) + 17;
    let heard = k - aligned_delay(latency);
    let changes = speed_changes(path);
    let (mut left, mut right) = ([0.0f32], [0.0f32]);
    let mut position = f64::NAN;
    for frame in 0..k + u64::from(latency) + 2000 {
        for &(_, command) in changes.iter().filter(|(when, _)| *when == frame) {
            engine.apply(command);
        }
        let input = if frame == k { [0.25f32] } else { [0.0] };
        engine.process(&input, &mut left, &mut right, &[]);
        // Output frame `heard` was read at the position the head reached on it.
        if frame == heard {
            position = engine.play_position(0).unwrap();
        }
    }
    (position, engine.tape(0).unwrap().to_vec())
}

/// Where the largest value on the tape is, refined between cells.
fn peak_cell(tape: &[f32]) -> f64 {
    let len = tape.len();
    let (i, _) = tape.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
    let (a, b, c) = (tape[(i + len - 1) % len].abs(), tape[i].abs(), tape[(i + 1) % len].abs());
    let denominator = a - 2.0 * b + c;
    let offset = if denominator.abs() > 1e-12 { 0.5 * (a - c) / denominator } else { 0.0 };
    i as f64 + offset as f64
}

fn loop_distance(a: f64, b: f64, len: f64) -> f64 {
    let d = (a - b).rem_euclid(len);
    d.min(len - d)
}

#[test]
fn an_impulse_lands_on_the_cell_that_was_playing_when_it_was_heard() {
    let mut worst: f64 = 0.0;
    for path in [SpeedPath::Steady, SpeedPath::Wobbly, SpeedPath::Reverse, SpeedPath::Glide, SpeedPath::Steps]
    {
        for saturation in [SaturationModel::Off, SaturationModel::Soft, SaturationModel::Hysteresis] {
            for latency in [0u32, 64, 1000, 8192] {
                let (heard_at, tape) = dub_impulse(path, saturation, latency);
                let landed = peak_cell(&tape);
                let miss = loop_distance(landed, heard_at, tape.len() as f64);
                worst = worst.max(miss);
                assert!(
                    miss <= 1.0,
                    "{path:?}, {saturation:?}, latency {latency}: heard at cell {heard_at:.2}, landed at {landed:.2}"
                );
            }
        }
    }
    eprintln!("impulse: worst distance from where it was heard {worst:.3} cells");
}

/// Record a 1 kHz tone on a wobbling tape, play it back flat; return the
/// recorded wobble's rate (Hz) and peak depth (%).
fn recorded_wow(latency: u32) -> (f64, f64) {
    let mut track = clean_track(2.0);
    for (param, value) in [(Param::WowPct, 1.0), (Param::WowHz, 4.0), (Param::FlutterPct, 0.0)] {
        track.params.set(param, value);
    }
    let input = sine(1000.0, 0.5, SRF, at(3.0) as usize);
    let score = vec![
        (0, Command::RecordLatency { frames: latency }),
        (at(0.1), act(0, TrackAction::Record)),
        (at(2.6), act(0, TrackAction::Play)),
        (at(2.7), set(0, Param::WowPct, 0.0)),
    ];
    let out = render_to_memory(config(vec![track]), SR, &input, &score, at(5.0), 256);
    let track = instantaneous_frequency(window(&out.stems[0], 3.0, 5.0), SRF);
    // The punch-out seam is one glitch per pass: leave it out.
    let steady: Vec<(f64, f64)> = track.into_iter().filter(|&(_, f)| (f - 1000.0).abs() < 30.0).collect();
    let (rate, amplitude) = dominant_rate(&steady, 2.0, 6.0, 0.01);
    (rate, amplitude / 1000.0 * 100.0)
}

#[test]
fn wow_recorded_through_any_latency_plays_back_as_deep_as_it_was_set() {
    for latency in [0u32, 256, 1792, 8192] {
        let (rate, depth) = recorded_wow(latency);
        eprintln!("recorded wow, latency {latency}: {depth:.3} % at {rate:.3} Hz (set 1 % at 4 Hz)");
        assert!((rate - 4.0).abs() < 0.2, "latency {latency}: rate {rate:.3} Hz");
        assert!((depth - 1.0).abs() <= 0.1, "latency {latency}: recorded depth {depth:.3} %");
    }
}

/// Record DC through one pass while the speed jumps (no inertia) and the
/// latency changes; return the recorded cells as runs of (first, length).
fn recorded_runs(score: Vec<(u64, Command)>, seconds: f64) -> (Vec<(usize, usize)>, usize) {
    let mut track = clean_track(1.0);
    track.params.set(Param::InertiaS, 0.0);
    let input = vec![0.5f32; at(seconds) as usize];
    let mut engine = Engine::new(config(vec![track]), SRF, 256);
    ferrotape::render::render_engine(&mut engine, &input[..], &score, at(seconds), 256, |_| {});
    let tape = engine.tape(0).unwrap();
    let written: Vec<bool> = tape.iter().map(|&c| (c - 0.5).abs() < 1e-6).collect();
    let len = written.len();
    // Runs of written cells, read around the loop from an unwritten cell.
    let Some(start) = written.iter().position(|&w| !w) else { return (vec![(0, len)], len) };
    let mut runs = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for step in 1..=len {
        let cell = (start + step) % len;
        match (written[cell], run.as_mut()) {
            (true, Some(r)) => r.1 += 1,
            (true, None) => run = Some((cell, 1)),
            (false, Some(_)) => runs.push(run.take().unwrap()),
            (false, None) => {}
        }
    }
    runs.extend(run);
    (runs, len)
}

#[test]
fn speed_steps_and_latency_changes_leave_no_cell_unwritten() {
    let steps = vec![
        (0, Command::RecordLatency { frames: 2048 }),
        (at(0.05), act(0, TrackAction::Record)),
        (at(0.2), set(0, Param::Speed, 2.5)),
        (at(0.3), set(0, Param::Speed, 1.0)),
        (at(0.4), set(0, Param::Speed, -1.3)),
        (at(0.5), set(0, Param::Speed, 1.6)),
        (at(0.6), Command::RecordLatency { frames: 100 }),
        (at(0.7), Command::RecordLatency { frames: 5000 }),
        (at(0.8), act(0, TrackAction::Play)),
    ];
    let (runs, len) = recorded_runs(steps, 1.0);
    let longest = runs.iter().map(|r| r.1).max().unwrap_or(0);
    eprintln!("recorded runs {runs:?} of a {len}-cell loop");
    // One unbroken arc, longer than any single leg of the path.
    assert_eq!(runs.len(), 1, "the record head skipped cells: runs {runs:?}");
    assert!(longest > len / 4, "runs {runs:?}");
}

fn render_with_latency_changes(block: usize) -> ferrotape::render::Rendered {
    let mut track = clean_track(0.7);
    for (param, value) in [(Param::WowPct, 1.5), (Param::FlutterPct, 0.3), (Param::DriftPct, 0.4)] {
        track.params.set(param, value);
    }
    let input = sine(330.0, 0.4, SRF, at(2.5) as usize);
    let score = vec![
        (0, Command::RecordLatency { frames: 300 }),
        (at(0.1), act(0, TrackAction::Dub)),
        (at(0.5), Command::RecordLatency { frames: 4000 }),
        (at(0.9), set(0, Param::Speed, -0.7)),
        (at(1.3), Command::RecordLatency { frames: 10 }),
        (at(2.0), act(0, TrackAction::Play)),
    ];
    render_to_memory(config(vec![track]), SR, &input, &score, at(2.5), block)
}

#[test]
fn latency_and_its_changes_are_block_size_invariant() {
    let reference = render_with_latency_changes(256);
    for block in [1, 64, 4096] {
        assert!(render_with_latency_changes(block) == reference, "block {block} differs");
    }
}

#[test]
fn a_free_take_through_latency_is_as_long_as_it_was_played() {
    for (latency, speed) in [(0u32, 1.0f32), (2048, 1.0), (2048, 0.5), (8192, 1.3)] {
        let mut track = clean_track(1.0);
        track.length = TapeLength::Free { max_seconds: 10.0 };
        track.params.set(Param::Speed, speed);
        let mut engine = Engine::new(config(vec![track]), SRF, 512);
        engine.set_record_latency(latency);
        let (mut left, mut right) = (vec![0.0; 512], vec![0.0; 512]);
        let press = at(0.5) as usize;
        let release = at(2.0) as usize;
        let mut frame = 0;
        while frame < at(2.2) as usize {
            let mut commands = Vec::new();
            for (when, action) in [(press, TrackAction::Record), (release, TrackAction::Play)] {
                if (frame..frame + 512).contains(&when) {
                    commands.push(TimedCommand { offset: (when - frame) as u32, command: act(0, action) });
                }
            }
            engine.process(&vec![0.1; 512], &mut left, &mut right, &commands);
            frame += 512;
        }
        let cells = engine.tape(0).unwrap().len() as f64;
        let expected = (release - press) as f64 * f64::from(speed);
        assert!(
            (cells - expected).abs() <= 1.0,
            "latency {latency}, speed {speed}: loop of {cells} cells, expected {expected}"
        );
    }
}

//! Quantize and the time grid, offline: presses wait for their grid point,
//! a free take made on the grid is a whole number of bars to the frame, and
//! its loop stays on the grid for ten minutes, at half speed and when the
//! tempo moves.

mod common;

use common::*;
use ferrotape::engine::grid::{frames_per_beat, GridState};
use ferrotape::engine::{
    Command, Engine, GridCommand, Param, SyncConfig, SyncSource, TapeLength, TimedCommand, TrackAction,
};

const BPM: f64 = 123.0;

fn fpb() -> f64 {
    frames_per_beat(BPM, SRF)
}

/// A free, clean track that waits for `quantize` (1 beat, 2 bar, 3 loop).
fn quantized_free(quantize: f32) -> ferrotape::engine::TrackConfig {
    let mut track = clean_track(1.0);
    track.length = TapeLength::Free { max_seconds: 30.0 };
    track.params.set(Param::Quantize, quantize);
    track
}

fn internal(tracks: Vec<ferrotape::engine::TrackConfig>) -> ferrotape::engine::EngineConfig {
    let mut config = config(tracks);
    config.sync = SyncConfig { source: SyncSource::Internal, tempo_bpm: BPM, ..SyncConfig::default() };
    config
}

/// Drives an engine block by block with commands at exact frames.
struct Rig {
    engine: Engine,
    frame: u64,
    input: Vec<f32>,
    left: Vec<f32>,
    right: Vec<f32>,
    /// Every output sample, left channel, when kept.
    out: Option<Vec<f32>>,
}

impl Rig {
    fn new(config: ferrotape::engine::EngineConfig) -> Rig {
        Rig {
            engine: Engine::new(config, SRF, 512),
            frame: 0,
            input: vec![0.0; 512],
            left: vec![0.0; 512],
            right: vec![0.0; 512],
            out: None,
        }
    }

    /// Run up to `frame`, feeding `signal(frame)` as input.
    fn run_to(&mut self, frame: u64, signal: &dyn Fn(u64) -> f32, command: Option<Command>) {
        while self.frame < frame {
            let n = (frame - self.frame).min(512) as usize;
            for (i, x) in self.input[..n].iter_mut().enumerate() {
                *x = signal(self.frame + i as u64);
            }
            self.engine.process(&self.input[..n], &mut self.left[..n], &mut self.right[..n], &[]);
            if let Some(out) = self.out.as_mut() {
                out.extend_from_slice(&self.left[..n]);
            }
            self.frame += n as u64;
        }
        if let Some(command) = command {
            self.engine.process(
                &[0.0],
                &mut self.left[..1],
                &mut self.right[..1],
                &[TimedCommand { offset: 0, command }],
            );
            let x = signal(self.frame);
            self.input[0] = x;
            if let Some(out) = self.out.as_mut() {
                out.push(self.left[0]);
            }
            self.frame += 1;
        }
    }

    fn press(&mut self, frame: u64, track: u8, action: TrackAction, signal: &dyn Fn(u64) -> f32) {
        self.run_to(frame, signal, Some(Command::Track { track, action }));
    }

    fn grid(&self) -> GridState {
        self.engine.grid()
    }
}

fn tone(frame: u64) -> f32 {
    (2.0 * std::f64::consts::PI * 440.0 * frame as f64 / SRF).sin() as f32 * 0.5
}

/// First frame at or after the exact start of beat `k` of the 123 BPM grid from frame 0.
fn beat_frame(k: f64) -> u64 {
    (k * fpb()).ceil() as u64
}

#[test]
fn a_bar_quantized_free_take_pressed_off_the_grid_is_two_bars_to_the_frame() {
    let mut rig = Rig::new(internal(vec![quantized_free(2.0)]));
    // Record pressed a third of the way into bar 1: it waits for bar 2.
    rig.press(at(0.65), 0, TrackAction::Record, &tone);
    let wait = rig.engine.snapshot().tracks[0];
    assert_eq!(wait.waiting, Some(TrackAction::Record), "the press waits");
    assert_eq!(wait.mode, ferrotape::engine::HeadMode::Play);
    rig.run_to(beat_frame(4.0) - 1, &tone, None);
    assert_eq!(rig.engine.snapshot().tracks[0].mode, ferrotape::engine::HeadMode::Play, "not before bar 2");
    rig.run_to(beat_frame(4.0) + 1, &tone, None);
    let recording = rig.engine.snapshot().tracks[0];
    assert_eq!((recording.mode, recording.waiting), (ferrotape::engine::HeadMode::Record, None));
    // Play pressed late in bar 3: it waits for bar 4 (beat 12).
    rig.press(at(5.5), 0, TrackAction::Play, &tone);
    rig.run_to(beat_frame(12.0) + 10, &tone, None);
    let cells = rig.engine.tape(0).unwrap().len();
    let exact = 8.0 * fpb();
    assert_eq!(cells as u64, beat_frame(12.0) - beat_frame(4.0), "the frames between the two bars");
    assert!((cells as f64 - exact).abs() < 1.0, "{cells} cells for {exact} frames");
    let snapshot = rig.engine.snapshot().tracks[0];
    assert_eq!(snapshot.locked_beats, 8.0);
}

#[test]
fn a_locked_loop_stays_on_the_grid_for_ten_minutes() {
    // Two bars at 123 BPM are 187 317.07 frames: a whole-cell loop without
    // the servo would drift by 0.07 frames a pass, 11 frames in ten minutes.
    let mut rig = Rig::new(internal(vec![quantized_free(2.0)]));
    let click = |frame: u64| if (beat_frame(4.0)..beat_frame(4.0) + 4).contains(&frame) { 0.9 } else { 0.0 };
    rig.press(at(0.5), 0, TrackAction::Record, &click);
    rig.press(at(5.0), 0, TrackAction::Play, &click);
    rig.run_to(beat_frame(12.0) + 1, &click, None);
    // Ten minutes on, at each loop top of the grid, the play head is where
    // it was at the first (the heads keep their record-latency lead), to
    // within a hundredth of a cell.
    let loop_beats = 8.0;
    let passes = (600.0 * BPM / 60.0 / loop_beats) as u64;
    let cells = rig.engine.tape(0).unwrap().len() as f64;
    let head_at = |rig: &Rig, top: f64| {
        // The top's frame is up to one late: the head has moved that far past it.
        let late = beat_frame(top) as f64 - top * fpb();
        rig.engine.play_position(0).unwrap() - late
    };
    rig.run_to(beat_frame(12.0 + loop_beats), &click, None);
    let first = head_at(&rig, 12.0 + loop_beats);
    let mut worst: f64 = 0.0;
    for k in 2..=passes {
        let top = 12.0 + k as f64 * loop_beats;
        rig.run_to(beat_frame(top), &click, None);
        let error = (head_at(&rig, top) - first + cells / 2.0).rem_euclid(cells) - cells / 2.0;
        worst = worst.max(error.abs());
    }
    assert!(worst < 0.01, "the loop wandered {worst} cells from the grid over {passes} passes");
}

#[test]
fn the_rendered_period_is_the_grid_at_speed_one_and_twice_it_at_half_speed() {
    let mut rig = Rig::new(internal(vec![quantized_free(2.0)]));
    let click = |frame: u64| {
        if (beat_frame(4.0) + 4800..beat_frame(4.0) + 4802).contains(&frame) {
            0.9
        } else {
            0.0
        }
    };
    rig.press(at(0.5), 0, TrackAction::Record, &click);
    rig.press(at(5.0), 0, TrackAction::Play, &click);
    rig.run_to(beat_frame(12.0), &click, None);
    rig.out = Some(Vec::new());
    let from = rig.frame;
    rig.run_to(beat_frame(12.0 + 8.0 * 4.0), &click, None);
    let clicks = onsets(rig.out.as_ref().unwrap(), from);
    assert_eq!(clicks.len(), 4, "{clicks:?}");
    for pair in clicks.windows(2) {
        let period = pair[1] - pair[0];
        assert!((period - 8.0 * fpb()).abs() < 0.05, "period {period} vs {}", 8.0 * fpb());
    }
    // At half speed the loop spans twice the grid.
    rig.run_to(rig.frame, &click, Some(Command::Set { track: 0, param: Param::Speed, value: 0.5 }));
    rig.run_to(rig.frame + at(20.0), &click, None);
    rig.out = Some(Vec::new());
    let from = rig.frame;
    rig.run_to(from + (16.0 * fpb() * 3.2) as u64, &click, None);
    let clicks = onsets(rig.out.as_ref().unwrap(), from);
    assert!(clicks.len() >= 3, "{clicks:?}");
    for pair in clicks.windows(2) {
        let period = pair[1] - pair[0];
        assert!((period - 16.0 * fpb()).abs() < 0.1, "half speed period {period} vs {}", 16.0 * fpb());
    }
}

#[test]
fn a_locked_loop_follows_the_clock_and_wow_moves_the_sound_not_the_grid() {
    let mut track = quantized_free(2.0);
    track.params.set(Param::WowPct, 0.3);
    track.params.set(Param::FlutterPct, 0.1);
    let mut rig = Rig::new(internal(vec![track]));
    let silent = |_| 0.0;
    rig.press(at(0.5), 0, TrackAction::Record, &tone);
    rig.press(at(5.0), 0, TrackAction::Play, &tone);
    rig.run_to(beat_frame(12.0) + 1, &silent, None);
    // A clock at 130 BPM takes over at a bar line: the loop follows it.
    let fpb130 = frames_per_beat(130.0, SRF);
    let bar = beat_frame(20.0);
    rig.run_to(
        bar,
        &silent,
        Some(Command::Grid(GridCommand::Position { beat: 20.0, frames_per_beat: fpb130 })),
    );
    let cells = rig.engine.tape(0).unwrap().len() as f64;
    let first = rig.engine.play_position(0).unwrap();
    let mut worst: f64 = 0.0;
    for k in 1..=20u64 {
        let top = bar as f64 + k as f64 * 8.0 * fpb130;
        rig.run_to(top.ceil() as u64, &silent, None);
        let pos = rig.engine.play_position(0).unwrap();
        let error = (pos - first + cells / 2.0).rem_euclid(cells) - cells / 2.0;
        worst = worst.max(error.abs());
    }
    // Wow moves the heads by up to ~0.3 % / (2π × 0.8 Hz) ≈ 29 cells; the grid stays.
    assert!(worst < 60.0, "the loop left the grid by {worst} cells");
    assert!((rig.grid().tempo_bpm(SRF) - 130.0).abs() < 1e-9);
}

#[test]
fn a_relative_take_keeps_the_press_and_the_grid_length() {
    let mut track = quantized_free(2.0);
    track.params.set(Param::QuantizeRelative, 1.0);
    let mut rig = Rig::new(internal(vec![track]));
    let start = at(0.65);
    rig.press(start, 0, TrackAction::Record, &tone);
    assert_eq!(
        rig.engine.snapshot().tracks[0].mode,
        ferrotape::engine::HeadMode::Record,
        "starts at the press"
    );
    rig.press(at(4.5), 0, TrackAction::Play, &tone);
    assert_eq!(rig.engine.snapshot().tracks[0].waiting, Some(TrackAction::Play));
    rig.run_to(at(9.0), &tone, None);
    let cells = rig.engine.tape(0).unwrap().len() as u64;
    assert_eq!(cells, (8.0 * fpb()).ceil() as u64, "two bars from the press");
}

#[test]
fn loop_quantize_waits_for_the_sync_tracks_top_without_any_tempo() {
    let mut leader = clean_track(1.0);
    leader.params.set(Param::Quantize, 0.0);
    let mut rig = Rig::new(config(vec![leader, quantized_free(3.0)]));
    rig.press(at(0.3), 1, TrackAction::Record, &tone);
    assert_eq!(rig.engine.snapshot().tracks[1].waiting, Some(TrackAction::Record));
    rig.press(at(2.6), 1, TrackAction::Play, &tone);
    rig.run_to(at(4.0), &tone, None);
    assert_eq!(rig.engine.tape(1).unwrap().len(), 96_000, "two of the leader's loops");
}

#[test]
fn a_second_press_takes_a_waiting_one_back_and_unquantized_presses_act_at_once() {
    let mut rig = Rig::new(internal(vec![quantized_free(1.0), quantized_free(0.0)]));
    rig.press(at(0.1), 0, TrackAction::Record, &tone);
    rig.press(at(0.2), 0, TrackAction::Record, &tone);
    assert_eq!(rig.engine.snapshot().tracks[0].waiting, None);
    rig.run_to(at(1.0), &tone, None);
    assert_eq!(rig.engine.snapshot().tracks[0].mode, ferrotape::engine::HeadMode::Play);
    rig.press(at(1.1), 1, TrackAction::Record, &tone);
    assert_eq!(rig.engine.snapshot().tracks[1].mode, ferrotape::engine::HeadMode::Record);
}

#[test]
fn a_stopped_clock_holds_the_presses_until_it_runs() {
    let mut config = config(vec![quantized_free(1.0)]);
    config.sync = SyncConfig { source: SyncSource::Midi, ..SyncConfig::default() };
    let mut rig = Rig::new(config);
    rig.press(at(0.1), 0, TrackAction::Record, &tone);
    rig.run_to(at(2.0), &tone, None);
    let snapshot = rig.engine.snapshot();
    assert_eq!(snapshot.tracks[0].waiting, Some(TrackAction::Record), "no clock, no beat");
    assert_eq!(snapshot.grid.lock, ferrotape::engine::Lock::Waiting);
    let start = at(2.5);
    rig.run_to(
        start,
        &tone,
        Some(Command::Grid(GridCommand::Position { beat: -0.5, frames_per_beat: 24_000.0 })),
    );
    rig.run_to(start + 11_999, &tone, None);
    assert_eq!(rig.engine.snapshot().tracks[0].waiting, Some(TrackAction::Record));
    rig.run_to(start + 12_002, &tone, None);
    let snapshot = rig.engine.snapshot();
    assert_eq!(
        (snapshot.tracks[0].waiting, snapshot.tracks[0].mode),
        (None, ferrotape::engine::HeadMode::Record)
    );
    assert_eq!(snapshot.grid.lock, ferrotape::engine::Lock::Locked);
}

/// Frames (fractional, by the peak's parabola) where clicks start in `x`,
/// counted from `from`.
fn onsets(x: &[f32], from: u64) -> Vec<f64> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < x.len() {
        if x[i].abs() > 0.2 {
            // The centre of mass of the click's first 8 samples.
            let end = (i + 8).min(x.len());
            let (mut m, mut w) = (0.0, 0.0);
            for (j, v) in x[i.saturating_sub(4)..end].iter().enumerate() {
                let e = f64::from(v * v);
                m += e * (i.saturating_sub(4) + j) as f64;
                w += e;
            }
            found.push(from as f64 + m / w);
            i += (SRF * 0.5) as usize;
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn a_quantized_loop_reopened_on_the_same_grid_is_locked_again() {
    let mut rig = Rig::new(internal(vec![quantized_free(2.0)]));
    rig.press(at(0.5), 0, TrackAction::Record, &tone);
    rig.press(at(5.5), 0, TrackAction::Play, &tone);
    rig.run_to(beat_frame(12.0) + 10, &tone, None);
    assert_eq!(rig.engine.snapshot().tracks[0].locked_beats, 8.0);
    let tape = rig.engine.tape(0).unwrap().to_vec();
    let mut reopened = Engine::new(internal(vec![quantized_free(2.0)]), SRF, 512);
    assert!(reopened.load_tape(0, &tape));
    assert_eq!(reopened.snapshot().tracks[0].locked_beats, 8.0, "a saved two-bar loop locks again");
    let mut free = Engine::new(internal(vec![quantized_free(0.0)]), SRF, 512);
    free.load_tape(0, &tape);
    assert_eq!(free.snapshot().tracks[0].locked_beats, 0.0, "quantize off: it runs free");
}

#[test]
fn clock_from_a_loop_sets_the_tempo_and_the_bar_lines() {
    // Track 1 is a 2 s loop said to be 4 beats: 120 BPM, a bar per pass.
    let mut config = config(vec![clean_track(2.0), quantized_free(2.0)]);
    config.sync = SyncConfig { clock_from: Some((0, 4.0)), ..SyncConfig::default() };
    let mut rig = Rig::new(config);
    rig.run_to(at(2.5), &tone, None);
    let grid = rig.grid();
    assert!(grid.running, "the loop's first top starts the grid");
    assert!((grid.tempo_bpm(SRF) - 120.0).abs() < 1e-9, "{}", grid.tempo_bpm(SRF));
    // A bar-quantized take on track 2 lands on the loop's tops.
    rig.press(at(2.7), 1, TrackAction::Record, &tone);
    rig.press(at(7.1), 1, TrackAction::Play, &tone);
    rig.run_to(at(9.0), &tone, None);
    assert_eq!(rig.engine.tape(1).unwrap().len(), 192_000, "two of the loop's bars (4 s)");
    // Slowing the loop down slows the clock with it.
    rig.run_to(rig.frame, &tone, Some(Command::Set { track: 0, param: Param::Speed, value: 0.5 }));
    rig.run_to(rig.frame + at(9.0), &tone, None);
    assert!((rig.grid().tempo_bpm(SRF) - 60.0).abs() < 1e-6, "{}", rig.grid().tempo_bpm(SRF));
}

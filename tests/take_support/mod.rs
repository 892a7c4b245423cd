//! Shared by the take tests: a wobbly two-track patch, a simulated clock
//! that performs a score into a take feed, and WAV readers that go across
//! segment files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ferrotape::engine::{Command, Engine, GridCommand, Param, TimedCommand, TrackAction};
use ferrotape::patch::Patch;
use ferrotape::take::segment::segment_paths;
use ferrotape::take::{spawn, TakeConfig, TakeFeed, TakeHandle};

pub const RATE: u32 = 48_000;

/// Two tracks with wow, flutter, drift and hiss on: state that lives outside
/// the tapes and would make a naive re-render drift.
pub fn wobbly_patch() -> Patch {
    let text = r#"
version = 1
name = "wobbly live"
seed = 7

[[track]]
length = 1.3
wow_pct = 0.8
flutter_pct = 0.2
drift_pct = 1.0
hiss_db = -70
drive_db = 6

[[track]]
length = "free"
max_length = 4
wow_pct = 0.4
age = 0.2
quantize = "beat"

[sync]
source = "internal"
tempo = 97
"#;
    Patch::parse(text, Path::new("wobbly.toml")).expect("test patch parses")
}

pub fn input_at(frame: u64) -> f32 {
    let t = frame as f64 / RATE as f64;
    (0.4 * (2.0 * std::f64::consts::PI * 330.0 * t).sin()
        + 0.1 * (2.0 * std::f64::consts::PI * 47.0 * t).sin()) as f32
}

/// A null clock: irregular callback sizes, commands landing mid-block,
/// `control(frame)` called between callbacks (the screen pressing keys).
pub fn perform(
    engine: &mut Engine,
    feed: &mut TakeFeed,
    score: &[(u64, Command)],
    frames: u64,
    mut control: impl FnMut(u64),
) {
    let sizes = [256usize, 100, 37, 512, 1, 300, 480];
    let mut input = vec![0.0f32; 512];
    let mut left = vec![0.0f32; 512];
    let mut right = vec![0.0f32; 512];
    let mut timed = Vec::new();
    let (mut frame, mut next, mut k) = (0u64, 0usize, 0usize);
    while frame < frames {
        control(frame);
        let n = sizes[k % sizes.len()].min((frames - frame) as usize);
        k += 1;
        for (i, x) in input[..n].iter_mut().enumerate() {
            *x = input_at(frame + i as u64);
        }
        timed.clear();
        while next < score.len() && score[next].0 < frame + n as u64 {
            let (at, command) = score[next];
            timed.push(TimedCommand { offset: (at - frame) as u32, command });
            feed.log(at, command);
            next += 1;
        }
        engine.process(&input[..n], &mut left[..n], &mut right[..n], &timed);
        engine.drain_acted(|a| feed.acted(a.frame, a.track, a.action));
        feed.push(frame, &input[..n], &left[..n], &right[..n], |t| engine.stem(t, n));
        frame += n as u64;
    }
    feed.flush();
}

pub fn score() -> Vec<(u64, Command)> {
    let track = |track, action| Command::Track { track, action };
    let mut score = vec![
        (4_801, track(0, TrackAction::Record)),
        (40_013, track(1, TrackAction::Record)),
        (70_001, track(0, TrackAction::Dub)),
        (90_017, track(1, TrackAction::Play)),
        (100_003, Command::Set { track: 0, param: Param::Speed, value: -0.75 }),
        (120_001, Command::Nudge { track: 1, param: Param::LevelDb, delta: -3.0 }),
        // Out of range and non-finite: the log must write what the engine did.
        (130_007, Command::Set { track: 0, param: Param::WowPct, value: 99.0 }),
        (140_011, Command::Nudge { track: 1, param: Param::Pan, delta: f32::NAN }),
        (150_000, track(0, TrackAction::Undo)),
        (170_123, track(1, TrackAction::Dub)),
    ];
    // The looper's grammar, inside the take: a multiply, a pause, a trigger,
    // a replace and a length change that slides the heads.
    score.extend([
        (95_003, track(1, TrackAction::Multiply)),
        (110_009, Command::Set { track: 0, param: Param::Length, value: 1.0 }),
        (145_001, track(1, TrackAction::Multiply)),
        (155_555, track(0, TrackAction::Pause)),
        (160_001, track(0, TrackAction::Pause)),
        (165_432, track(0, TrackAction::Trigger)),
        (175_000, track(0, TrackAction::Replace)),
        (185_000, track(0, TrackAction::Replace)),
    ]);
    // The grid moved while a quantized track waits and plays locked to it.
    score.extend([
        (125_000, Command::Grid(GridCommand::Tempo { bpm: 110.0 })),
        (135_000, track(0, TrackAction::Tap)),
        (158_000, track(1, TrackAction::Tap)),
        (168_000, Command::Grid(GridCommand::Position { beat: 20.25, frames_per_beat: 26_000.0 })),
    ]);
    score.sort_by_key(|(frame, _)| *frame);
    score
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrotape-takes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn start(root: &Path, patch: &Patch) -> (Engine, TakeFeed, TakeHandle) {
    start_with(root, patch, |_| {})
}

/// As [`start`], with the writer's configuration changed by `tune` first.
pub fn start_with(
    root: &Path,
    patch: &Patch,
    tune: impl FnOnce(&mut TakeConfig),
) -> (Engine, TakeFeed, TakeHandle) {
    let engine = Engine::new(patch.engine_config(), RATE as f64, 512);
    let mut config = TakeConfig::new(root.to_path_buf(), patch.clone(), RATE, engine.track_count());
    // The null clock runs far faster than real time; give the writer room.
    config.queue_seconds = 30.0;
    tune(&mut config);
    let (feed, handle) = spawn(config).expect("writer starts");
    (engine, feed, handle)
}

pub fn read_wav(path: &Path) -> (u16, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let channels = reader.spec().channels;
    (channels, reader.samples::<f32>().map(|s| s.expect("sample")).collect())
}

/// A stream read across all its segment files: (channels, interleaved
/// samples, frames in each segment).
pub fn read_stream(first: &Path) -> (u16, Vec<f32>, Vec<u64>) {
    let mut channels = 0;
    let mut samples = Vec::new();
    let mut frames = Vec::new();
    for path in segment_paths(first) {
        let (c, s) = read_wav(&path);
        assert!(
            channels == 0 || channels == c,
            "{}: {c} channels, the stream has {channels}",
            path.display()
        );
        channels = c;
        frames.push(s.len() as u64 / c as u64);
        samples.extend(s);
    }
    assert!(!frames.is_empty(), "{} does not exist", first.display());
    (channels, samples, frames)
}

//! Engine cost per track and real-time factor.
//!
//! Throughput is reported in frames per second of wall time; divided by the
//! sample rate (48 000) it is the real-time factor: how many seconds of audio
//! one core renders per second. `docs/performance.md` records the figures.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrotape::analysis::sine;
use ferrotape::engine::{
    Command, Engine, EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackAction,
    TrackConfig,
};

const SAMPLE_RATE: f64 = 48_000.0;
const BLOCK: usize = 256;
/// Frames per measured iteration: one second of audio.
const FRAMES: usize = 48_000;

/// A track with the whole model on: hysteresis, tape tone, wow, flutter,
/// drift, hiss and ageing.
fn full_track(index: usize) -> TrackConfig {
    let mut track = TrackConfig {
        length: TapeLength::Fixed(3.0 + 0.7 * index as f64),
        saturation: SaturationModel::Hysteresis,
        tone: ToneModel::Tape,
        ..TrackConfig::default()
    };
    for (param, value) in [
        (Param::DriveDb, 6.0),
        (Param::WowPct, 0.3),
        (Param::FlutterPct, 0.1),
        (Param::DriftPct, 0.2),
        (Param::HissDb, -70.0),
        (Param::Age, 0.02),
        (Param::Pan, -0.8 + 0.1 * index as f32),
    ] {
        track.params.set(param, value);
    }
    track
}

/// An engine with `tracks` full tracks, the first `dubbing` of them dubbing,
/// all at `speed`, warmed up with a second of recorded material.
fn engine(tracks: usize, dubbing: usize, quality: Quality, speed: f32) -> Engine {
    let config = EngineConfig {
        seed: 1,
        quality,
        master_db: 0.0,
        monitor_db: -120.0,
        tracks: (0..tracks).map(full_track).collect(),
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config, SAMPLE_RATE, BLOCK);
    for t in 0..tracks as u8 {
        engine.apply(Command::Track { track: t, action: TrackAction::Record });
        engine.apply(Command::Set { track: t, param: Param::Speed, value: speed });
    }
    run(&mut engine, &sine(220.0, 0.5, SAMPLE_RATE, FRAMES), FRAMES);
    for t in 0..tracks as u8 {
        let action = if (t as usize) < dubbing { TrackAction::Dub } else { TrackAction::Play };
        engine.apply(Command::Track { track: t, action });
    }
    engine
}

fn run(engine: &mut Engine, input: &[f32], frames: usize) {
    let (mut left, mut right) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    let mut done = 0;
    while done < frames {
        let n = BLOCK.min(frames - done);
        let start = done % input.len().max(1);
        let piece = if input.len() >= start + n { &input[start..start + n] } else { &[][..] };
        engine.process(piece, &mut left[..n], &mut right[..n], &[]);
        done += n;
    }
}

fn realtime_factor(c: &mut Criterion) {
    let input = sine(330.0, 0.5, SAMPLE_RATE, FRAMES);
    let mut group = c.benchmark_group("realtime");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.sample_size(20);
    for (name, tracks, dubbing, quality) in [
        ("1 track playing, full", 1, 0, Quality::Full),
        ("1 track dubbing, full", 1, 1, Quality::Full),
        ("16 tracks, 4 dubbing, full", 16, 4, Quality::Full),
        ("16 tracks, 4 dubbing, eco", 16, 4, Quality::Eco),
    ] {
        let mut engine = engine(tracks, dubbing, quality, 1.0);
        group.bench_function(name, |b| b.iter(|| run(&mut engine, &input, FRAMES)));
    }
    group.finish();
}

fn cost_per_track(c: &mut Criterion) {
    let input = sine(330.0, 0.5, SAMPLE_RATE, FRAMES);
    let mut group = c.benchmark_group("per track");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.sample_size(15);
    for speed in [1.0f32, 4.0] {
        for tracks in [1usize, 4, 16] {
            let mut engine = engine(tracks, 0, Quality::Full, speed);
            group.bench_with_input(
                BenchmarkId::new(format!("playing at speed {speed}"), tracks),
                &tracks,
                |b, _| b.iter(|| run(&mut engine, &input, FRAMES)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, realtime_factor, cost_per_track);
criterion_main!(benches);

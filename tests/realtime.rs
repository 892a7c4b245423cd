//! The audio callback's rules: no allocation in `process` whatever the
//! command, output identical at any block size, deterministic for a seed.

mod common;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use common::*;
use ferrotape::analysis::sine;
use ferrotape::engine::{
    Command, Engine, EngineConfig, GridCommand, Param, Quality, SaturationModel, SyncConfig, SyncSource,
    TapeLength, TimedCommand, ToneModel, TrackAction, TrackConfig,
};
use ferrotape::render::render_to_memory;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// Four tracks using every feature: both saturation models, tape tone,
/// wobble, drift, hiss, age, erase, a free track, eco and full quality.
fn everything(quality: Quality) -> EngineConfig {
    let mut tracks = Vec::new();
    let models = [
        SaturationModel::Hysteresis,
        SaturationModel::Soft,
        SaturationModel::Hysteresis,
        SaturationModel::Off,
    ];
    for (i, saturation) in models.into_iter().enumerate() {
        let mut track = TrackConfig {
            length: if i == 3 {
                TapeLength::Free { max_seconds: 3.0 }
            } else {
                TapeLength::Fixed(0.4 + 0.37 * i as f64)
            },
            // Room to multiply and insert into.
            max_length: (i < 3).then_some(2.5),
            saturation,
            tone: if i == 3 { ToneModel::Flat } else { ToneModel::Tape },
            ..TrackConfig::default()
        };
        for (param, value) in [
            (Param::DriveDb, 12.0),
            (Param::WowPct, 0.8),
            (Param::FlutterPct, 0.3),
            (Param::DriftPct, 0.5),
            (Param::HissDb, -60.0),
            (Param::Age, 0.2),
            (Param::Erase, 0.05),
            (Param::Pan, -0.5 + 0.3 * i as f32),
            (Param::Speed, [1.0, -0.7, 1.6, 1.0][i]),
        ] {
            track.params.set(param, value);
        }
        tracks.push(track);
    }
    // On an internal grid: quantized presses wait for it and locked loops follow it.
    let sync = SyncConfig { source: SyncSource::Internal, tempo_bpm: 140.0, ..SyncConfig::default() };
    EngineConfig { seed: 99, quality, master_db: 0.0, monitor_db: -6.0, tracks, sync }
}

/// Every action and a sweep of every parameter, spread over `seconds`.
fn storm(seconds: f64, tracks: u8) -> Vec<(u64, Command)> {
    let mut score = Vec::new();
    let mut t = 0.01;
    let step = seconds / (2.0 * (TrackAction::ALL.len() + Param::ALL.len()) as f64 + 50.0);
    for track in 0..tracks {
        for action in [TrackAction::Record, TrackAction::Dub, TrackAction::Play] {
            score.push((at(t), act(track, action)));
            t += step / 4.0;
        }
    }
    for round in 0..2 {
        for action in TrackAction::ALL {
            for track in 0..tracks {
                score.push((at(t), act(track, action)));
            }
            t += step;
        }
        for param in Param::ALL {
            let spec = param.spec();
            let value = if round == 0 { spec.max } else { spec.min + 0.3 * (spec.max - spec.min) };
            for track in 0..tracks {
                score.push((at(t), set(track, param, if param == Param::Length { 0.3 } else { value })));
                score.push((at(t), Command::Nudge { track, param, delta: 0.01 }));
            }
            t += step;
        }
    }
    // The grammar's phrases as a performer plays them: each started and
    // ended, and a length change that slides the heads over `inertia_s`.
    let phrases: [&[TrackAction]; 6] = [
        &[TrackAction::Multiply, TrackAction::Multiply],
        &[TrackAction::Insert, TrackAction::Insert],
        &[TrackAction::Replace, TrackAction::Replace, TrackAction::Substitute, TrackAction::Play],
        &[TrackAction::Pause, TrackAction::Pause, TrackAction::Oneshot, TrackAction::Trigger],
        &[TrackAction::Multiply, TrackAction::Undo, TrackAction::UndoAll, TrackAction::RedoAll],
        &[TrackAction::Insert, TrackAction::Clear, TrackAction::Undo, TrackAction::Redo],
    ];
    for phrase in phrases {
        for &action in phrase {
            for track in 0..tracks {
                score.push((at(t), act(track, action)));
            }
            t += step;
        }
    }
    for track in 0..tracks {
        score.push((at(t), set(track, Param::InertiaS, 0.2)));
        score.push((at(t), set(track, Param::Length, 0.9)));
        score.push((at(t + step), set(track, Param::Length, 0.5)));
    }
    t += 2.0 * step;
    // Quantized by bar, by loop and relative, with the grid moved, stopped,
    // retempoed and tapped while presses wait.
    for (quantize, relative) in [(2.0, 0.0), (3.0, 0.0), (1.0, 1.0)] {
        for track in 0..tracks {
            score.push((at(t), set(track, Param::Quantize, quantize)));
            score.push((at(t), set(track, Param::QuantizeRelative, relative)));
            score.push((at(t), act(track, TrackAction::Clear)));
            score.push((at(t + step), act(track, TrackAction::Record)));
            score.push((at(t + 3.0 * step), act(track, TrackAction::Play)));
        }
        t += 4.0 * step;
    }
    let grid = [
        GridCommand::Position { beat: 3.5, frames_per_beat: 21_000.0 },
        GridCommand::Tempo { bpm: 97.0 },
        GridCommand::Tap,
        GridCommand::Stop,
        GridCommand::Tap,
        GridCommand::Position { beat: 0.0, frames_per_beat: 19_000.0 },
    ];
    for command in grid {
        score.push((at(t), Command::Grid(command)));
        score.push((at(t), act(0, TrackAction::Tap)));
        t += step / 2.0;
    }
    score.push((at(t), act(0, TrackAction::Record)));
    score.sort_by_key(|(frame, _)| *frame);
    score
}

#[test]
fn process_never_allocates_for_any_command_or_feature() {
    for quality in [Quality::Full, Quality::Eco] {
        let config = everything(quality);
        let tracks = config.tracks.len() as u8;
        let mut engine = Engine::new(config, SRF, 256);
        let score = storm(12.0, tracks);
        let input = sine(330.0, 0.8, SRF, 256);
        let (mut left, mut right) = (vec![0.0f32; 256], vec![0.0f32; 256]);
        let mut timed: Vec<TimedCommand> = Vec::with_capacity(score.len());
        let mut next = 0;
        let blocks = at(12.0) as usize / 256;
        for block in 0..blocks {
            let start = (block * 256) as u64;
            timed.clear();
            while next < score.len() && score[next].0 < start + 256 {
                timed.push(TimedCommand { offset: (score[next].0 - start) as u32, command: score[next].1 });
                next += 1;
            }
            assert_no_alloc(|| engine.process(&input, &mut left, &mut right, &timed));
            let snapshot = assert_no_alloc(|| engine.snapshot());
            assert!(snapshot.tracks().len() == tracks as usize);
            assert!(left.iter().chain(&right).all(|v| v.is_finite() && v.abs() <= 1.0));
        }
        assert_eq!(next, score.len(), "every command was applied");
        // Commands for tracks that do not exist, and NaN values, are harmless too.
        let odd = [
            TimedCommand { offset: 0, command: act(200, TrackAction::Record) },
            TimedCommand { offset: 3, command: set(0, Param::Speed, f32::NAN) },
            TimedCommand { offset: 9999, command: set(1, Param::LevelDb, f32::INFINITY) },
        ];
        let nan_input = vec![f32::NAN; 256];
        assert_no_alloc(|| engine.process(&nan_input, &mut left, &mut right, &odd));
        assert!(left.iter().chain(&right).all(|v| v.is_finite()));
    }
}

fn render_at(block: usize, seed: u64) -> Vec<f32> {
    let mut config = everything(Quality::Full);
    config.seed = seed;
    let input = sine(220.0, 0.7, SRF, at(6.0) as usize);
    let out = render_to_memory(config, SR, &input, &storm(6.0, 4), at(6.0), block);
    let mut all = out.left;
    all.extend(out.right);
    for stem in out.stems {
        all.extend(stem);
    }
    all
}

#[test]
fn output_is_bit_identical_at_any_block_size() {
    let reference = render_at(64, 7);
    for block in [1, 4096, 333] {
        let other = render_at(block, 7);
        let first_difference = reference.iter().zip(&other).position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(first_difference, None, "block {block} differs from block 64");
        assert_eq!(reference.len(), other.len());
    }
}

#[test]
fn output_is_deterministic_for_a_seed_and_differs_between_seeds() {
    let a = render_at(256, 7);
    let b = render_at(256, 7);
    let c = render_at(256, 8);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    assert!(a.iter().zip(&c).any(|(x, y)| x != y));
    assert!(a.iter().any(|&x| x.abs() > 0.01), "the render is not silent");
}

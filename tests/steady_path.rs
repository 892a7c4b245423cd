//! A track at rest runs on its steady path, which computes once what cannot
//! change until the next command. It must give the samples the general path
//! gives, bit for bit, whatever the track does before, during and after:
//! every head mode, fades, glides, undo sweeps, a multiply and an insert,
//! latency changing under a running head, speed steps and reverse, the
//! whole model, every model off, and the eco read.

mod common;

use common::*;
use ferrotape::analysis::sine;
use ferrotape::engine::{
    Command, Engine, EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackAction,
    TrackConfig,
};
use ferrotape::render::render_engine;

/// Thirteen tracks (so one ticks alone and six in pairs) of three set-ups:
/// the whole model (tracks 1, 3, 4, 7 and 10), every model off, and every
/// model off with ageing (tracks 6, 9 and 11). Tracks 1, 10 and 11 are
/// free: the last two play blank tape, their length not yet set, before
/// their first take. Tracks 12 and 13 (every model off) mostly play, so
/// they coast: the tape at one speed, nothing written.
const TRACKS: usize = 13;

fn tracks() -> Vec<TrackConfig> {
    (0..TRACKS)
        .map(|i| {
            let length = if i == 0 || i >= 9 {
                TapeLength::Free { max_seconds: 3.0 }
            } else {
                TapeLength::Fixed(0.5 + 0.11 * i as f64)
            };
            let mut track = TrackConfig { length, ..TrackConfig::default() };
            match if i == 2 {
                0
            } else if i == 10 {
                2
            } else if i >= 11 {
                1
            } else {
                i % 3
            } {
                0 => whole_model(&mut track),
                plain => {
                    track.saturation = SaturationModel::Off;
                    track.tone = ToneModel::Flat;
                    for (param, value) in [
                        (Param::WowPct, 0.0),
                        (Param::FlutterPct, 0.0),
                        (Param::DriftPct, 0.0),
                        (Param::HissDb, -120.0),
                        (Param::Age, if plain == 2 { 0.05 } else { 0.0 }),
                        (Param::InertiaS, if i == 4 || i == 12 { 0.0 } else { 0.3 }),
                    ] {
                        track.params.set(param, value);
                    }
                }
            }
            track.params.set(Param::Pan, -0.8 + 0.2 * i as f32);
            track
        })
        .collect()
}

/// What a performer might do to nine tracks in four seconds.
fn score() -> Vec<(u64, Command)> {
    let mut score = vec![(0, Command::RecordLatency { frames: 300 })];
    for t in (0..9u8).chain([11, 12]) {
        score.push((at(0.02 * t as f64), act(t, TrackAction::Record)));
    }
    // The coasting tracks: played, through a glide down (the record path
    // band-limited) and back, a stop and a start with inertia, reverse, a
    // fade, speed steps, and latency changes under way (the global ones
    // below). Then a dub each: what the record path took in while they
    // coasted is written. And wow and flutter where there was none (on a
    // dubbing track too): the motors that coasted must have turned their
    // modulators all along.
    score.extend([
        (at(0.9), act(11, TrackAction::Play)),
        (at(1.02), act(12, TrackAction::Play)),
        (at(1.45), set(11, Param::Speed, 0.5)),
        (at(2.05), set(11, Param::Speed, 1.0)),
        (at(2.2), act(12, TrackAction::Reverse)),
        (at(2.35), set(12, Param::LevelDb, -4.0)),
        // With no inertia the motor is at its new speed at once, and the
        // record head replays the old one for a round trip more.
        (at(2.5), set(12, Param::Speed, 0.6)),
        (at(2.52), act(12, TrackAction::Dub)),
        (at(2.8), act(12, TrackAction::Play)),
        (at(2.9), set(12, Param::Speed, 1.0)),
        (at(2.75), act(11, TrackAction::Stop)),
        (at(3.3), act(11, TrackAction::Play)),
        (at(3.6), act(12, TrackAction::Reverse)),
        (at(3.45), act(12, TrackAction::Dub)),
        (at(3.8), act(11, TrackAction::Dub)),
        (at(3.7), set(12, Param::WowPct, 0.4)),
        (at(3.5), set(1, Param::FlutterPct, 0.2)),
    ]);
    score.push((at(0.9), act(0, TrackAction::Play)));
    // The free tracks that waited: a first take, then play, then a dub.
    score.extend([
        (at(1.2), act(9, TrackAction::Record)),
        (at(2.0), act(10, TrackAction::Record)),
        (at(1.9), act(9, TrackAction::Play)),
        (at(2.5), act(10, TrackAction::Play)),
        (at(2.95), act(9, TrackAction::Dub)),
        (at(3.15), act(10, TrackAction::Dub)),
    ]);
    for t in 1..9u8 {
        // Tracks 3 and 4 dub side by side through the hysteresis model.
        let action = if t % 3 == 1 || t == 2 || t == 3 { TrackAction::Dub } else { TrackAction::Play };
        score.push((at(1.0 + 0.013 * t as f64), act(t, action)));
    }
    score.extend([
        (at(1.3), set(2, Param::LevelDb, -9.0)),
        (at(1.4), set(3, Param::Speed, 2.6)),
        (at(1.5), act(4, TrackAction::Reverse)),
        (at(1.55), Command::RecordLatency { frames: 900 }),
        (at(1.6), act(5, TrackAction::Erase)),
        (at(1.7), act(6, TrackAction::Multiply)),
        (at(1.8), act(7, TrackAction::Undo)),
        (at(1.9), act(8, TrackAction::Replace)),
        (at(2.1), act(6, TrackAction::Multiply)),
        (at(2.2), act(8, TrackAction::Replace)),
        (at(2.3), act(5, TrackAction::Play)),
        (at(2.4), act(1, TrackAction::Insert)),
        (at(2.6), act(1, TrackAction::Insert)),
        (at(2.7), act(7, TrackAction::Redo)),
        (at(2.8), set(3, Param::Speed, 0.7)),
        (at(2.9), act(2, TrackAction::Stop)),
        (at(3.0), set(4, Param::Speed, 1.3)),
        // Back to a whole speed between cells: the held kernel weights at a
        // phase other than zero.
        (at(3.25), set(4, Param::Speed, -1.0)),
        (at(3.1), act(0, TrackAction::Dub)),
        (at(3.2), Command::RecordLatency { frames: 64 }),
        (at(3.3), act(2, TrackAction::Play)),
        (at(3.4), act(0, TrackAction::Clear)),
    ]);
    score.sort_by_key(|e| e.0);
    score
}

fn render(quality: Quality, steady_path: bool, block: usize) -> (Vec<u32>, Vec<Vec<u32>>) {
    let config = EngineConfig { seed: 5, quality, tracks: tracks(), ..EngineConfig::default() };
    let mut engine = Engine::new(config, SRF, block);
    engine.set_steady_path(steady_path);
    let input: Vec<f32> = sine(330.0, 0.5, SRF, at(4.0) as usize);
    let mut mix = Vec::new();
    let mut stems = vec![Vec::new(); TRACKS];
    render_engine(&mut engine, &input[..], &score(), at(4.0), block, |b| {
        for (l, r) in b.left.iter().zip(b.right) {
            mix.extend([l.to_bits(), r.to_bits()]);
        }
        for (t, stem) in stems.iter_mut().enumerate() {
            stem.extend(b.stem(t).iter().map(|x| x.to_bits()));
        }
    });
    (mix, stems)
}

#[test]
fn the_steady_path_gives_the_samples_of_the_general_one() {
    for quality in [Quality::Full, Quality::Eco] {
        let (mix, stems) = render(quality, false, 256);
        assert!(mix.iter().any(|&x| f32::from_bits(x).abs() > 0.01), "the scene plays");
        for block in [256, 61] {
            let (steady_mix, steady_stems) = render(quality, true, block);
            for t in 0..TRACKS {
                let first = stems[t].iter().zip(&steady_stems[t]).position(|(a, b)| a != b);
                assert_eq!(
                    first,
                    None,
                    "{quality:?}, track {}, blocks of {block}: first differing frame",
                    t + 1
                );
            }
            assert!(mix == steady_mix, "{quality:?}, blocks of {block}: the mix differs");
        }
    }
}

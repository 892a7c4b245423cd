//! The engine's output is fingerprinted per model revision: when the sound
//! changes, `MODEL_REVISION` must change with it, or takes recorded by the
//! previous engine would claim to re-render exactly when they do not.
//!
//! The fingerprint is of a scene that touches every model (hysteresis and
//! soft saturation, tape tone, wow, flutter, drift, hiss, ageing, dub,
//! erase, reverse, varispeed, undo, latency and its change, two quality
//! settings). It is exact on x86_64 Linux, where CI runs; elsewhere the C
//! library's transcendental functions may round differently.

mod common;

use common::*;
use ferrotape::analysis::sine;
use ferrotape::engine::{
    Command, EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackAction, TrackConfig,
    MODEL_REVISION,
};
use ferrotape::render::render_to_memory;

/// The output fingerprint of each model revision.
const FINGERPRINTS: [(u32, u64); 3] =
    [(2, 0x3e6b_b658_3fd0_1d9e), (3, 0x5e2f_d4c5_0023_d744), (4, 0xfd65_3ebf_9cfc_7fb2)];

fn scene(quality: Quality) -> EngineConfig {
    let mut tape = TrackConfig { length: TapeLength::Fixed(0.9), ..TrackConfig::default() };
    for (param, value) in [
        (Param::DriveDb, 9.0),
        (Param::WowPct, 0.6),
        (Param::FlutterPct, 0.2),
        (Param::DriftPct, 0.3),
        (Param::HissDb, -70.0),
        (Param::Age, 0.05),
        (Param::Feedback, 0.8),
    ] {
        tape.params.set(param, value);
    }
    let mut soft = TrackConfig { length: TapeLength::Free { max_seconds: 3.0 }, ..tape.clone() };
    soft.saturation = SaturationModel::Soft;
    soft.tone = ToneModel::Flat;
    soft.params.set(Param::Pan, -0.5);
    EngineConfig { seed: 7, quality, tracks: vec![tape, soft], ..EngineConfig::default() }
}

fn score() -> Vec<(u64, Command)> {
    let mut score = vec![
        (0, Command::RecordLatency { frames: 700 }),
        (at(0.1), act(0, TrackAction::Record)),
        (at(0.2), act(1, TrackAction::Record)),
        (at(1.0), act(0, TrackAction::Dub)),
        (at(1.3), act(1, TrackAction::Play)),
        (at(1.5), set(0, Param::Speed, 0.7)),
        (at(1.9), act(0, TrackAction::Reverse)),
        (at(2.2), Command::RecordLatency { frames: 2000 }),
        (at(2.4), act(0, TrackAction::Erase)),
        (at(2.6), act(0, TrackAction::Play)),
        (at(2.7), act(0, TrackAction::Undo)),
        (at(2.9), set(1, Param::Speed, 2.3)),
    ];
    score.sort_by_key(|e| e.0);
    score
}

/// FNV-1a over the bits of every sample of the mix and stems.
fn fingerprint() -> u64 {
    let input: Vec<f32> = sine(440.0, 0.6, SRF, at(3.5) as usize)
        .iter()
        .zip(sine(1230.0, 0.2, SRF, at(3.5) as usize))
        .map(|(a, b)| a + b)
        .collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for quality in [Quality::Full, Quality::Eco] {
        let out = render_to_memory(scene(quality), SR, &input, &score(), at(3.5), 256);
        for channel in [&out.left, &out.right].into_iter().chain(out.stems.iter()) {
            for x in channel.iter() {
                for byte in x.to_bits().to_le_bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
    }
    hash
}

#[test]
fn the_sound_changes_only_with_the_model_revision() {
    let measured = fingerprint();
    let recorded = FINGERPRINTS.iter().find(|(revision, _)| *revision == MODEL_REVISION).map(|f| f.1);
    assert_eq!(
        recorded,
        Some(measured),
        "the engine's output fingerprint is {measured:#018x} at MODEL_REVISION {MODEL_REVISION}: \
         if the sound was meant to change, raise MODEL_REVISION and record the new fingerprint here"
    );
}

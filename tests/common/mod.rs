//! Shared set-up for the engine tests: clean tracks and a quick way to
//! render a score.
#![allow(dead_code, unused_imports)]

mod files;
pub use files::*;

use ferrotape::engine::{
    Command, EngineConfig, Param, SaturationModel, TapeLength, ToneModel, TrackAction, TrackConfig,
};
use ferrotape::render::{render_to_memory, Rendered};

pub const SR: u32 = 48_000;
pub const SRF: f64 = SR as f64;

/// A track with every colour and wobble off: a measuring instrument.
pub fn clean_track(length_s: f64) -> TrackConfig {
    let mut track = TrackConfig { length: TapeLength::Fixed(length_s), ..TrackConfig::default() };
    track.saturation = SaturationModel::Off;
    track.tone = ToneModel::Flat;
    for (param, value) in [(Param::WowPct, 0.0), (Param::FlutterPct, 0.0), (Param::InertiaS, 0.0)] {
        track.params.set(param, value);
    }
    track
}

/// The whole tape model as the benchmarks and the live comparison set it:
/// hysteresis at drive 6 dB, wow 0.3 %, flutter 0.1 %, drift 0.2 %, hiss at
/// -70 dBFS and age 0.02 (the tone is the default, `tape`).
pub fn whole_model(track: &mut TrackConfig) {
    for (param, value) in [
        (Param::DriveDb, 6.0),
        (Param::WowPct, 0.3),
        (Param::FlutterPct, 0.1),
        (Param::DriftPct, 0.2),
        (Param::HissDb, -70.0),
        (Param::Age, 0.02),
    ] {
        track.params.set(param, value);
    }
}

pub fn config(tracks: Vec<TrackConfig>) -> EngineConfig {
    EngineConfig { seed: 1, tracks, ..EngineConfig::default() }
}

pub fn at(seconds: f64) -> u64 {
    (seconds * SRF).round() as u64
}

pub fn act(track: u8, action: TrackAction) -> Command {
    Command::Track { track, action }
}

pub fn set(track: u8, param: Param, value: f32) -> Command {
    Command::Set { track, param, value }
}

pub fn render(config: EngineConfig, input: &[f32], score: &[(u64, Command)], seconds: f64) -> Rendered {
    render_to_memory(config, SR, input, score, at(seconds), 256)
}

/// Samples between two times, in seconds.
pub fn window(x: &[f32], from_s: f64, to_s: f64) -> &[f32] {
    &x[at(from_s) as usize..at(to_s) as usize]
}

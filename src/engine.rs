//! The tape engine: pure DSP, no I/O. See `docs/architecture.md`.

pub mod color;
pub mod command;
pub mod filter;
pub mod noise;
pub mod params;

pub use command::{Command, TimedCommand, TrackAction};
pub use params::{
    EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackConfig, TrackParams,
    MAX_TRACKS,
};

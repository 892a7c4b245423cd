//! What the outside world can ask of the engine. `Copy`, no heap data, so a
//! command can cross a lock-free queue from any thread.

use super::grid::GridCommand;
use super::params::Param;

pub use super::action::TrackAction;

/// One instruction to the engine. Track indices are 0-based here; files and
/// screens show them 1-based.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    Track {
        track: u8,
        action: TrackAction,
    },
    /// Set a parameter; the value is clamped into its range.
    Set {
        track: u8,
        param: Param,
        value: f32,
    },
    /// Add to a parameter (relative encoders, fine adjust); clamped.
    Nudge {
        track: u8,
        param: Param,
        delta: f32,
    },
    /// The round-trip latency the record heads compensate, in frames (for
    /// every track; clamped to `MAX_RECORD_LATENCY`). Live audio sends it when
    /// the latency is measured, so a take's log replays it at the same frame.
    RecordLatency {
        frames: u32,
    },
    /// Move, stop or retempo the time grid (see [`super::grid`]).
    Grid(GridCommand),
}

impl Command {
    /// The track this command is for; `None` for the whole engine.
    pub fn track(&self) -> Option<u8> {
        match *self {
            Command::Track { track, .. } | Command::Set { track, .. } | Command::Nudge { track, .. } => {
                Some(track)
            }
            Command::RecordLatency { .. } | Command::Grid(_) => None,
        }
    }
}

/// A command to apply `offset` frames into the next processed block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedCommand {
    pub offset: u32,
    pub command: Command,
}

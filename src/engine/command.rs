//! What the outside world can ask of the engine. `Copy`, no heap data, so a
//! command can cross a lock-free queue from any thread.

use super::params::Param;

/// Something a performer does to one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackAction {
    /// Heads read only; the motor runs at the track's speed.
    Play,
    /// The motor glides to a halt; the play head keeps reading as it slows.
    Stop,
    /// Replace what is on the tape with the input.
    Record,
    /// Keep `feedback` of the old signal and add the input.
    Dub,
    /// Wipe the tape as it passes the heads, writing nothing.
    Erase,
    /// Wipe the whole tape at once (undoable).
    Clear,
    /// Flip the direction of the transport.
    Reverse,
    /// Take back the last record, dub, erase, clear, multiply, insert or replace.
    Undo,
    /// Re-apply what the last undo took back.
    Redo,
    /// Take back every level the undo store holds.
    UndoAll,
    /// Re-apply every level undo took back.
    RedoAll,
    /// Press to start, press again to end: the loop grows by whole cycles
    /// while what is played is dubbed onto the repeating cycle.
    Multiply,
    /// Press to start, press again to end: whole cycles of new material are
    /// inserted at the record head, the rest of the loop moves later.
    Insert,
    /// Punch-replace under the record head, the loop keeping its length;
    /// the old material is silent while it is replaced.
    Replace,
    /// Like replace, but the old material is heard while it is replaced.
    Substitute,
    /// Restart from the top of the loop (and play, if stopped).
    Trigger,
    /// Play from the top once, then pause.
    Oneshot,
    /// Stop at once, without the motor's glide; pressed again, resume in place.
    Pause,
    Mute,
    Unmute,
    Solo,
    Unsolo,
}

impl TrackAction {
    pub const ALL: [TrackAction; 22] = [
        TrackAction::Play,
        TrackAction::Stop,
        TrackAction::Record,
        TrackAction::Dub,
        TrackAction::Erase,
        TrackAction::Clear,
        TrackAction::Reverse,
        TrackAction::Undo,
        TrackAction::Redo,
        TrackAction::UndoAll,
        TrackAction::RedoAll,
        TrackAction::Multiply,
        TrackAction::Insert,
        TrackAction::Replace,
        TrackAction::Substitute,
        TrackAction::Trigger,
        TrackAction::Oneshot,
        TrackAction::Pause,
        TrackAction::Mute,
        TrackAction::Unmute,
        TrackAction::Solo,
        TrackAction::Unsolo,
    ];

    /// The name used in events files, MIDI bindings and take logs.
    pub const fn name(self) -> &'static str {
        match self {
            TrackAction::Play => "play",
            TrackAction::Stop => "stop",
            TrackAction::Record => "record",
            TrackAction::Dub => "dub",
            TrackAction::Erase => "erase",
            TrackAction::Clear => "clear",
            TrackAction::Reverse => "reverse",
            TrackAction::Undo => "undo",
            TrackAction::Redo => "redo",
            TrackAction::UndoAll => "undo_all",
            TrackAction::RedoAll => "redo_all",
            TrackAction::Multiply => "multiply",
            TrackAction::Insert => "insert",
            TrackAction::Replace => "replace",
            TrackAction::Substitute => "substitute",
            TrackAction::Trigger => "trigger",
            TrackAction::Oneshot => "oneshot",
            TrackAction::Pause => "pause",
            TrackAction::Mute => "mute",
            TrackAction::Unmute => "unmute",
            TrackAction::Solo => "solo",
            TrackAction::Unsolo => "unsolo",
        }
    }

    pub fn from_name(name: &str) -> Option<TrackAction> {
        TrackAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

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
}

impl Command {
    /// The track this command is for; `None` for the whole engine.
    pub fn track(&self) -> Option<u8> {
        match *self {
            Command::Track { track, .. } | Command::Set { track, .. } | Command::Nudge { track, .. } => {
                Some(track)
            }
            Command::RecordLatency { .. } => None,
        }
    }
}

/// A command to apply `offset` frames into the next processed block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedCommand {
    pub offset: u32,
    pub command: Command,
}

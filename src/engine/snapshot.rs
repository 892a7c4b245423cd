//! What the screen reads: a fixed-size, `Copy` picture of the engine.

use super::params::{TrackParams, MAX_TRACKS};

/// What a track's heads are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HeadMode {
    #[default]
    Play,
    Stop,
    Record,
    Dub,
    Erase,
    /// Dubbing while the loop grows by whole cycles.
    Multiply,
    /// Recording new cycles into the loop at the record head.
    Insert,
    /// Recording over the loop, the old material silent.
    Replace,
    /// Recording over the loop, the old material heard.
    Substitute,
    /// Playing once to the end of the loop, then pausing.
    Oneshot,
    /// Halted at once, heads lifted; resumes where it stopped.
    Paused,
}

impl HeadMode {
    /// Short upper-case label for the screen.
    pub fn label(self) -> &'static str {
        match self {
            HeadMode::Play => "PLAY",
            HeadMode::Stop => "STOP",
            HeadMode::Record => "REC",
            HeadMode::Dub => "DUB",
            HeadMode::Erase => "ERASE",
            HeadMode::Multiply => "MULT",
            HeadMode::Insert => "INS",
            HeadMode::Replace => "REPL",
            HeadMode::Substitute => "SUBST",
            HeadMode::Oneshot => "ONCE",
            HeadMode::Paused => "PAUSE",
        }
    }

    /// Whether the record head is writing in this mode.
    pub fn writes(self) -> bool {
        matches!(
            self,
            HeadMode::Record
                | HeadMode::Dub
                | HeadMode::Erase
                | HeadMode::Multiply
                | HeadMode::Insert
                | HeadMode::Replace
                | HeadMode::Substitute
        )
    }
}

/// Bins in a track's loop overview (what the screen draws as the tape).
pub const OVERVIEW_BINS: usize = 64;

/// One track, as last seen by the engine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackSnapshot {
    pub mode: HeadMode,
    /// Play head position as a fraction of the loop, 0..1.
    pub position: f32,
    /// Loop length in seconds at speed 1 (for an unset free track: 0).
    pub length_s: f32,
    /// Whether this is a free track still waiting for its first recording.
    pub length_unset: bool,
    /// Target speed (ratio).
    pub target_speed: f32,
    /// Motor speed (ratio), gliding toward the target.
    pub motor_speed: f32,
    /// Tape speed including wow, flutter and drift.
    pub tape_speed: f32,
    /// Peak absolute output of the last block, linear.
    pub peak: f32,
    pub muted: bool,
    pub soloed: bool,
    /// A press waiting for the grid (quantize), shown as WAIT.
    pub waiting: Option<super::TrackAction>,
    /// Beats a loop locked to the grid spans; 0 when it runs free.
    pub locked_beats: f32,
    pub can_undo: bool,
    pub can_redo: bool,
    /// Levels the undo store holds that undo can take back, and that redo can re-apply.
    pub undo_levels: u16,
    pub redo_levels: u16,
    /// Length of one cycle in cells: the loop as it was when a multiply or
    /// insert began (while one runs, or after one), else the loop itself.
    pub cycle_cells: usize,
    /// Completed trips around the loop.
    pub passes: u64,
    /// Peak level along the loop, one bin per 1/OVERVIEW_BINS of its length,
    /// as heard by the play head on its latest pass (0..1).
    pub overview: [f32; OVERVIEW_BINS],
    /// Every parameter's current value.
    pub params: TrackParams,
    /// Loop length in cells (for an unset free track: its whole tape).
    pub loop_cells: usize,
    /// Cells of tape allocated: the longest the loop can be.
    pub capacity_cells: usize,
}

/// What a saved session needs of a track beyond its tape: everything the
/// performer can change while it plays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackState {
    pub params: TrackParams,
    pub muted: bool,
    pub soloed: bool,
    /// Loop length in cells.
    pub loop_cells: usize,
    /// Cells of tape allocated.
    pub capacity_cells: usize,
    /// A free track still waiting for its first recording.
    pub length_unset: bool,
}

impl TrackSnapshot {
    /// The part of the picture a save writes.
    pub fn state(&self) -> TrackState {
        TrackState {
            params: self.params,
            muted: self.muted,
            soloed: self.soloed,
            loop_cells: self.loop_cells,
            capacity_cells: self.capacity_cells,
            length_unset: self.length_unset,
        }
    }
}

impl Default for TrackSnapshot {
    fn default() -> Self {
        TrackSnapshot {
            mode: HeadMode::default(),
            position: 0.0,
            length_s: 0.0,
            length_unset: false,
            target_speed: 0.0,
            motor_speed: 0.0,
            tape_speed: 0.0,
            peak: 0.0,
            muted: false,
            soloed: false,
            waiting: None,
            locked_beats: 0.0,
            can_undo: false,
            can_redo: false,
            undo_levels: 0,
            redo_levels: 0,
            cycle_cells: 0,
            passes: 0,
            overview: [0.0; OVERVIEW_BINS],
            params: TrackParams::default(),
            loop_cells: 0,
            capacity_cells: 0,
        }
    }
}

/// The whole engine, as last seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineSnapshot {
    /// Frames processed since the engine was prepared.
    pub frames: u64,
    /// The engine's sample rate, Hz: turns the tracks' cells into seconds.
    pub sample_rate: u32,
    pub track_count: usize,
    pub tracks: [TrackSnapshot; MAX_TRACKS],
    /// Peak absolute master output of the last block (left, right).
    pub master_peak: [f32; 2],
    /// Non-finite values caught and replaced with silence since start.
    pub faults: u64,
    /// The time grid: source, tempo, position, lock.
    pub grid: super::grid::GridState,
}

impl Default for EngineSnapshot {
    fn default() -> Self {
        EngineSnapshot {
            frames: 0,
            sample_rate: 0,
            track_count: 0,
            tracks: [TrackSnapshot::default(); MAX_TRACKS],
            master_peak: [0.0; 2],
            faults: 0,
            grid: super::grid::GridState::default(),
        }
    }
}

impl EngineSnapshot {
    /// The tracks that exist.
    pub fn tracks(&self) -> &[TrackSnapshot] {
        &self.tracks[..self.track_count]
    }
}

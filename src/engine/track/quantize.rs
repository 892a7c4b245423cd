//! Quantized presses and loops held to the grid.
//!
//! A press on a track with `quantize` on waits (the screen shows it) until
//! the engine hands the track the grid point it waits for: a beat, a bar,
//! the top of the sync track's loop, or, for a relative first take, the
//! frame at which the take is a whole number of units long. A free track's
//! first take made on the grid gets a length of exactly the frames between
//! its two grid points; when those are beats or bars, the loop is *locked*:
//! a capstan servo scales its motor by `servo = cells_per_beat /
//! frames_per_beat` (0.39 ppm for two bars at 123 BPM and 48 kHz), which
//! carries the fraction of a frame the whole-cell loop cannot hold, so the
//! loop's period is the grid's, exactly, and follows the tempo.

use super::Track;
use crate::engine::command::TrackAction;
use crate::engine::params::{Param, Quantize};

/// What a waiting press waits for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WaitFor {
    Beat,
    Bar,
    /// The top of the sync track's loop.
    Loop,
    /// An engine frame (a relative first take's end).
    Frame(u64),
}

/// A press held until its grid point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wait {
    pub action: TrackAction,
    pub until: WaitFor,
}

/// The grid unit a quantized track counts in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GridUnit {
    /// A whole number of beats (1: a beat; beats per bar: a bar).
    Beats(u32),
    /// The sync track's loop.
    Loop,
}

/// A free track's first take begun on the grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct GridTake {
    /// Engine frame the take started at.
    pub start: u64,
    pub unit: GridUnit,
    /// |speed| the take runs at (cells per frame, without wow and flutter).
    pub speed: f64,
}

/// A loop that is a whole number of beats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LoopLock {
    /// Cells per beat at the speed it was recorded at.
    pub cells_per_beat: f64,
    pub beats: f64,
}

impl Track {
    pub fn quantize(&self) -> Quantize {
        Quantize::from_value(self.params.get(Param::Quantize))
    }

    /// Whether a quantized first take keeps the phase of its press.
    pub fn quantize_relative(&self) -> bool {
        self.params.get(Param::QuantizeRelative) >= 0.5
    }

    /// The press waiting for the grid, if one is.
    pub fn waiting(&self) -> Option<Wait> {
        self.wait
    }

    /// Whether a press waits for the sync track's loop top.
    pub fn waits_for_loop(&self) -> bool {
        matches!(self.wait, Some(Wait { until: WaitFor::Loop, .. }))
    }

    /// The engine frame a press waits for, if it waits for one.
    pub fn frame_wait(&self) -> Option<u64> {
        match self.wait {
            Some(Wait { until: WaitFor::Frame(frame), .. }) => Some(frame),
            _ => None,
        }
    }

    /// Hold a press until `until`. The same action pressed again while it
    /// waits takes the press back; another replaces it.
    pub fn hold(&mut self, action: TrackAction, until: WaitFor) {
        self.wait = match self.wait {
            Some(wait) if wait.action == action => None,
            _ => Some(Wait { action, until }),
        };
    }

    /// Take the waiting press, to act on it.
    pub fn take_wait(&mut self) -> Option<Wait> {
        self.wait.take()
    }

    /// Whether the first take of a free track is being recorded.
    pub fn recording_first_take(&self) -> bool {
        self.length_unset() && self.mode == super::HeadMode::Record
    }

    /// The first take began on the grid at engine frame `now`.
    pub fn begin_grid_take(&mut self, now: u64, unit: GridUnit) {
        let speed = f64::from(self.params.get(Param::Speed).abs()).max(f64::MIN_POSITIVE);
        self.grid_take = Some(GridTake { start: now, unit, speed });
        self.lock = None;
        self.servo = 1.0;
    }

    /// Frame a first take begun on the grid started at.
    pub fn grid_take_start(&self) -> Option<u64> {
        self.grid_take.map(|t| t.start)
    }

    /// The first take is about to end at engine frame `now` (on a grid
    /// point): its loop is exactly the frames since it began. Returns the
    /// take, so the engine can lock the loop once it has closed.
    pub fn end_grid_take(&mut self, now: u64) -> Option<(u64, GridUnit)> {
        let take = self.grid_take.take()?;
        let frames = now.saturating_sub(take.start).max(1);
        self.take_cells = Some(((frames as f64 * take.speed).round() as usize).max(1));
        Some((frames, take.unit))
    }

    /// Hold the loop's period to `beats` beats of the grid.
    pub fn lock_to_grid(&mut self, beats: f64, frames_per_beat: f64) {
        if !self.length_unset() && beats > 0.0 {
            let speed = f64::from(self.params.get(Param::Speed).abs()).max(f64::MIN_POSITIVE);
            self.lock = Some(LoopLock { cells_per_beat: self.tape.len() as f64 / (speed * beats), beats });
            self.follow_tempo(frames_per_beat);
        }
    }

    /// The grid's tempo changed: a locked loop's servo follows it.
    pub fn follow_tempo(&mut self, frames_per_beat: f64) {
        self.servo = match self.lock {
            Some(lock) if frames_per_beat > 0.0 => lock.cells_per_beat / frames_per_beat,
            _ => 1.0,
        };
    }

    /// Beats a locked loop spans, when it is locked.
    pub fn locked_beats(&self) -> Option<f64> {
        self.lock.map(|l| l.beats)
    }

    /// Frames one pass of the loop takes at the target speed (without wow,
    /// flutter and drift): what `quantize = "loop"` counts in.
    pub fn period_frames(&self) -> f64 {
        let speed = f64::from(self.params.get(Param::Speed).abs()) * self.servo;
        if speed <= 0.0 {
            f64::INFINITY
        } else {
            self.saved_length() as f64 / speed
        }
    }

    /// Whether the play head wrapped round the loop in the last tick.
    pub fn wrapped(&self) -> bool {
        self.wrapped
    }
}

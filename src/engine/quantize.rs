//! The engine's side of quantize: which presses wait, what they wait for,
//! and handing each track its grid point, loop top or frame when it comes.

use super::grid::GridPoint;
use super::params::Quantize;
use super::track::{GridUnit, WaitFor};
use super::{Engine, TrackAction};

/// Most waited presses remembered between two [`Engine::drain_acted`] calls.
pub const MAX_ACTED: usize = 64;

/// A press that waited for the grid and acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acted {
    /// The engine frame it acted at.
    pub frame: u64,
    pub track: u8,
    pub action: TrackAction,
}

impl Engine {
    /// A performer's press on track `t`: acted on now, or held for the grid.
    pub(super) fn press(&mut self, t: usize, action: TrackAction) {
        let Some(track) = self.tracks.get(t) else { return };
        let Some(unit) = self.grid_unit(t) else {
            self.act(t, action, None);
            return;
        };
        if !action.waits_for_grid() {
            self.act(t, action, None);
            return;
        }
        if track.quantize_relative() {
            // A relative first take starts at the press and ends when it is
            // a whole number of units long.
            if !track.recording_first_take() && track.length_unset() {
                self.act(t, action, Some(unit));
                return;
            }
            if let (true, Some(start)) = (track.recording_first_take(), track.grid_take_start()) {
                let unit_frames = self.unit_frames(unit);
                if unit_frames.is_finite() && action != TrackAction::Record {
                    let elapsed = self.now.saturating_sub(start) as f64;
                    let units = (elapsed / unit_frames).ceil().max(1.0);
                    let end = start + (units * unit_frames).ceil() as u64;
                    self.tracks[t].hold(action, WaitFor::Frame(end.max(self.now)));
                    return;
                }
            }
        }
        let until = match unit {
            GridUnit::Beats(1) => WaitFor::Beat,
            GridUnit::Beats(_) => WaitFor::Bar,
            GridUnit::Loop => WaitFor::Loop,
        };
        self.tracks[t].hold(action, until);
    }

    /// What track `t` counts in, when its presses wait at all: `None` with
    /// quantize off, with no grid to wait for, or with no loop to wait for.
    fn grid_unit(&self, t: usize) -> Option<GridUnit> {
        let track = &self.tracks[t];
        let has_grid =
            self.config.sync.source != super::SyncSource::None || self.config.sync.clock_from.is_some();
        match track.quantize() {
            Quantize::Off => None,
            Quantize::Beat => has_grid.then_some(GridUnit::Beats(1)),
            Quantize::Bar => has_grid.then_some(GridUnit::Beats(self.grid.beats_per_bar())),
            Quantize::Loop => {
                let sync = self.tracks.get(self.sync_track())?;
                (!sync.length_unset()).then_some(GridUnit::Loop)
            }
        }
    }

    /// The track whose loop `quantize = "loop"` waits for.
    pub(super) fn sync_track(&self) -> usize {
        self.config.sync.sync_track.min(self.tracks.len().saturating_sub(1))
    }

    /// Frames in one grid unit now.
    fn unit_frames(&self, unit: GridUnit) -> f64 {
        match unit {
            GridUnit::Beats(beats) => self.grid.frames_per_beat() * f64::from(beats),
            GridUnit::Loop => self.tracks[self.sync_track()].period_frames(),
        }
    }

    /// Do an action on track `t` now. `unit`: the grid it was quantized
    /// to, which a first take begun or ended here is measured in.
    fn act(&mut self, t: usize, action: TrackAction, unit: Option<GridUnit>) {
        let now = self.now;
        let first_take_before = self.tracks[t].recording_first_take();
        let ended = if first_take_before && action != TrackAction::Record {
            self.tracks[t].end_grid_take(now)
        } else {
            None
        };
        self.tracks[t].apply(action);
        let track = &mut self.tracks[t];
        if !first_take_before && track.recording_first_take() {
            if let Some(unit) = unit {
                track.begin_grid_take(now, unit);
            }
        }
        if let Some((frames, GridUnit::Beats(per_unit))) = ended {
            // Locked to the grid: its period is a whole number of units.
            let fpb = self.grid.frames_per_beat();
            let units = (frames as f64 / (fpb * f64::from(per_unit))).round().max(1.0);
            track.lock_to_grid(units * f64::from(per_unit), fpb);
        }
        if matches!(action, TrackAction::Mute | TrackAction::Unmute | TrackAction::Solo | TrackAction::Unsolo)
        {
            self.update_audibility();
        }
    }

    /// Act on every press that waits for this grid point.
    pub(super) fn on_grid_point(&mut self, point: GridPoint) {
        for t in 0..self.tracks.len() {
            let due = match self.tracks[t].waiting() {
                Some(wait) => match wait.until {
                    WaitFor::Beat => true,
                    WaitFor::Bar => point.bar_start,
                    WaitFor::Loop | WaitFor::Frame(_) => false,
                },
                None => false,
            };
            if due {
                self.fire(t);
            }
        }
    }

    /// Act on every press that waits for the sync track's loop top.
    pub(super) fn on_loop_top(&mut self) {
        for t in 0..self.tracks.len() {
            if self.tracks[t].waits_for_loop() {
                self.fire(t);
            }
        }
    }

    /// Act on every press that waits for the current frame.
    pub(super) fn on_frame(&mut self) {
        for t in 0..self.tracks.len() {
            if self.tracks[t].frame_wait().is_some_and(|f| f <= self.now) {
                self.fire(t);
            }
        }
    }

    /// The earliest frame a press waits for, if any.
    pub(super) fn next_frame_wait(&self) -> Option<u64> {
        self.tracks.iter().filter_map(|t| t.frame_wait()).min()
    }

    /// The track the segment loop runs first to find its loop top: the
    /// sync track while a press waits for it, else the `clock_from` track.
    pub(super) fn loop_leader(&self) -> Option<usize> {
        if self.tracks.iter().any(|t| t.waits_for_loop()) {
            return Some(self.sync_track());
        }
        self.config.sync.clock_from.map(|(t, _)| t).filter(|t| *t < self.tracks.len())
    }

    fn fire(&mut self, t: usize) {
        let Some(wait) = self.tracks[t].take_wait() else { return };
        let unit = self.grid_unit(t);
        self.act(t, wait.action, unit);
        if self.acted_count < self.acted.len() {
            self.acted[self.acted_count] = Acted { frame: self.now, track: t as u8, action: wait.action };
            self.acted_count += 1;
        }
    }

    /// Hand over the waiting presses that acted since the last call, each
    /// with the frame it acted at (a take's log notes them beside the press).
    pub fn drain_acted(&mut self, mut each: impl FnMut(Acted)) {
        for acted in &self.acted[..self.acted_count] {
            each(*acted);
        }
        self.acted_count = 0;
    }
}

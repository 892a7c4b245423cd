//! What a performer's actions do to a track's heads: the head modes, how
//! one ends and the next begins (each writing pass an undo level of its
//! own), and a free track's first take.

use super::sweep::Sweep;
use super::{wrap_position, HeadMode, Track};
use crate::engine::command::TrackAction;
use crate::engine::params::Param;

impl Track {
    pub fn apply(&mut self, action: TrackAction) {
        match action {
            TrackAction::Play => self.set_mode(HeadMode::Play),
            TrackAction::Stop => self.set_mode(HeadMode::Stop),
            TrackAction::Record => self.set_mode(HeadMode::Record),
            TrackAction::Dub => self.set_mode(HeadMode::Dub),
            TrackAction::Erase => self.set_mode(HeadMode::Erase),
            TrackAction::Replace => self.toggle_recording(HeadMode::Replace),
            TrackAction::Substitute => self.toggle_recording(HeadMode::Substitute),
            TrackAction::Multiply => self.press_multiply(),
            TrackAction::Insert => self.press_insert(),
            TrackAction::Clear => self.request_sweep(Sweep::Clear),
            TrackAction::Undo => self.request_sweep(Sweep::Undo),
            TrackAction::Redo => self.request_sweep(Sweep::Redo),
            TrackAction::UndoAll => self.request_sweep(Sweep::UndoAll),
            TrackAction::RedoAll => self.request_sweep(Sweep::RedoAll),
            TrackAction::Trigger => self.request_sweep(Sweep::Trigger),
            TrackAction::Oneshot => self.request_sweep(Sweep::Oneshot),
            TrackAction::Pause => {
                if self.mode == HeadMode::Paused {
                    self.set_mode(HeadMode::Play);
                } else {
                    self.set_mode(HeadMode::Paused);
                }
            }
            TrackAction::Reverse => {
                // A cycle grows forward: turning round ends a multiply or insert first.
                if self.cycle_running() {
                    self.end_cycle_now();
                    self.set_mode(HeadMode::Play);
                }
                let speed = self.params.get(Param::Speed);
                self.params.set(Param::Speed, -speed);
            }
            TrackAction::Mute => self.muted = true,
            TrackAction::Unmute => self.muted = false,
            TrackAction::Solo => self.soloed = true,
            TrackAction::Unsolo => self.soloed = false,
            // The engine's grid takes the tap; the track has nothing to do.
            TrackAction::Tap => {}
        }
    }

    /// Replace and substitute: pressed again, back to play; on a free track
    /// with no loop yet, they make the first take.
    fn toggle_recording(&mut self, mode: HeadMode) {
        if self.mode == mode {
            self.set_mode(HeadMode::Play);
        } else if self.length_unset() {
            self.set_mode(HeadMode::Record);
        } else {
            self.set_mode(mode);
        }
    }

    pub(super) fn set_mode(&mut self, mode: HeadMode) {
        if self.sweep.is_some() || self.tape.job_active() {
            // The tape is being swapped or wiped; the new mode starts once it is done.
            self.deferred_mode = Some(mode);
            return;
        }
        if mode == self.mode {
            return;
        }
        match self.mode {
            // An insert ends on a whole cycle: the new mode waits for it.
            HeadMode::Insert if self.insert_running() => {
                self.end_insert(mode);
                return;
            }
            HeadMode::Multiply => self.end_multiply(),
            HeadMode::Paused => {
                self.halted = false;
                self.rewind_on_halt = false;
                if mode == HeadMode::Stop {
                    // Already still: stopping does not start the motor first.
                    self.transport.halt();
                }
            }
            _ => {}
        }
        let was_writing = self.mode.writes();
        let closing_free_take = self.mode == HeadMode::Record && self.length_unset();

        if closing_free_take && mode != HeadMode::Record {
            self.close_free_take(mode);
        }
        if mode.writes() {
            // Every writing pass is an undo level of its own.
            if was_writing {
                self.tape.end_capture(self.loop_length());
            }
            if self.length_unset() && mode == HeadMode::Record {
                self.start_free_take();
            }
            self.finish_copier();
            self.tape.begin_capture(self.loop_length());
        }
        self.mode = mode;
        self.retarget_heads();
    }

    pub(super) fn retarget_heads(&mut self) {
        let (engage, feedback, keep) = match self.mode {
            HeadMode::Play | HeadMode::Stop | HeadMode::Oneshot | HeadMode::Paused => {
                (0.0, self.feedback.target(), 1.0 - self.params.get(Param::Erase))
            }
            HeadMode::Record | HeadMode::Insert | HeadMode::Replace | HeadMode::Substitute => (1.0, 0.0, 1.0),
            HeadMode::Dub | HeadMode::Multiply => (1.0, self.params.get(Param::Feedback), 1.0),
            HeadMode::Erase => (0.0, 0.0, 0.0),
        };
        self.engage.set_target(engage);
        self.feedback.set_target(feedback);
        self.keep.set_target(keep);
        // The old material is silent while it is replaced or moved aside,
        // and the output fades before the motor halts.
        let open = !matches!(self.mode, HeadMode::Replace | HeadMode::Insert | HeadMode::Paused);
        self.gate.set_target(if open { 1.0 } else { 0.0 });
    }

    /// The first take on a free track starts at the beginning of the tape:
    /// the record head moves to cell 0, the play head keeps its lead.
    fn start_free_take(&mut self) {
        self.resize_loop(self.tape.capacity());
        let lead = self.record.lead();
        self.record.pos = 0.0;
        self.pos = wrap_position(lead, self.tape.len() as f64);
        self.last_written = None;
    }

    /// The first take ends: the cells the record head has written become the loop.
    pub(super) fn close_free_take(&mut self, next: HeadMode) {
        let record_cell = self.record.pos.floor().max(0.0) as usize;
        // A take that ends on the grid is as long as the grid says.
        let cells = self.take_cells.take().unwrap_or(record_cell + 1).clamp(1, self.tape.capacity());
        self.resize_loop(cells);
        if let Some(free) = self.free.as_mut() {
            free.cells = Some(cells);
        }
        self.params.set(Param::Length, (cells as f64 / self.sample_rate) as f32);
        if next != HeadMode::Dub {
            // Keep writing through the punch-out fade, added onto the loop's
            // faded-in start: the seam becomes a crossfade.
            self.seam_fold = self.fade_samples;
        }
    }
}

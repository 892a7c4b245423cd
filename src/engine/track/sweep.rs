//! Undo, redo and clear on a track: the output ducks, the tape exchanges
//! (or wipes) the saved region in a sweep of bounded work per sample, and
//! the output comes back once the sweep has outrun the play head.

use super::{Track, DUCK_HOLD_SAMPLES, MIN_TRAIL_FRAMES};
use crate::engine::params::Param;
use crate::engine::snapshot::HeadMode;
use crate::engine::tape::{Tape, SINC_HALF_WIDTH, SWAP_CELLS_PER_SAMPLE};

/// A pending whole-tape operation, waiting for the output to duck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sweep {
    Undo,
    Redo,
    Clear,
}

impl Track {
    pub(super) fn request_sweep(&mut self, sweep: Sweep) {
        if self.sweep.is_some() || self.tape.job_active() {
            return;
        }
        let possible = match sweep {
            Sweep::Undo => self.tape.can_undo() || self.mode.writes(),
            Sweep::Redo => self.tape.can_redo(),
            Sweep::Clear => true,
        };
        if !possible {
            return;
        }
        if self.mode.writes() {
            self.mode = HeadMode::Play;
            if self.length_unset() {
                self.close_free_take(HeadMode::Play);
                self.seam_fold = 0;
            }
        }
        self.tape.end_capture();
        // Lift the record head at once: the output is ducked while the tape changes.
        self.engage.jump(0.0);
        self.feedback.jump(0.0);
        self.keep.jump(1.0 - self.params.get(Param::Erase));
        self.seam_fold = 0;
        self.sweep = Some(sweep);
        self.sweep_samples = 0;
        self.duck.set_target(0.0);
    }

    /// Start the pending sweep once the output is silent; bring the output
    /// back once the sweep has safely outrun the play head.
    pub(super) fn advance_sweep(&mut self) {
        if let Some(sweep) = self.sweep {
            if self.duck.value() > 0.0 {
                return;
            }
            self.begin_sweep(sweep);
            self.sweep = None;
            self.sweep_samples = 0;
            self.sweep_forward = self.transport.speed() >= 0.0;
            self.last_written = None;
        }
        if self.tape.job_active() {
            self.tape.step_job(SWAP_CELLS_PER_SAMPLE);
            self.sweep_samples += 1;
            if !self.tape.job_active() {
                if let Some(cells) = self.resize_after_sweep.take() {
                    self.resize_loop(cells);
                }
                if let Some(mode) = self.deferred_mode.take() {
                    self.set_mode(mode);
                }
            }
        }
        if self.duck.target() == 0.0 && self.sweep.is_none() {
            // Moving forward, the sweep (started just behind the play head) outruns
            // it within a few samples; in reverse, wait for the whole sweep.
            let outran = self.sweep_forward && self.sweep_samples >= DUCK_HOLD_SAMPLES;
            if !self.tape.job_active() || outran {
                self.duck.set_target(1.0);
            }
        }
    }

    fn begin_sweep(&mut self, sweep: Sweep) {
        let margin = (SINC_HALF_WIDTH * 4 + MIN_TRAIL_FRAMES) as i64 + 8;
        let behind_head = |tape: &Tape, pos: f64| tape.wrap(pos.floor() as i64 - margin);
        match sweep {
            Sweep::Clear => {
                self.tape.begin_clear(behind_head(&self.tape, self.pos));
                if let Some(free) = self.free.as_mut() {
                    free.undo_change = free.cells.map(|cells| (Some(cells), None));
                    if free.cells.take().is_some() {
                        self.resize_after_sweep = Some(self.tape.capacity());
                    }
                }
            }
            Sweep::Undo | Sweep::Redo => {
                let redo = sweep == Sweep::Redo;
                let change = self.free.and_then(|f| f.undo_change);
                if let Some((before, after)) = change {
                    let target = if redo { after } else { before };
                    if let Some(cells) = target {
                        self.resize_loop(cells);
                    }
                    if !self.tape.begin_swap(redo, behind_head(&self.tape, self.pos)) {
                        return;
                    }
                    if target.is_none() {
                        self.resize_after_sweep = Some(self.tape.capacity());
                    }
                    if let Some(free) = self.free.as_mut() {
                        free.cells = target;
                    }
                } else {
                    self.tape.begin_swap(redo, behind_head(&self.tape, self.pos));
                }
            }
        }
    }
}

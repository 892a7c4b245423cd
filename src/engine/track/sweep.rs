//! Whole-tape operations on a track: undo, redo (one level or all of them),
//! clear, and the jumps to the top of the loop (trigger, oneshot). The
//! output ducks; the tape exchanges (or wipes) the saved cells in a sweep of
//! bounded work per sample, or the heads jump while nothing is heard; the
//! output comes back once the sweep has outrun the play head.

use super::{Track, DUCK_HOLD_SAMPLES, MIN_TRAIL_FRAMES};
use crate::engine::params::Param;
use crate::engine::snapshot::HeadMode;
use crate::engine::tape::{Lengths, Tape, MAX_REACH, SWAP_CELLS_PER_SAMPLE};

/// A pending whole-tape operation, waiting for the output to duck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sweep {
    Undo,
    Redo,
    UndoAll,
    RedoAll,
    Clear,
    /// Jump to the top of the loop and play.
    Trigger,
    /// Jump to the top of the loop and play it once.
    Oneshot,
}

impl Track {
    pub(super) fn request_sweep(&mut self, sweep: Sweep) {
        if self.sweep.is_some() || self.tape.job_active() {
            return;
        }
        let writing = self.mode.writes();
        let possible = match sweep {
            Sweep::Undo | Sweep::UndoAll => self.tape.can_undo() || writing,
            Sweep::Redo | Sweep::RedoAll => self.tape.can_redo(),
            Sweep::Clear => true,
            Sweep::Trigger | Sweep::Oneshot => !self.length_unset() || writing,
        };
        if !possible {
            return;
        }
        if writing || self.cycle_running() {
            // The operation ends here (a multiply or insert with the length it has reached).
            self.end_cycle_now();
            self.mode = HeadMode::Play;
            if self.length_unset() {
                self.close_free_take(HeadMode::Play);
                self.seam_fold = 0;
            }
        }
        self.finish_copier();
        self.tape.end_capture(self.loop_length());
        // Lift the record head at once: the output is ducked while the tape changes.
        self.engage.jump(0.0);
        self.feedback.jump(0.0);
        self.keep.jump(1.0 - self.params.get(Param::Erase));
        self.seam_fold = 0;
        self.sweep = Some(sweep);
        self.sweeps_left = match sweep {
            Sweep::UndoAll | Sweep::RedoAll => usize::MAX,
            _ => 1,
        };
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
            if self.tape.job_active() {
                // The previous level of an undo_all or redo_all is still being exchanged.
                self.step_sweep_job();
                return;
            }
            let started = self.begin_sweep(sweep);
            self.sweeps_left = self.sweeps_left.saturating_sub(1);
            if !started || self.sweeps_left == 0 {
                self.sweep = None;
                self.sweeps_left = 0;
            }
            self.sweep_samples = 0;
            self.sweep_forward = self.transport.speed() >= 0.0;
            self.last_written = None;
        }
        if self.tape.job_active() {
            if self.step_sweep_job() {
                if let Some(mode) = self.deferred_mode.take() {
                    self.set_mode(mode);
                }
            }
        } else if self.sweep.is_none() {
            if let Some(mode) = self.deferred_mode.take() {
                self.set_mode(mode);
            }
        }
        if self.duck.target() == 0.0 && self.sweep.is_none() {
            // Moving forward, one sweep (started just behind the play head) outruns
            // it within a few samples; in reverse, or over several runs, wait for it all.
            let outran =
                self.sweep_forward && self.tape.job_is_one_sweep() && self.sweep_samples >= DUCK_HOLD_SAMPLES;
            if !self.tape.job_active() || outran {
                self.duck.set_target(1.0);
            }
        }
    }

    /// Move the tape's exchange or wipe on; when it has just finished, take
    /// on the length it leaves (a free track forgetting its loop) and say so.
    fn step_sweep_job(&mut self) -> bool {
        self.tape.step_job(SWAP_CELLS_PER_SAMPLE);
        self.sweep_samples += 1;
        if self.tape.job_active() {
            return false;
        }
        if let Some(cells) = self.resize_after_sweep.take() {
            self.resize_loop(cells);
        }
        true
    }

    /// Begin one sweep; false when there was nothing to do.
    fn begin_sweep(&mut self, sweep: Sweep) -> bool {
        let margin = (MAX_REACH + MIN_TRAIL_FRAMES) as i64 + 8;
        let behind_head = |tape: &Tape, pos: f64| tape.wrap(pos.floor() as i64 - margin);
        let start = behind_head(&self.tape, self.pos);
        match sweep {
            Sweep::Clear => {
                let before = self.loop_length();
                // A free track's clear forgets its length: the next take sets it again.
                let after = if self.free.is_some() { None } else { before };
                if !self.tape.begin_clear(start, Lengths { before, after }) {
                    return false;
                }
                if self.free.is_some() && before.is_some() {
                    if let Some(free) = self.free.as_mut() {
                        free.cells = None;
                    }
                    self.resize_after_sweep = Some(self.tape.capacity());
                }
                true
            }
            Sweep::Undo | Sweep::Redo | Sweep::UndoAll | Sweep::RedoAll => {
                let redo = matches!(sweep, Sweep::Redo | Sweep::RedoAll);
                let Some(lengths) = self.tape.begin_swap(redo, start) else { return false };
                if lengths.changed() {
                    let target = if redo { lengths.after } else { lengths.before };
                    // The exchange reaches cells beyond the loop by the level's own
                    // length, so the new length can be taken at once (while ducked).
                    match target {
                        Some(cells) => self.settle_length(Some(cells)),
                        None => {
                            if let Some(free) = self.free.as_mut() {
                                free.cells = None;
                            }
                            self.resize_after_sweep = Some(self.tape.capacity());
                        }
                    }
                    if target.is_some() {
                        self.cycle = None;
                    }
                }
                true
            }
            Sweep::Trigger | Sweep::Oneshot => {
                self.jump_to_top();
                self.halted = false;
                let mode = if sweep == Sweep::Oneshot { HeadMode::Oneshot } else { HeadMode::Play };
                self.mode = mode;
                self.retarget_heads();
                self.gate.jump(1.0);
                true
            }
        }
    }

    /// Put the play head at the top of the loop (its end, in reverse) and
    /// the record head its usual distance behind.
    pub(super) fn jump_to_top(&mut self) {
        let len = self.tape.len() as f64;
        let lead = self.record.lead();
        self.pos = if self.params.get(Param::Speed) < 0.0 { (len - 1.0).max(0.0) } else { 0.0 };
        self.record.pos = super::wrap_position(self.pos - lead, len);
        self.last_written = None;
    }
}

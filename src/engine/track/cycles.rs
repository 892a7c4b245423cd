//! Operations that change a loop by whole cycles (multiply, insert) and the
//! ones that stop or restart it (pause, oneshot).
//!
//! **Multiply** dubs while the loop grows: the tape past the loop's end is
//! filled, ahead of the play head, with copies of the cycle as it was (read
//! from the undo level, so what is dubbed now is not repeated), and the
//! heads run on into it. Pressed again, the loop becomes the smallest whole
//! number of cycles that holds the record head.
//!
//! **Insert** records new cycles at the record head while the rest of the
//! loop waits: pressed again, recording goes on to the end of the cycle it
//! is in, the rest of the loop is copied after the new cycles, and the loop
//! is that many cycles longer. The old material is not heard while inserting.
//!
//! Both record over whatever lay on the tape beyond the loop. Copies are
//! bounded work per sample, except when a new operation starts before a
//! copy has finished (then it finishes at once: at most one tape's length).

use super::{HeadMode, Track};
use crate::engine::params::Param;

/// Cells copied per sample: far ahead of any head (≤ 4 cells a sample);
/// a multiply's whole 60 s tape is filled within 0.24 s, at a cost per
/// callback that stays a fraction of the callback's own.
const COPY_CELLS_PER_SAMPLE: usize = 256;
/// Cells past the play head that must already hold copies before it reads
/// them: the widest read kernel (speed 4, 4 × 4 cells) and a margin.
const READ_REACH: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CycleKind {
    Multiply,
    Insert,
}

/// A multiply or insert: running, or finished (kept for the cycle length).
#[derive(Clone, Copy, Debug)]
pub(super) struct CycleOp {
    kind: CycleKind,
    /// One cycle: the loop's length when the operation began, cells.
    cycle: usize,
    /// The record head's cell when it began (insert: where the new cycles go).
    start: usize,
    /// Insert, once its end was pressed: the record-head cell where the new
    /// cycles end, and the mode that follows.
    end: Option<(usize, HeadMode)>,
    running: bool,
}

impl CycleOp {
    pub(super) fn cycle_cells(&self) -> usize {
        self.cycle
    }
}

/// Tape copied cell by cell: destination `d` gets the cell
/// `source + (d - first) % period` held before the current undo level.
#[derive(Clone, Copy, Debug)]
pub(super) struct Copier {
    first: usize,
    next: usize,
    end: usize,
    source: usize,
    period: usize,
}

impl Track {
    pub(super) fn cycle_running(&self) -> bool {
        self.cycle.is_some_and(|op| op.running)
    }

    /// The loop a save keeps, cells: during a multiply, the whole cycles the
    /// record head has reached; during an insert, the loop as it was (with
    /// what has been recorded over it so far); during a length change, the
    /// length it is heading for; else the loop.
    pub(crate) fn saved_length(&self) -> usize {
        if let Some(slide) = self.slide {
            return slide.target();
        }
        match self.cycle.filter(|op| op.running) {
            Some(op) if op.kind == CycleKind::Multiply => {
                let most = self.tape.capacity() / op.cycle;
                let cycles = ((self.record.pos.max(0.0) / op.cycle as f64).ceil() as usize).clamp(1, most);
                cycles * op.cycle
            }
            Some(op) => op.cycle,
            None => self.tape.len(),
        }
    }

    pub(super) fn insert_running(&self) -> bool {
        self.cycle.is_some_and(|op| op.running && op.kind == CycleKind::Insert)
    }

    /// Whether a multiply or insert may start: a loop exists, nothing else
    /// reshapes the tape, and the heads run forward (a cycle grows forward).
    fn can_grow(&self) -> bool {
        !self.length_unset()
            && self.sweep.is_none()
            && !self.tape.job_active()
            && !self.cycle_running()
            && self.slide.is_none()
            && self.record.lead() >= 0.0
            && self.params.get(Param::Speed) > 0.0
    }

    /// A play head that has wrapped to the loop's start while the record
    /// head is still near its end is moved on by one cycle: the loop is
    /// about to be longer, and it is in the second cycle.
    fn unwrap_play_head(&mut self, cycle: usize) {
        if self.pos < self.record.pos {
            self.pos += cycle as f64;
        }
    }

    pub(super) fn press_multiply(&mut self) {
        if self.mode == HeadMode::Multiply {
            self.set_mode(HeadMode::Play);
            return;
        }
        if self.length_unset() {
            self.set_mode(HeadMode::Record);
            return;
        }
        if !self.can_grow() {
            return;
        }
        let cycle = self.tape.len();
        let room = self.tape.capacity() / cycle * cycle;
        self.set_mode(HeadMode::Multiply);
        if room <= cycle {
            // No tape to grow into: a multiply is a dub.
            return;
        }
        self.unwrap_play_head(cycle);
        let start = self.record.pos.floor().max(0.0) as usize;
        self.tape.set_len(room);
        self.overview_scale = super::OVERVIEW_BINS as f64 / room as f64;
        self.cycle = Some(CycleOp { kind: CycleKind::Multiply, cycle, start, end: None, running: true });
        self.copier = Some(Copier { first: cycle, next: cycle, end: room, source: 0, period: cycle });
        self.copy_ahead_of_play_head();
    }

    /// End a running multiply: the loop becomes the cycles the record head reached.
    pub(super) fn end_multiply(&mut self) {
        let Some(op) = self.cycle.filter(|op| op.running && op.kind == CycleKind::Multiply) else {
            return;
        };
        let most = self.tape.capacity() / op.cycle;
        let cycles = ((self.record.pos.max(0.0) / op.cycle as f64).ceil() as usize).clamp(1, most);
        let len = cycles * op.cycle;
        if let Some(copier) = self.copier.as_mut() {
            copier.end = copier.end.min(len).max(copier.next);
        }
        self.cycle = Some(CycleOp { running: false, ..op });
        self.settle_length(Some(len));
    }

    pub(super) fn press_insert(&mut self) {
        if self.mode == HeadMode::Insert {
            self.end_insert(HeadMode::Play);
            return;
        }
        if self.length_unset() {
            self.set_mode(HeadMode::Record);
            return;
        }
        let cycle = self.tape.len();
        if !self.can_grow() || self.tape.capacity() < 2 * cycle {
            return;
        }
        self.set_mode(HeadMode::Insert);
        self.unwrap_play_head(cycle);
        let start = (self.record.pos.floor().max(0.0) as usize).min(cycle - 1);
        let capacity = self.tape.capacity();
        self.tape.set_len(capacity);
        self.overview_scale = super::OVERVIEW_BINS as f64 / capacity as f64;
        self.cycle = Some(CycleOp { kind: CycleKind::Insert, cycle, start, end: None, running: true });
    }

    /// Ask a running insert to end on the next whole cycle, then take on `then`.
    pub(super) fn end_insert(&mut self, then: HeadMode) {
        let Some(mut op) = self.cycle.filter(|op| op.running && op.kind == CycleKind::Insert) else {
            return;
        };
        if let Some((end, _)) = op.end {
            op.end = Some((end, then));
            self.cycle = Some(op);
            return;
        }
        let most = (self.tape.capacity() - op.cycle) / op.cycle;
        let recorded = self.record.pos + 1.0 - op.start as f64;
        let cycles = ((recorded / op.cycle as f64).ceil() as usize).clamp(1, most);
        let end = op.start + cycles * op.cycle;
        op.end = Some((end, then));
        self.cycle = Some(op);
        // The rest of the loop follows the new cycles.
        let rest = op.cycle - op.start;
        self.copier = Some(Copier { first: end, next: end, end: end + rest, source: op.start, period: rest });
        self.copy_ahead_of_play_head();
    }

    /// The insert's record head has reached the end of its last cycle.
    fn complete_insert(&mut self) {
        let Some(op) = self.cycle else { return };
        let Some((end, then)) = op.end else { return };
        self.cycle = Some(CycleOp { running: false, ..op });
        self.settle_length(Some(end + op.cycle - op.start));
        self.set_mode(then);
    }

    /// End a running multiply or insert at once, with the length it has
    /// reached (an undo, clear or trigger pressed during it).
    pub(super) fn end_cycle_now(&mut self) {
        let Some(op) = self.cycle.filter(|op| op.running) else { return };
        match op.kind {
            CycleKind::Multiply => self.end_multiply(),
            CycleKind::Insert => {
                self.end_insert(HeadMode::Play);
                self.finish_copier();
                self.complete_insert();
            }
        }
    }

    /// Per sample: end a multiply that has reached the end of the tape,
    /// complete an insert whose last cycle is written.
    pub(super) fn follow_cycle(&mut self) {
        let Some(op) = self.cycle.filter(|op| op.running) else { return };
        let record = self.record.pos;
        match (op.kind, op.end) {
            (CycleKind::Multiply, _) if record >= self.tape.len() as f64 - 1.0 => {
                self.set_mode(HeadMode::Play);
            }
            (CycleKind::Insert, Some((end, _))) if record >= end as f64 => self.complete_insert(),
            (CycleKind::Insert, None) if record >= self.tape.len() as f64 - op.cycle as f64 - 1.0 => {
                // Room for the rest of the loop only: the insert ends here.
                self.end_insert(HeadMode::Play);
            }
            _ => {}
        }
    }

    /// Copy at most `COPY_CELLS_PER_SAMPLE` cells.
    pub(super) fn step_copier(&mut self) {
        let Some(copier) = self.copier else { return };
        let until = copier.next.saturating_add(COPY_CELLS_PER_SAMPLE);
        self.copy_until(until);
    }

    /// Copy far enough that the play head finds copies where it reads next:
    /// when an operation starts it may already be a round trip (at most
    /// `MAX_RECORD_LATENCY` cells) into the tape to be copied.
    fn copy_ahead_of_play_head(&mut self) {
        let reach = self.pos.max(0.0) as usize + READ_REACH;
        self.copy_until(reach);
        self.step_copier();
    }

    /// Finish the copy at once (a new undo level is about to begin, and the
    /// copy reads the current one).
    pub(super) fn finish_copier(&mut self) {
        self.copy_until(usize::MAX);
    }

    fn copy_until(&mut self, until: usize) {
        let Some(mut copier) = self.copier else { return };
        let stop = copier.end.min(until);
        while copier.next < stop {
            let from = copier.source + (copier.next - copier.first) % copier.period;
            let value = self.tape.original(from);
            self.tape.write_beyond(copier.next, value);
            copier.next += 1;
        }
        self.copier = (copier.next < copier.end).then_some(copier);
    }

    /// Pause fades the output, then halts the motor; a oneshot pauses (and
    /// goes back to the top) as it reaches the end of the loop.
    pub(super) fn follow_pause(&mut self, velocity: f64) {
        if self.mode == HeadMode::Oneshot {
            let len = self.tape.len() as f64;
            let remaining = if velocity >= 0.0 { len - self.pos } else { self.pos };
            let fade = velocity.abs() * (self.gate.ramp_samples() as f64 + 1.0);
            if remaining <= fade {
                self.rewind_on_halt = true;
                self.set_mode(HeadMode::Paused);
            }
        }
        if self.mode == HeadMode::Paused && !self.halted && self.gate.value() == 0.0 {
            self.halted = true;
            if std::mem::take(&mut self.rewind_on_halt) {
                self.jump_to_top();
            }
        }
    }
}

//! The record head. Input that arrives now was played against what the play
//! head read one round trip ago, so the record head replays the play head's
//! own path a fixed number of frames later: it moves, every sample, by the
//! velocity the play head had that many frames before. Whatever the speed
//! does (wow, flutter, drift, glides, steps with no inertia, reverse), the
//! record head passes exactly where the play head passed, writes every cell
//! it crosses, and never jumps.
//!
//! The delay is the round-trip latency plus the write-head interpolator's one
//! frame, and never less than [`MIN_TRAIL_FRAMES`], so that with no latency
//! the play head does not hear a cell while it is being written.

use super::{HeadMode, Track};
use crate::engine::color::Ageing;
use crate::engine::filter::{fast_ceil, fast_floor};
use crate::engine::tape::{hermite, Cells};

/// Longest round-trip latency the record head compensates, frames.
pub const MAX_RECORD_LATENCY: u32 = 8_192;

/// Shortest delay of the record head behind the play head, frames: at any
/// speed from 1 up it trails by more cells than the read kernel for that
/// speed reaches back (28 cells at speed 1, about 31 per unit of speed at
/// the bottom of each faster band), so the play head never hears a cell
/// while it is being written.
pub const MIN_TRAIL_FRAMES: usize = 32;

/// Velocities kept: a power of two above the longest delay plus one sample.
const HISTORY: usize = 16_384;
const HISTORY_MASK: usize = HISTORY - 1;

/// The record head's delay for a round-trip latency of `latency` frames: one
/// more frame for the write-head interpolator, which deposits the input of
/// the previous frame (see [`Track::write_head`]).
pub fn record_delay(latency: u32) -> usize {
    (latency.min(MAX_RECORD_LATENCY) as usize + 1).max(MIN_TRAIL_FRAMES)
}

/// Where the record head is and the play head velocities it has still to replay.
pub(super) struct RecordHead {
    /// Position in cells. Inside the loop (0 ≤ pos < length) between samples,
    /// except during a free track's first take, where the loop is not closed.
    pub(super) pos: f64,
    /// Play head velocities (cells per sample), oldest at `tail`.
    velocities: Box<[f64]>,
    tail: usize,
    /// Velocities waiting: how many frames the head is behind the play head.
    queued: usize,
    /// The delay the head keeps, frames; `queued` moves toward it after a change.
    delay: usize,
    /// Cells of travel the record path's saturator delays what it is fed.
    saturator_cells: f64,
    /// Samples the record path's band-limiting filter delays the input (at DC).
    input_delay: f64,
    /// Sign of the head's last move: the saturator offset points against it.
    direction: f64,
    /// How far behind the head it wrote last sample, cells (see `write_offset`).
    offset: f64,
}

impl RecordHead {
    /// A head `delay` frames behind a play head at `play_pos` that has been
    /// running at `speed` cells per sample. Allocates; call off the audio thread.
    pub(super) fn new(
        delay: usize,
        play_pos: f64,
        speed: f64,
        len: f64,
        saturator_cells: usize,
    ) -> RecordHead {
        let mut head = RecordHead {
            pos: 0.0,
            velocities: vec![0.0; HISTORY].into_boxed_slice(),
            tail: 0,
            queued: 0,
            delay,
            saturator_cells: saturator_cells as f64,
            input_delay: 0.0,
            direction: 1.0,
            offset: 0.0,
        };
        head.seat(delay, play_pos, speed, len);
        head
    }

    /// Put the head `delay` frames behind the play head at once, as if the
    /// tape had been running at `speed` (the engine has not started yet).
    pub(super) fn seat(&mut self, delay: usize, play_pos: f64, speed: f64, len: f64) {
        self.delay = delay.min(HISTORY - 2);
        self.tail = 0;
        self.queued = self.delay;
        self.velocities[..self.delay].fill(speed);
        self.pos = (play_pos - self.delay as f64 * speed).rem_euclid(len);
        if self.pos >= len {
            self.pos = 0.0;
        }
        self.direction = if speed < 0.0 { -1.0 } else { 1.0 };
        self.offset = self.saturator_cells * self.direction;
    }

    /// Samples the band-limiting filter before the head delays the input.
    pub(super) fn set_input_delay(&mut self, samples: f64) {
        self.input_delay = samples;
    }

    /// Keep a new delay from now on. The head does not jump: while it is too
    /// far behind it replays two velocities a sample, while too close none,
    /// until it is `delay` frames behind (at most `MAX_RECORD_LATENCY` samples).
    pub(super) fn set_delay(&mut self, delay: usize) {
        self.delay = delay.min(HISTORY - 2);
    }

    pub(super) fn delay(&self) -> usize {
        self.delay
    }

    /// The play head moved by `velocity` this sample: returns how far the
    /// record head moves this sample, in cells.
    #[inline]
    pub(super) fn advance(&mut self, velocity: f64) -> f64 {
        self.velocities[(self.tail + self.queued) & HISTORY_MASK] = velocity;
        self.queued += 1;
        let replay = if self.queued > self.delay + 1 { 2 } else { usize::from(self.queued > self.delay) };
        let mut step = 0.0;
        for _ in 0..replay {
            step += self.velocities[self.tail];
            self.tail = (self.tail + 1) & HISTORY_MASK;
            self.queued -= 1;
        }
        step
    }

    /// Distance from the record head to the play head along the path, cells
    /// (negative in reverse). Sums the waiting velocities: bounded by the
    /// history length, and only needed when a loop is resized or restarted.
    pub(super) fn lead(&self) -> f64 {
        (0..self.queued).map(|i| self.velocities[(self.tail + i) & HISTORY_MASK]).sum()
    }

    /// How far back along its path the head writes after a move of `step`
    /// cells, so that what it records lands where its input was heard: the
    /// saturator's output comes `saturator_cells` cells of travel after its
    /// input, and the band-limiting filter delays the input by
    /// `input_delay` samples, which is that many samples of travel.
    #[inline]
    fn write_offset(&mut self, step: f64) -> f64 {
        if step > 0.0 {
            self.direction = 1.0;
        } else if step < 0.0 {
            self.direction = -1.0;
        }
        self.saturator_cells * self.direction + self.input_delay * step
    }
}

impl Track {
    /// Move the record head by `step` cells (from [`RecordHead::advance`])
    /// and write what it crosses; `write` is false when nothing would change.
    #[inline]
    pub(super) fn run_record_head(
        &mut self,
        step: f64,
        write: bool,
        engage: f32,
        feedback: f32,
        keep: f32,
        age: f32,
    ) {
        let first_take = self.length_unset() && self.mode == HeadMode::Record;
        let (from, to) = self.move_record_head(step, first_take);
        // Ageing or erasing blank tape leaves it blank: no cell to visit.
        let changes_nothing = self.tape.is_blank() && engage == 0.0 && self.seam_fold == 0 && !first_take;
        if write && !changes_nothing {
            self.write_head(from, to, engage, feedback, keep, age, first_take);
        }
    }

    /// Move the record head by `step` cells; returns the stretch of tape
    /// (unwrapped) it writes this sample, from where the last sample's write
    /// ended.
    #[inline(always)]
    pub(super) fn move_record_head(&mut self, step: f64, first_take: bool) -> (f64, f64) {
        let r0 = self.record.pos;
        // A free track's first take starts at cell 0 and only grows forward.
        let r1 = if first_take { (r0 + step).max(0.0) } else { r0 + step };
        let from = r0 - self.record.offset;
        self.record.offset = self.record.write_offset(step);
        self.record.pos = r1;
        (from, r1 - self.record.offset)
    }

    /// The input the write head deposits in cell `c`, crossed on the way
    /// from `u0` over `span` cells this sample.
    #[inline(always)]
    fn input_crossing(&self, c: i64, u0: f64, span: f64) -> f32 {
        // When within this sample the head crossed cell c: 0 = last sample, 1 = now.
        let t = ((c as f64 - u0) / span) as f32;
        let (h, at) = (&self.history, self.history_at);
        hermite(h[at], h[(at + 1) & 3], h[(at + 2) & 3], h[(at + 3) & 3], t) * self.drive
    }

    /// The old signal fed back into the saturator for cell `index` (whose
    /// old value is `old`), the head moving in the direction `step`. The
    /// saturator delays what it is fed by `latency` cells, so it is fed the
    /// old signal from that far ahead: a dub then lands exactly where the
    /// old material was, pass after pass, instead of creeping along the tape.
    #[inline(always)]
    fn fed_back(&self, index: usize, step: i64, old: f32) -> f32 {
        match self.saturator.latency_cells() {
            0 => old,
            latency => self.tape.cell(self.tape.wrap(index as i64 + step * latency as i64)),
        }
    }

    /// The write-head resampler: deposit the input into every cell the record
    /// head crosses moving from `u0` to `u1` (unwrapped cell positions). The
    /// input of the previous frame is interpolated at the moment each cell is
    /// crossed (the Hermite interpolator needs one frame of look-ahead).
    /// `unwrapped`: cells before 0 are not written (a first take's start).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_head(
        &mut self,
        u0: f64,
        u1: f64,
        engage: f32,
        feedback: f32,
        keep: f32,
        age: f32,
        unwrapped: bool,
    ) {
        if u1 == u0 {
            return;
        }
        let (first, last, step) = if u1 > u0 {
            (fast_floor(u0) as i64 + 1, fast_floor(u1) as i64, 1)
        } else {
            (fast_ceil(u0) as i64 - 1, fast_ceil(u1) as i64, -1)
        };
        let span = u1 - u0;
        // Ageing or erasing alone never hears the input (see `write_cell`):
        // no interpolation then, which at high speed is most of the cost.
        let hears_input = engage > 0.0 || self.seam_fold > 0 || unwrapped;
        if !hears_input && age > 0.0 {
            self.age_cells(first, last, step, keep, age);
            return;
        }
        let mut c = first;
        while (step > 0 && c <= last) || (step < 0 && c >= last) {
            let input = if hears_input { self.input_crossing(c, u0, span) } else { 0.0 };
            if unwrapped && c < 0 {
                // Before the loop's first cell: nothing to write, but the
                // saturator hears the input so its delay line stays in step.
                self.saturator.process(input);
                c += step;
                continue;
            }
            let index = self.tape.wrap(c);
            self.write_cell(index, step, input, engage, feedback, keep, age);
            c += step;
        }
    }

    /// What [`Track::write_cell`] does to cells `first` to `last` (in the
    /// direction `step`) when the head only ages them and fades them by
    /// `keep`: the same operations in the same order, so the same bits, with
    /// the old value of the cell just left kept at hand instead of looked up,
    /// the next index found by a step instead of a wrap, and, while nothing
    /// is captured for undo, the cells rewritten in place. Playing with
    /// `age` > 0 runs this for every cell the head passes (four a sample at
    /// speed 4).
    #[inline]
    fn age_cells(&mut self, first: i64, last: i64, step: i64, keep: f32, age: f32) {
        let count = (last - first) * step + 1;
        if count <= 0 {
            return;
        }
        let mut walk = AgeingWalk {
            index: self.tape.wrap(first),
            previous: 0.0,
            top: self.tape.len() - 1,
            forward: step > 0,
            keep,
            age,
            faults: 0,
        };
        // The neighbour the head just left was aged already: its old value.
        let left = walk.back(walk.index);
        walk.previous = match self.last_written {
            Some((i, value)) if i == left => value,
            _ => self.tape.cell(left),
        };
        let last = match self.tape.in_place() {
            Some(mut cells) => walk.run(&mut cells, &self.ageing, count as usize),
            None => walk.run(&mut self.tape, &self.ageing, count as usize),
        };
        self.last_written = Some((last, walk.previous));
        if walk.faults > 0 {
            self.faults += walk.faults;
            self.saturator.reset();
        }
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn write_cell(
        &mut self,
        index: usize,
        step: i64,
        input: f32,
        engage: f32,
        feedback: f32,
        keep: f32,
        age: f32,
    ) {
        let old = self.aged_cell(index, step, age);
        let value = if self.seam_fold > 0 {
            self.seam_fold -= 1;
            old + engage * self.saturator.process(input)
        } else if engage > 0.0 {
            let wet = self.saturator.process(input + feedback * self.fed_back(index, step, old));
            (1.0 - engage) * keep * old + engage * wet
        } else {
            keep * old
        };
        self.store_cell(index, value);
    }

    /// Cell `index` as the head finds it, aged when `age` > 0 (the head
    /// moving in the direction `step`).
    #[inline(always)]
    fn aged_cell(&mut self, index: usize, step: i64, age: f32) -> f32 {
        let old = self.tape.cell(index);
        if age <= 0.0 {
            return old;
        }
        let behind = self.tape.wrap(index as i64 - 1);
        let ahead = self.tape.wrap(index as i64 + 1);
        // The neighbour the head just left has already been aged this pass: use its old value.
        let previous = match self.last_written {
            Some((i, value)) if i == if step > 0 { behind } else { ahead } => value,
            _ => self.tape.cell(if step > 0 { behind } else { ahead }),
        };
        let next = self.tape.cell(if step > 0 { ahead } else { behind });
        let (before, after) = if step > 0 { (previous, next) } else { (next, previous) };
        self.last_written = Some((index, old));
        self.ageing.apply(old, before, after, index, age)
    }

    /// Write what the head leaves in cell `index`; silence in place of
    /// anything non-finite, and the saturator starts afresh.
    #[inline(always)]
    fn store_cell(&mut self, index: usize, value: f32) {
        if value.is_finite() {
            self.tape.write(index, value);
        } else {
            self.faults += 1;
            self.saturator.reset();
            self.tape.write(index, 0.0);
        }
    }

    /// [`Track::run_record_head`] for a resting track that dubs through the
    /// hysteresis model, stopped at its saturator when the head crosses
    /// exactly one cell this sample (nearly every sample near speed 1):
    /// that cell is handed back, to be finished by [`Track::finish_cell`]
    /// once the saturator has run (beside another track's). Any other move
    /// is done whole here, and gives `None`.
    #[inline]
    pub(super) fn record_until_saturator(
        &mut self,
        step: f64,
        engage: f32,
        feedback: f32,
        keep: f32,
        age: f32,
    ) -> Option<DueCell> {
        debug_assert!(
            self.seam_fold == 0 && !(self.length_unset() && self.mode.writes()),
            "only a resting track's head"
        );
        if engage == 0.0 || !self.saturator.is_hysteresis() {
            self.run_record_head(step, true, engage, feedback, keep, age);
            return None;
        }
        let (from, to) = self.move_record_head(step, false);
        let single = if to > from {
            let cell = fast_floor(to) as i64;
            (fast_floor(from) as i64 + 1 == cell).then_some((cell, 1))
        } else if to < from {
            let cell = fast_ceil(to) as i64;
            (fast_ceil(from) as i64 - 1 == cell).then_some((cell, -1))
        } else {
            return None;
        };
        let Some((c, direction)) = single else {
            self.write_head(from, to, engage, feedback, keep, age, false);
            return None;
        };
        // As `write_head` and `write_cell` do, up to the saturator.
        let input = self.input_crossing(c, from, to - from);
        let index = self.tape.wrap(c);
        let old = self.aged_cell(index, direction, age);
        Some(DueCell { index, old, heard: input + feedback * self.fed_back(index, direction, old) })
    }

    /// Finish a cell [`Track::record_until_saturator`] handed back, with
    /// what the saturator made of it.
    #[inline]
    pub(super) fn finish_cell(&mut self, cell: DueCell, wet: f32, engage: f32, keep: f32) {
        self.store_cell(cell.index, (1.0 - engage) * keep * cell.old + engage * wet);
    }
}

/// A cell the record head has reached and not yet written.
pub(super) struct DueCell {
    index: usize,
    /// Its old value (aged).
    old: f32,
    /// What the saturator is to hear for it: the input and the old signal fed back.
    pub(super) heard: f32,
}

/// A record head ageing a run of cells (see [`Track::age_cells`]).
struct AgeingWalk {
    /// The next cell to age.
    index: usize,
    /// The old value of the cell aged last.
    previous: f32,
    /// The loop's last cell.
    top: usize,
    forward: bool,
    keep: f32,
    age: f32,
    /// Cells that came out non-finite and were silenced.
    faults: u64,
}

impl AgeingWalk {
    /// The neighbour of cell `i` in the direction of travel.
    #[inline(always)]
    fn onward(&self, i: usize) -> usize {
        match (self.forward, i) {
            (true, i) if i == self.top => 0,
            (true, i) => i + 1,
            (false, 0) => self.top,
            (false, i) => i - 1,
        }
    }

    /// The neighbour of cell `i` the head has left behind.
    #[inline(always)]
    fn back(&self, i: usize) -> usize {
        match (self.forward, i) {
            (true, 0) => self.top,
            (true, i) => i - 1,
            (false, i) if i == self.top => 0,
            (false, i) => i + 1,
        }
    }

    /// Age `count` cells from `index` on; returns the last one aged.
    #[inline(always)]
    fn run<C: Cells>(&mut self, cells: &mut C, ageing: &Ageing, count: usize) -> usize {
        let mut last = self.index;
        for _ in 0..count {
            let index = self.index;
            let old = cells.cell(index);
            let ahead = self.onward(index);
            let next = cells.cell(ahead);
            let (before, after) = if self.forward { (self.previous, next) } else { (next, self.previous) };
            let value = self.keep * ageing.apply(old, before, after, index, self.age);
            if value.is_finite() {
                cells.write(index, value);
            } else {
                self.faults += 1;
                cells.write(index, 0.0);
            }
            last = index;
            self.previous = old;
            self.index = ahead;
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::MIN_TRAIL_FRAMES;
    use crate::engine::tape::{ReadKernels, BAND_SPEEDS};

    #[test]
    fn the_record_head_trails_beyond_every_kernels_reach_from_speed_one_up() {
        let kernels = ReadKernels::shared();
        for band in 0..BAND_SPEEDS.len() {
            // The slowest speed (from 1 up) a band is used at, and how far
            // back its kernel reads: taps / 2 - 1 cells before the position's floor.
            let slowest = if band == 0 { 1.0 } else { BAND_SPEEDS[band - 1] * 0.98 };
            let reach = (kernels.taps(band) / 2) as f64;
            let trail = MIN_TRAIL_FRAMES as f64 * slowest;
            assert!(trail > reach, "band {band}: trails {trail:.1} cells, kernel reaches {reach}");
        }
    }
}

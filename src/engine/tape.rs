//! The tape itself: a circular buffer of cells, read by an interpolating play
//! head, plus the undo store that lets passes be taken back, level by level.
//!
//! One cell holds 1/fs seconds of tape at speed 1. All buffers are allocated
//! in [`Tape::new`]; nothing here allocates afterwards.

mod kernel;
mod undo;

use super::filter::{fast_floor, flush_denormal};
pub use kernel::{
    CpuPath, HeldWeights, ReadKernels, Reader, BAND_SPEEDS, MAX_REACH, MAX_TAPS, PASSBAND_FRACTION,
    STOPBAND_DB,
};
use undo::UndoStore;
pub use undo::{Lengths, MAX_UNDO_LEVELS};

/// Most cells one undo or clear may swap per sample. Fast enough that the
/// sweep, started just behind the play head, always outruns it (speed ≤ ~4.5
/// cells per sample), slow enough to keep per-sample work bounded.
pub const SWAP_CELLS_PER_SAMPLE: usize = 512;

/// One track's tape: cells, loop length and the undo store.
#[derive(Clone, Debug)]
pub struct Tape {
    cells: Vec<f32>,
    /// Loop length in cells (≤ capacity).
    len: usize,
    undo: UndoStore,
    /// Every cell is silence (nothing but zeros written since it was made
    /// or wiped): reading it gives silence without running a kernel.
    blank: bool,
}

impl Tape {
    /// Allocate `capacity` cells of blank tape; the loop is `len` cells long.
    /// The undo store holds `undo_cells` saved cells, and never less than the
    /// whole tape, so the latest operation can always be undone.
    pub fn new(capacity: usize, len: usize, undo_cells: usize) -> Self {
        let capacity = capacity.max(1);
        Tape {
            cells: vec![0.0; capacity],
            len: len.clamp(1, capacity),
            undo: UndoStore::new(undo_cells.max(capacity)),
            blank: true,
        }
    }

    pub fn capacity(&self) -> usize {
        self.cells.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.cells[..self.len].iter().all(|&c| c == 0.0)
    }

    /// Change the loop length. Cells beyond the loop keep what they hold:
    /// a loop that grows again plays them. A capture in progress saves what
    /// it changes from now on against the new length.
    pub fn set_len(&mut self, len: usize) {
        self.len = len.clamp(1, self.cells.len());
    }

    /// Overwrite the loop with `samples` (blank past their end; non-finite
    /// values become silence) and forget the undo store.
    pub fn load(&mut self, samples: &[f32]) {
        let n = samples.len().min(self.len);
        for (cell, &x) in self.cells[..n].iter_mut().zip(samples) {
            *cell = if x.is_finite() { x } else { 0.0 };
        }
        self.cells[n..].fill(0.0);
        self.undo.clear();
        self.blank = self.cells.iter().all(|&c| c == 0.0);
    }

    /// Whether every cell is silence.
    #[inline]
    pub fn is_blank(&self) -> bool {
        self.blank
    }

    pub fn cells(&self) -> &[f32] {
        &self.cells[..self.len]
    }

    /// The first `n` cells of tape (at most all of it).
    pub fn cells_to(&self, n: usize) -> &[f32] {
        &self.cells[..n.min(self.cells.len())]
    }

    #[inline]
    pub fn cell(&self, index: usize) -> f32 {
        self.cells[index]
    }

    /// Wrap any integer cell index into the loop. Heads ask for cells at
    /// most one loop away, so that costs a compare, not a division.
    #[inline]
    pub fn wrap(&self, index: i64) -> usize {
        let len = self.len as i64;
        if (0..len).contains(&index) {
            index as usize
        } else if (-len..0).contains(&index) {
            (index + len) as usize
        } else if (len..2 * len).contains(&index) {
            (index - len) as usize
        } else {
            index.rem_euclid(len) as usize
        }
    }

    /// Band-limited read at fractional position `pos` (cells) with the
    /// kernel of speed band `band` (see [`ReadKernels`]).
    #[inline]
    pub fn read_band(&self, reader: &Reader, band: usize, pos: f64) -> f32 {
        let Reader { kernels, path } = *reader;
        let taps = kernels.taps(band);
        if let Some((window, frac)) = self.window(taps, pos) {
            return kernels.read(path, band, window, frac);
        }
        let base = fast_floor(pos);
        let frac = pos - base;
        let first = base as i64 - (taps as i64 / 2 - 1);
        // Near the loop ends the window wraps: gather it first.
        let mut window = [0.0f32; MAX_TAPS];
        let mut index = self.wrap(first);
        for cell in &mut window[..taps] {
            *cell = self.cells[index];
            index += 1;
            if index == self.len {
                index = 0;
            }
        }
        kernels.read(path, band, &window[..taps], frac)
    }

    /// The `taps` cells a kernel read at `pos` covers, and how far past a
    /// cell `pos` is; `None` where the window wraps round the loop's ends.
    #[inline]
    fn window(&self, taps: usize, pos: f64) -> Option<(&[f32], f64)> {
        self.window_start(taps, pos).map(|(first, frac)| (&self.cells[first..][..taps], frac))
    }

    /// Where [`Tape::window`]'s cells start, and the fraction.
    #[inline(always)]
    fn window_start(&self, taps: usize, pos: f64) -> Option<(usize, f64)> {
        let base = fast_floor(pos);
        let first = base as i64 - (taps as i64 / 2 - 1);
        (first >= 0 && first as usize + taps <= self.len).then_some((first as usize, pos - base))
    }

    /// 4-point, 3rd-order Hermite read (the eco interpolator).
    #[inline]
    pub fn read_hermite(&self, pos: f64) -> f32 {
        let base = fast_floor(pos);
        let t = (pos - base) as f32;
        let i = base as i64;
        let xm1 = self.cells[self.wrap(i - 1)];
        let x0 = self.cells[self.wrap(i)];
        let x1 = self.cells[self.wrap(i + 1)];
        let x2 = self.cells[self.wrap(i + 2)];
        hermite(xm1, x0, x1, x2, t)
    }

    /// Start a new undo level: every cell the heads change from now on is
    /// saved first. Whatever could be redone is forgotten. `before` is the
    /// loop length now (`None`: a free track's length is not set yet).
    pub fn begin_capture(&mut self, before: Option<usize>) {
        self.undo.finish_job(&mut self.cells);
        self.undo.begin(before);
    }

    /// Stop saving: the level is complete, and left the loop `after` cells long.
    pub fn end_capture(&mut self, after: Option<usize>) {
        self.undo.end(after);
    }

    pub fn is_capturing(&self) -> bool {
        self.undo.is_capturing()
    }

    /// Forget every undo level.
    pub fn forget_undo(&mut self) {
        self.undo.clear();
    }

    pub fn can_undo(&self) -> bool {
        self.undo.undoable() > 0
    }

    pub fn can_redo(&self) -> bool {
        self.undo.redoable() > 0
    }

    /// Levels that undo, and redo, can take back or re-apply now.
    pub fn undo_levels(&self) -> (usize, usize) {
        (self.undo.undoable(), self.undo.redoable())
    }

    /// Levels forgotten to make room in the undo store.
    pub fn forgotten_levels(&self) -> u64 {
        self.undo.forgotten()
    }

    /// Overwrite one cell with `value`, saving its old value first when an
    /// operation is being captured.
    #[inline(always)]
    pub fn write(&mut self, index: usize, value: f32) {
        self.undo.save(&self.cells, index, self.len);
        let value = flush_denormal(value);
        self.blank &= value == 0.0;
        self.cells[index] = value;
    }

    /// Overwrite a cell without saving it for undo: tape beyond the loop that
    /// an operation fills before its heads get there (and save it then).
    #[inline]
    pub fn write_beyond(&mut self, index: usize, value: f32) {
        self.blank &= value == 0.0;
        self.cells[index] = value;
    }

    /// What cell `index` held before the operation being captured changed it.
    #[inline]
    pub fn original(&self, index: usize) -> f32 {
        self.undo.original(&self.cells, index)
    }

    /// Begin wiping the whole loop (an undo level of its own). The sweep
    /// starts at `start_cell` and runs forward. `lengths`: the loop length
    /// before, and the length the clear leaves.
    pub fn begin_clear(&mut self, start_cell: usize, lengths: Lengths) -> bool {
        self.undo.finish_job(&mut self.cells);
        self.undo.begin_clear(self.len, start_cell, lengths)
    }

    /// Begin undoing (or redoing) one level; the sweep begins at `start_cell`.
    /// Returns the lengths around that level, or `None` when there is none.
    pub fn begin_swap(&mut self, redo: bool, start_cell: usize) -> Option<Lengths> {
        if redo {
            self.undo.begin_redo(start_cell)
        } else {
            self.undo.begin_undo(start_cell)
        }
    }

    pub fn job_active(&self) -> bool {
        self.undo.job_active()
    }

    /// Whether the job is one sweep that, started behind a play head moving
    /// forward, outruns it within a few samples.
    pub fn job_is_one_sweep(&self) -> bool {
        self.undo.job_is_one_sweep()
    }

    /// Advance a pending clear/undo sweep by at most `budget` cells.
    pub fn step_job(&mut self, budget: usize) {
        self.undo.step_job(&mut self.cells, budget);
    }

    /// Wipe everything at once, forgetting undo (used when loading).
    pub fn wipe(&mut self) {
        self.undo.clear();
        self.cells.iter_mut().for_each(|c| *c = 0.0);
        self.blank = true;
    }

    /// Replace any non-finite cell with silence. Bounded: `budget` cells from `start`.
    pub fn scrub_non_finite(&mut self, start: usize, budget: usize) -> usize {
        let len = self.len;
        for i in 0..budget.min(len) {
            let c = (start + i) % len;
            if !self.cells[c].is_finite() {
                self.cells[c] = 0.0;
            }
        }
        (start + budget) % len
    }
}

#[inline]
pub fn hermite(xm1: f32, x0: f32, x1: f32, x2: f32, t: f32) -> f32 {
    let c1 = 0.5 * (x1 - xm1);
    let c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2;
    let c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1);
    ((c3 * t + c2) * t + c1) * t + x0
}

/// Cells a head reads and rewrites: a [`Tape`] (saving each for undo while
/// an operation is captured) or its loop rewritten in place ([`InPlace`]).
pub trait Cells {
    fn cell(&self, index: usize) -> f32;
    fn write(&mut self, index: usize, value: f32);
}

impl Cells for Tape {
    #[inline(always)]
    fn cell(&self, index: usize) -> f32 {
        Tape::cell(self, index)
    }

    #[inline(always)]
    fn write(&mut self, index: usize, value: f32) {
        Tape::write(self, index, value);
    }
}

/// A tape's loop rewritten in place while nothing is captured for undo (see
/// [`Tape::in_place`]): a write is [`Tape::write`]'s without the undo check.
pub struct InPlace<'a> {
    cells: &'a mut [f32],
    blank: &'a mut bool,
}

impl Cells for InPlace<'_> {
    #[inline(always)]
    fn cell(&self, index: usize) -> f32 {
        self.cells[index]
    }

    #[inline(always)]
    fn write(&mut self, index: usize, value: f32) {
        let value = flush_denormal(value);
        *self.blank &= value == 0.0;
        self.cells[index] = value;
    }
}

impl Tape {
    /// The loop's cells to rewrite in place, or `None` while an operation
    /// is captured for undo (each write must then save the cell first).
    #[inline]
    pub fn in_place(&mut self) -> Option<InPlace<'_>> {
        if self.undo.is_capturing() {
            return None;
        }
        Some(InPlace { cells: &mut self.cells[..self.len], blank: &mut self.blank })
    }
}

/// Band-limited reads of two tapes at once, `(tape, band, position)` each:
/// the values two [`Tape::read_band`]s give, with the two dot products side
/// by side where neither window wraps (see [`ReadKernels::read_pair`]).
#[inline]
pub fn read_band_pair(reader: &Reader, a: (&Tape, usize, f64), b: (&Tape, usize, f64)) -> (f32, f32) {
    let taps = |band| reader.kernels.taps(band);
    match (a.0.window(taps(a.1), a.2), b.0.window(taps(b.1), b.2)) {
        (Some((a_window, a_frac)), Some((b_window, b_frac))) => {
            reader.kernels.read_pair(reader.path, (a.1, a_window, a_frac), (b.1, b_window, b_frac))
        }
        _ => (a.0.read_band(reader, a.1, a.2), b.0.read_band(reader, b.1, b.2)),
    }
}

impl Tape {
    /// [`Tape::read_band`], with the weights held in `held` wherever the
    /// read keeps the band and phase of the last (see [`HeldWeights`]).
    #[inline]
    pub fn read_band_holding(&self, reader: &Reader, band: usize, pos: f64, held: &mut HeldWeights) -> f32 {
        let Reader { kernels, path } = *reader;
        match self.window(kernels.taps(band), pos) {
            Some((window, frac)) if held.hold(kernels, band, frac) => kernels.read_held(path, held, window),
            _ => self.read_band(reader, band, pos),
        }
    }

    /// [`Tape::read_band_holding`] at each of `positions` in turn, into
    /// `out`: the same values, the reads whose weights are held already
    /// made four at a time (see [`ReadKernels::read_held_four`]). Reads
    /// that would change the held weights are made in their turn, after
    /// every read before them.
    pub fn read_band_holding_run(
        &self,
        reader: &Reader,
        band: usize,
        positions: &[f64],
        held: &mut HeldWeights,
        out: &mut [f32],
    ) {
        let Reader { kernels, path } = *reader;
        let taps = kernels.taps(band);
        let window = |first: usize| &self.cells[first..first + taps];
        // Reads waiting to be made four at a time: (index into `out`, first cell).
        let mut waiting = [(0, 0); 4];
        let mut count = 0;
        for (i, &pos) in positions.iter().enumerate() {
            match self.window_start(taps, pos) {
                Some((first, frac)) if held.holds(band, frac) => {
                    waiting[count] = (i, first);
                    count += 1;
                    if count == waiting.len() {
                        let reads =
                            kernels.read_held_four(path, held, waiting.map(|(_, first)| window(first)));
                        for (&(at, _), read) in waiting.iter().zip(reads) {
                            out[at] = read;
                        }
                        count = 0;
                    }
                }
                _ => {
                    for &(at, first) in &waiting[..count] {
                        out[at] = kernels.read_held(path, held, window(first));
                    }
                    count = 0;
                    out[i] = self.read_band_holding(reader, band, pos, held);
                }
            }
        }
        for &(at, first) in &waiting[..count] {
            out[at] = kernels.read_held(path, held, window(first));
        }
    }
}

/// [`read_band_pair`], each read with its held weights where they hold
/// (see [`Tape::read_band_holding`]).
#[inline]
pub fn read_band_pair_holding(
    reader: &Reader,
    a: (&Tape, usize, f64, &mut HeldWeights),
    b: (&Tape, usize, f64, &mut HeldWeights),
) -> (f32, f32) {
    let Reader { kernels, path } = *reader;
    let (Some((a_window, a_frac)), Some((b_window, b_frac))) =
        (a.0.window(kernels.taps(a.1), a.2), b.0.window(kernels.taps(b.1), b.2))
    else {
        return (a.0.read_band_holding(reader, a.1, a.2, a.3), b.0.read_band_holding(reader, b.1, b.2, b.3));
    };
    match (a.3.hold(kernels, a.1, a_frac), b.3.hold(kernels, b.1, b_frac)) {
        (true, true) => kernels.read_held_pair(path, (a.3, a_window), (b.3, b_window)),
        (true, false) => (kernels.read_held(path, a.3, a_window), kernels.read(path, b.1, b_window, b_frac)),
        (false, true) => (kernels.read(path, a.1, a_window, a_frac), kernels.read_held(path, b.3, b_window)),
        (false, false) => kernels.read_pair(path, (a.1, a_window, a_frac), (b.1, b_window, b_frac)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_agrees_with_the_euclidean_remainder_near_and_far() {
        for len in [1usize, 2, 7, 64] {
            let tape = Tape::new(64, len, 0);
            let len = len as i64;
            for index in (-3 * len - 2)..(3 * len + 2) {
                assert_eq!(tape.wrap(index), index.rem_euclid(len) as usize, "len {len} index {index}");
            }
        }
    }

    #[test]
    fn hermite_reads_integer_positions_exactly() {
        let mut tape = Tape::new(64, 64, 0);
        for i in 0..64 {
            tape.write(i, (i as f32 * 0.37).sin());
        }
        for i in 0..64 {
            assert_eq!(tape.read_hermite(i as f64), tape.cell(i));
        }
    }

    #[test]
    fn band_reads_a_band_limited_sine_between_cells_and_across_the_loop_end() {
        let reader = Reader { kernels: ReadKernels::shared(), path: CpuPath::Portable };
        let mut tape = Tape::new(4800, 4800, 0);
        // 1 kHz at 48 kHz: a whole number of cycles in the loop.
        let w = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
        for i in 0..4800 {
            tape.write(i, (w * i as f64).sin() as f32);
        }
        for band in 0..BAND_SPEEDS.len() {
            for k in 0..700 {
                let pos = k as f64 * 7.31;
                let err = (tape.read_band(&reader, band, pos) - (w * pos).sin() as f32).abs();
                assert!(err < 1e-4, "band {band}: error {err} at {pos}");
            }
        }
    }

    #[test]
    fn undo_restores_and_redo_reapplies_exactly() {
        let mut tape = Tape::new(100, 100, 0);
        for i in 0..100 {
            tape.write(i, i as f32);
        }
        let before: Vec<f32> = tape.cells().to_vec();
        tape.begin_capture(Some(100));
        for i in 90..100 {
            tape.write(i, -1.0);
        }
        for i in 0..20 {
            tape.write(i, -2.0);
        }
        tape.end_capture(Some(100));
        let after: Vec<f32> = tape.cells().to_vec();
        assert!(tape.begin_swap(false, 95).is_some());
        tape.step_job(7);
        tape.step_job(usize::MAX / 2);
        assert_eq!(tape.cells(), &before[..]);
        assert!(tape.begin_swap(false, 0).is_none(), "nothing left to undo");
        assert!(tape.begin_swap(true, 0).is_some());
        tape.step_job(usize::MAX / 2);
        assert_eq!(tape.cells(), &after[..]);
    }

    #[test]
    fn clear_is_undoable() {
        let mut tape = Tape::new(50, 50, 0);
        for i in 0..50 {
            tape.write(i, 1.0 + i as f32);
        }
        let before: Vec<f32> = tape.cells().to_vec();
        assert!(tape.begin_clear(10, Lengths { before: Some(50), after: Some(50) }));
        tape.step_job(usize::MAX / 2);
        assert!(tape.is_empty());
        assert!(tape.begin_swap(false, 0).is_some());
        tape.step_job(usize::MAX / 2);
        assert_eq!(tape.cells(), &before[..]);
    }
}

//! The tape itself: a circular buffer of cells, read by an interpolating play
//! head, plus the undo store that lets the last pass be taken back.
//!
//! One cell holds 1/fs seconds of tape at speed 1. All buffers are allocated
//! in [`Tape::new`]; nothing here allocates afterwards.

use super::filter::{fast_ceil, fast_floor, flush_denormal};

/// Half-width of the read kernel at speed ≤ 1, in cells (8 taps).
pub const SINC_HALF_WIDTH: usize = 4;
/// Table resolution: kernel values per cell of offset.
const SINC_PHASES: usize = 1024;
/// Kaiser window shape; 7.0 keeps side lobes near -70 dB for 8 taps.
const KAISER_BETA: f64 = 7.0;

/// A windowed-sinc kernel tabulated once, shared by every track.
#[derive(Clone, Debug)]
pub struct SincTable {
    /// Kernel values for offsets 0, 1/PHASES, …, HALF_WIDTH (inclusive), plus a guard.
    values: Vec<f32>,
}

impl Default for SincTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SincTable {
    pub fn new() -> Self {
        let n = SINC_HALF_WIDTH * SINC_PHASES;
        let mut values = Vec::with_capacity(n + 2);
        let i0_beta = bessel_i0(KAISER_BETA);
        for i in 0..=n {
            let x = i as f64 / SINC_PHASES as f64;
            // Exact zeros at whole-cell offsets keep integer-position reads exact.
            let v = if i == 0 {
                1.0
            } else if i % SINC_PHASES == 0 {
                0.0
            } else {
                let t = x / SINC_HALF_WIDTH as f64;
                let window = bessel_i0(KAISER_BETA * (1.0 - t * t).max(0.0).sqrt()) / i0_beta;
                let px = std::f64::consts::PI * x;
                px.sin() / px * window
            };
            values.push(v as f32);
        }
        values.push(0.0);
        SincTable { values }
    }

    /// Kernel value at offset `x` cells (|x| ≤ half width).
    #[inline]
    fn at(&self, x: f64) -> f32 {
        let scaled = x.abs() * SINC_PHASES as f64;
        let index = scaled as usize;
        if index >= SINC_HALF_WIDTH * SINC_PHASES {
            return 0.0;
        }
        let frac = (scaled - index as f64) as f32;
        let a = self.values[index];
        let b = self.values[index + 1];
        a + (b - a) * frac
    }
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Most cells one undo or clear may swap per sample. Fast enough that the
/// sweep, started just behind the play head, always outruns it (speed ≤ ~4.5
/// cells per sample), slow enough to keep per-sample work bounded.
pub const SWAP_CELLS_PER_SAMPLE: usize = 512;

/// Most cells one write may add to the undo arc: far more than any
/// continuous head movement in one sample (at most 4 cells of speed plus
/// the write offset's change), far less than a loop.
const MAX_ARC_GROWTH: usize = 256;

/// The region of tape the current operation has touched, saved for undo.
#[derive(Clone, Copy, Debug, Default)]
struct UndoArc {
    /// First saved cell.
    lo: usize,
    /// Number of saved cells, counted forward from `lo` modulo `modulus`.
    count: usize,
    /// Loop length the arc was recorded against.
    modulus: usize,
}

/// A sweep in progress that exchanges tape and backup cells.
#[derive(Clone, Copy, Debug, Default)]
struct SwapJob {
    /// Cells of the arc still to visit, as (arc offset, remaining) in two runs.
    runs: [(usize, usize); 2],
    /// Whether cells are zeroed after saving (clear) instead of exchanged.
    zero: bool,
}

/// One track's tape: cells, loop length and the undo store.
#[derive(Clone, Debug)]
pub struct Tape {
    cells: Vec<f32>,
    backup: Vec<f32>,
    /// Loop length in cells (≤ capacity).
    len: usize,
    /// The saved region; `None` when nothing can be undone or redone.
    arc: Option<UndoArc>,
    /// Whether writes are currently being saved into the backup.
    capturing: bool,
    /// Whether the tape currently holds the state before the last operation
    /// (so the next swap is a redo).
    undone: bool,
    job: Option<SwapJob>,
}

impl Tape {
    /// Allocate `capacity` cells of blank tape; the loop is `len` cells long.
    pub fn new(capacity: usize, len: usize) -> Self {
        let capacity = capacity.max(1);
        Tape {
            cells: vec![0.0; capacity],
            backup: vec![0.0; capacity],
            len: len.clamp(1, capacity),
            arc: None,
            capturing: false,
            undone: false,
            job: None,
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

    /// Change the loop length. Ends any undo capture: the saved region was
    /// recorded against the old length.
    pub fn set_len(&mut self, len: usize) {
        let len = len.clamp(1, self.cells.len());
        if len == self.len {
            return;
        }
        self.len = len;
        if let Some(arc) = self.arc.as_mut() {
            // An arc that does not wrap keeps meaning under the new length
            // (the first take on a free track is saved before its length is known).
            if arc.count >= arc.modulus {
                arc.lo = 0;
                arc.count = arc.modulus;
            }
            if arc.lo + arc.count <= len {
                arc.modulus = len;
            } else {
                self.forget_undo();
            }
        }
    }

    /// Overwrite the loop with `samples` (blank past their end; non-finite
    /// values become silence) and forget the undo store.
    pub fn load(&mut self, samples: &[f32]) {
        let n = samples.len().min(self.len);
        for (cell, &x) in self.cells[..n].iter_mut().zip(samples) {
            *cell = if x.is_finite() { x } else { 0.0 };
        }
        self.cells[n..].fill(0.0);
        self.job = None;
        self.forget_undo();
    }

    pub fn cells(&self) -> &[f32] {
        &self.cells[..self.len]
    }

    #[inline]
    pub fn cell(&self, index: usize) -> f32 {
        self.cells[index]
    }

    /// Wrap any integer cell index into the loop.
    #[inline]
    pub fn wrap(&self, index: i64) -> usize {
        index.rem_euclid(self.len as i64) as usize
    }

    /// Windowed-sinc read at fractional position `pos` (cells). `scale` ≥ 1
    /// widens the kernel (and lowers its cutoff) so fast playback does not alias.
    #[inline]
    pub fn read_sinc(&self, table: &SincTable, pos: f64, scale: f64) -> f32 {
        if scale <= 1.0 {
            return self.read_sinc_unscaled(table, pos);
        }
        let reach = SINC_HALF_WIDTH as f64 * scale;
        let first = fast_ceil(pos - reach) as i64;
        let last = fast_floor(pos + reach) as i64;
        let inv_scale = 1.0 / scale;
        let mut acc = 0.0f32;
        let mut weight_sum = 0.0f32;
        let len = self.len as i64;
        let mut index = first.rem_euclid(len) as usize;
        for k in first..=last {
            let w = table.at((k as f64 - pos) * inv_scale);
            acc += w * self.cells[index];
            weight_sum += w;
            index += 1;
            if index == self.len {
                index = 0;
            }
        }
        // Normalising makes DC gain exactly 1 at every phase and scale.
        if weight_sum > 0.0 {
            acc / weight_sum
        } else {
            0.0
        }
    }

    /// The common case (speed ≤ 1): exactly 8 taps, the two table phases
    /// computed once, no per-tap wrapping away from the loop ends.
    #[inline]
    fn read_sinc_unscaled(&self, table: &SincTable, pos: f64) -> f32 {
        let base = fast_floor(pos);
        let phase = (pos - base) * SINC_PHASES as f64;
        let whole = phase as usize;
        let t = (phase - whole as f64) as f32;
        let first = base as i64 - (SINC_HALF_WIDTH as i64 - 1);
        const TAPS: usize = 2 * SINC_HALF_WIDTH;
        let mut taps = [0.0f32; TAPS];
        if first >= 0 && first as usize + TAPS <= self.len {
            taps.copy_from_slice(&self.cells[first as usize..first as usize + TAPS]);
        } else {
            for (j, tap) in taps.iter_mut().enumerate() {
                *tap = self.cells[self.wrap(first + j as i64)];
            }
        }
        let v = &table.values;
        let mut acc = 0.0f32;
        let mut weight_sum = 0.0f32;
        for (j, &cell) in taps.iter().enumerate() {
            // Offset of tap j from the read position, in table steps.
            let w = if j < SINC_HALF_WIDTH {
                let i = (SINC_HALF_WIDTH - 1 - j) * SINC_PHASES + whole;
                v[i] + (v[i + 1] - v[i]) * t
            } else {
                let steps = (j + 1 - SINC_HALF_WIDTH) * SINC_PHASES;
                let i = steps - whole;
                // |x| = steps - phase: between table points i-1 and i.
                if t == 0.0 {
                    v[i]
                } else {
                    v[i - 1] + (v[i] - v[i - 1]) * (1.0 - t)
                }
            };
            acc += w * cell;
            weight_sum += w;
        }
        acc / weight_sum
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

    /// Start saving every cell the heads change, for a later undo. Whatever
    /// was saved before is forgotten (and with it any redo).
    pub fn begin_capture(&mut self) {
        self.finish_job();
        self.arc = None;
        self.capturing = true;
        self.undone = false;
    }

    /// Stop saving; what was saved stays available for undo.
    pub fn end_capture(&mut self) {
        self.capturing = false;
    }

    pub fn is_capturing(&self) -> bool {
        self.capturing
    }

    /// Forget the undo store.
    pub fn forget_undo(&mut self) {
        self.arc = None;
        self.capturing = false;
        self.undone = false;
    }

    pub fn can_undo(&self) -> bool {
        self.arc.is_some() && !self.undone && self.job.is_none()
    }

    pub fn can_redo(&self) -> bool {
        self.arc.is_some() && self.undone && self.job.is_none()
    }

    /// Overwrite one cell with `value`, saving its old value first when an
    /// operation is being captured.
    #[inline]
    pub fn write(&mut self, index: usize, value: f32) {
        if self.capturing {
            self.save(index);
        }
        self.cells[index] = flush_denormal(value);
    }

    /// Make sure cell `index` is inside the saved arc, saving the cells
    /// between the arc's nearer end and `index`.
    fn save(&mut self, index: usize) {
        let len = self.len;
        let Some(mut arc) = self.arc else {
            self.backup[index] = self.cells[index];
            self.arc = Some(UndoArc { lo: index, count: 1, modulus: len });
            return;
        };
        if arc.modulus != len || arc.count >= len {
            return;
        }
        let offset = (index + len - arc.lo) % len;
        if offset < arc.count {
            return;
        }
        // Grow forward from the arc's end or backward from its start,
        // whichever is nearer: the record head follows the play head's path
        // without jumps, so this is a few cells a sample (its speed, plus a
        // write offset that changes with the direction or the saturation).
        let forward = offset + 1 - arc.count;
        let backward = len - offset;
        debug_assert!(
            forward.min(backward) <= MAX_ARC_GROWTH,
            "the record head jumped {} cells: saving them would be unbounded work",
            forward.min(backward)
        );
        if forward <= backward {
            for step in 0..forward {
                let c = (arc.lo + arc.count + step) % len;
                self.backup[c] = self.cells[c];
            }
            arc.count += forward;
        } else {
            for step in 0..backward {
                let c = (index + step) % len;
                self.backup[c] = self.cells[c];
            }
            arc.lo = index;
            arc.count += backward;
        }
        arc.count = arc.count.min(len);
        self.arc = Some(arc);
    }

    /// Begin wiping the whole loop (saved, so it can be undone). The sweep
    /// starts at `start_cell` and runs forward.
    pub fn begin_clear(&mut self, start_cell: usize) {
        self.finish_job();
        let len = self.len;
        self.arc = Some(UndoArc { lo: 0, count: len, modulus: len });
        self.capturing = false;
        self.undone = false;
        self.job = Some(SwapJob { runs: split_runs(start_cell % len, len), zero: true });
    }

    /// Begin an undo (or a redo: the same exchange run again). Returns false
    /// when there is nothing to exchange. `start_cell` is where the sweep begins.
    pub fn begin_swap(&mut self, redo: bool, start_cell: usize) -> bool {
        if self.job.is_some() || self.undone != redo {
            return false;
        }
        let Some(arc) = self.arc else { return false };
        if arc.modulus != self.len {
            return false;
        }
        self.capturing = false;
        self.undone = !redo;
        let offset = (start_cell + arc.modulus - arc.lo) % arc.modulus;
        let start = if offset < arc.count { offset } else { 0 };
        self.job = Some(SwapJob { runs: split_runs(start, arc.count), zero: false });
        true
    }

    pub fn job_active(&self) -> bool {
        self.job.is_some()
    }

    /// Advance a pending clear/undo sweep by at most `budget` cells.
    pub fn step_job(&mut self, budget: usize) {
        let (Some(mut job), Some(arc)) = (self.job, self.arc) else { return };
        let mut budget = budget;
        for run in job.runs.iter_mut() {
            let n = run.1.min(budget);
            for i in 0..n {
                let c = (arc.lo + run.0 + i) % arc.modulus;
                if job.zero {
                    self.backup[c] = self.cells[c];
                    self.cells[c] = 0.0;
                } else {
                    std::mem::swap(&mut self.cells[c], &mut self.backup[c]);
                }
            }
            run.0 += n;
            run.1 -= n;
            budget -= n;
            if budget == 0 {
                break;
            }
        }
        self.job = if job.runs.iter().all(|r| r.1 == 0) { None } else { Some(job) };
    }

    fn finish_job(&mut self) {
        while self.job.is_some() {
            self.step_job(usize::MAX);
        }
    }

    /// Wipe everything at once, forgetting undo (used when loading).
    pub fn wipe(&mut self) {
        self.job = None;
        self.forget_undo();
        self.cells.iter_mut().for_each(|c| *c = 0.0);
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

/// Split a sweep of `count` cells starting at `start` into the part from
/// `start` to the end and the part from 0 back up to `start`.
fn split_runs(start: usize, count: usize) -> [(usize, usize); 2] {
    [(start, count - start), (0, start)]
}

#[inline]
pub fn hermite(xm1: f32, x0: f32, x1: f32, x2: f32, t: f32) -> f32 {
    let c1 = 0.5 * (x1 - xm1);
    let c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2;
    let c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1);
    ((c3 * t + c2) * t + c1) * t + x0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_positions_read_cells_exactly() {
        let table = SincTable::new();
        let mut tape = Tape::new(64, 64);
        for i in 0..64 {
            tape.write(i, (i as f32 * 0.37).sin());
        }
        for i in 0..64 {
            assert_eq!(tape.read_sinc(&table, i as f64, 1.0), tape.cell(i));
            assert_eq!(tape.read_hermite(i as f64), tape.cell(i));
        }
    }

    #[test]
    fn sinc_reads_a_band_limited_sine_between_cells() {
        let table = SincTable::new();
        let mut tape = Tape::new(4800, 4800);
        let w = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
        for i in 0..4800 {
            tape.write(i, (w * i as f64).sin() as f32);
        }
        for k in 0..100 {
            let pos = 100.0 + k as f64 * 7.31;
            let err = (tape.read_sinc(&table, pos, 1.0) - (w * pos).sin() as f32).abs();
            assert!(err < 2e-3, "error {err} at {pos}");
        }
    }

    #[test]
    fn the_eight_tap_path_matches_the_general_kernel() {
        let table = SincTable::new();
        let mut tape = Tape::new(1000, 1000);
        for i in 0..1000 {
            tape.write(i, ((i * 7919) % 1000) as f32 / 500.0 - 1.0);
        }
        for k in 0..5000 {
            let pos = k as f64 * 0.1999;
            let fast = tape.read_sinc(&table, pos, 1.0);
            let general = tape.read_sinc(&table, pos, 1.0 + 1e-12);
            assert!((fast - general).abs() < 1e-4, "at {pos}: {fast} vs {general}");
        }
    }

    #[test]
    fn undo_restores_and_redo_reapplies_exactly() {
        let mut tape = Tape::new(100, 100);
        for i in 0..100 {
            tape.write(i, i as f32);
        }
        let before: Vec<f32> = tape.cells().to_vec();
        tape.begin_capture();
        for i in 90..100 {
            tape.write(i, -1.0);
        }
        for i in 0..20 {
            tape.write(i, -2.0);
        }
        tape.end_capture();
        let after: Vec<f32> = tape.cells().to_vec();
        assert!(tape.begin_swap(false, 95));
        tape.step_job(7);
        tape.step_job(usize::MAX);
        assert_eq!(tape.cells(), &before[..]);
        assert!(!tape.begin_swap(false, 0), "nothing left to undo");
        assert!(tape.begin_swap(true, 0));
        tape.step_job(usize::MAX);
        assert_eq!(tape.cells(), &after[..]);
    }

    #[test]
    fn clear_is_undoable() {
        let mut tape = Tape::new(50, 50);
        for i in 0..50 {
            tape.write(i, 1.0 + i as f32);
        }
        let before: Vec<f32> = tape.cells().to_vec();
        tape.begin_clear(10);
        tape.step_job(usize::MAX);
        assert!(tape.is_empty());
        assert!(tape.begin_swap(false, 0));
        tape.step_job(usize::MAX);
        assert_eq!(tape.cells(), &before[..]);
    }
}
